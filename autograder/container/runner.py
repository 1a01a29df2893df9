"""Grade one submission in a container of its own: ``autograder grade --runner container``.

The host prepares a folder per submission, starts one container from the grader's image
and waits for it; the grader inside is this same package (:mod:`autograder.container.inside`).

What the container gets:

- ``/grading`` (mode 0700 in the image): the assignment's folder and solution key, and
  the settings as ``assignment.toml``, all read-only; ``/input/<name>``: the submission,
  read-only; ``/results``: an empty host folder, the only writable mount, for
  ``results.json``; ``/tmp``: a sized tmpfs (the grader's workspace and the sandbox's scratch).
- no network, a read-only root, memory (swap included) and process limits from the
  assignment's ``[sandbox]`` settings plus the grader's own share, ``no-new-privileges``,
  and every capability dropped except the six the grader needs to keep student code
  under other uids than its own: SETUID and SETGID (to drop each sandbox to a fresh uid),
  CHOWN (to give that uid its working copy of the submission), KILL (to kill the
  processes of that uid), DAC_OVERRIDE and FOWNER (to delete that copy afterwards,
  whatever modes the student's code set on it: without them a ``chmod 000`` or a sticky
  bit makes the cleanup fail, and with it the grading). Inside, the grader runs as root
  of the container, student code as a fresh unprivileged uid per sandbox ("rlimits"
  isolation plus the uid: the sandbox cannot build its own namespaces there, see README,
  Containers); the container supplies the network, PID and mount isolation around both.

The whole-submission time limit is enforced from here: past it (plus the container's
start-up margin) the container is killed, then removed. The host reads back the results
file only (:mod:`autograder.container.readback`) and writes its own; when the container
is killed or leaves nothing valid, the results say score 0 and why.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from autograder import clock, tempdirs
from autograder.build.generated import assignment_toml, toml_string
from autograder.config import AssignmentConfig, CourseConfig
from autograder.container import engine, readback
from autograder.errors import GraderError
from autograder.grade.results import Results, failure_results, graded_or_failed

CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL")
GRADER_MEMORY_MB = 1536  # the grader, pytest, the solution key and the sandbox server, each with torch loaded
GRADER_PROCESSES = 64  # the grader's and the sandbox server's own processes and threads
START_MARGIN_S = 60.0  # the container's start and torch's import, on top of the assignment's time limit
LOG_TAIL = 4000  # characters of the grader's own output kept when it fails
POLL_S = 0.1  # how often the host looks at a running container


def grade_in_container(course: CourseConfig, assignment: AssignmentConfig, submission: Path, *,
                       out: Path | None = Path("results.json"), device: str = "cpu", public_only: bool = False,
                       tests: Sequence[str] = (), image: str | None = None, engine_url: str | None = None) -> Results:
    """Grade ``submission`` in a fresh container; always writes ``out`` (when given).

    Safe to call from several threads or processes at once: each call has its own folder,
    container and (with ``device="cuda"``) GPU. Raises :class:`GraderError` after writing
    the results when the grader itself failed, like the local runner.
    """
    start = clock.monotonic()
    tempdirs.remove_stale()  # what a grader killed with SIGKILL left behind
    return graded_or_failed(
        assignment.id,
        lambda: _grade(course, assignment, Path(submission), device=device, public_only=public_only, tests=tests,
                       image=engine.image_name(device, image), engine_url=engine_url),
        out=out, start=start, now=clock.monotonic)


def _grade(course: CourseConfig, assignment: AssignmentConfig, submission: Path, *, device: str,
           public_only: bool, tests: Sequence[str], image: str, engine_url: str | None) -> Results:
    solution = course.root / "solutions" / assignment.id
    if not solution.is_dir():
        raise GraderError(f"no solution key at {solution}: run `autograder build {assignment.id}` first")
    client = engine.connect(engine_url)
    with ExitStack() as stack:
        stack.callback(client.close)
        folder = stack.enter_context(tempdirs.private("container"))
        gpu = stack.enter_context(engine.gpu_slot()) if device == "cuda" else None
        spec = container_spec(assignment, submission, folder, solution=None if public_only else solution,
                              device=device, tests=tests, gpu=None if gpu is None else engine.gpu_request(client, gpu))
        started = clock.monotonic()
        outcome = run_container(client, image, spec, limit_s=assignment.time_limit + START_MARGIN_S)
        elapsed = clock.monotonic() - started
        return _results(assignment, folder / "results" / "results.json", outcome, spec, elapsed)


def container_spec(assignment: AssignmentConfig, submission: Path, folder: Path, *, solution: Path | None,
                   device: str, tests: Sequence[str], gpu: Any = None) -> dict[str, Any]:
    """The keyword arguments of ``containers.create`` (less image and name) for one submission.

    ``gpu``: the engine's device request for the one GPU this submission holds (cuda only).
    """
    from docker.types import Mount

    (folder / "results").mkdir(mode=0o700)
    config = folder / "assignment.toml"
    config.write_text(inside_toml(assignment), encoding="utf-8")
    mounts = [Mount("/results", str(folder / "results"), type="bind"),
              Mount("/grading/assignment.toml", str(config), type="bind", read_only=True),
              Mount("/grading/assignment", str(assignment.source), type="bind", read_only=True)]
    command = ["python", "-m", "autograder.container.inside", "--config", "/grading/assignment.toml",
               "--assignment", assignment.id, "--out", "/results/results.json", "--device", device]
    if solution is not None:
        mounts.append(Mount("/grading/solution", str(solution.resolve()), type="bind", read_only=True))
        command += ["--solution", "/grading/solution"]
    else:
        command.append("--public-only")
    # A missing submission is not mounted: the grader inside says so, as the local runner does.
    name = submission.name if submission.name not in ("", ".", "..") else "submission"
    if submission.exists():
        mounts.append(Mount(f"/input/{name}", str(submission.resolve()), type="bind", read_only=True))
    command += ["--submission", f"/input/{name}"]
    if tests:
        command += ["--tests", *tests]
    box = assignment.sandbox
    memory_mb = box.memory_mb + GRADER_MEMORY_MB
    scratch_mb = 4 * box.file_size_mb + 256  # the staged submission, its sandbox copy, the student's files
    spec: dict[str, Any] = {
        "command": command, "mounts": mounts, "user": "0:0", "working_dir": "/tmp",
        "network_mode": "none", "read_only": True, "cap_drop": ["ALL"], "cap_add": list(CAPABILITIES),
        "security_opt": ["no-new-privileges"], "mem_limit": f"{memory_mb}m", "memswap_limit": f"{memory_mb}m",
        "pids_limit": box.processes + GRADER_PROCESSES + 4 * (os.cpu_count() or 1),
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={scratch_mb}m,mode=1777"},
        "environment": {"HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"},
        "labels": {"autograder.assignment": assignment.id},
    }
    if gpu is not None:
        spec["device_requests"] = [gpu]
    return spec


def inside_toml(assignment: AssignmentConfig) -> str:
    """The assignment's settings as the grader inside reads them: its folder at /grading/assignment.

    Isolation is ``auto`` inside: the container is the boundary, and within it the sandbox
    takes what the container allows (rlimits and a fresh uid per sandbox, see the module doc).
    """
    inside = replace(assignment, sandbox=replace(assignment.sandbox, isolation="auto"))
    text = assignment_toml(course_name="container", assignment=inside)
    return text.replace('source = "."', f"source = {toml_string('/grading/assignment')}", 1)


class Outcome:
    """How a container ended: its exit code, or that it was killed at the time limit; its log tail."""

    def __init__(self, exit_code: int | None, timed_out: bool, oom_killed: bool, log: str):
        self.exit_code, self.timed_out, self.oom_killed, self.log = exit_code, timed_out, oom_killed, log


def run_container(client: Any, image: str, spec: dict[str, Any], *, limit_s: float) -> Outcome:
    """Create, start and wait for one container; kill it at ``limit_s``; always remove it."""
    import docker.errors
    import requests.exceptions

    name = f"autograder-{uuid.uuid4().hex[:12]}"
    try:
        container = client.containers.create(image, name=name, detach=True, **spec)
    except docker.errors.ImageNotFound:
        raise GraderError(f"no image {image}: build it (scripts/podman-setup.sh, or see README, Containers)") from None
    except docker.errors.APIError as exc:
        raise GraderError(f"the engine refused the grading container: {exc.explanation or exc}") from None
    try:
        container.start()
        state = wait_for_exit(client, container.id, limit_s=limit_s)
        timed_out = state is None
        if timed_out:
            _quietly(container.kill)
            state = {}
        try:
            log = container.logs(stdout=True, stderr=True, tail=200).decode("utf-8", "replace")[-LOG_TAIL:]
        except (docker.errors.APIError, requests.exceptions.RequestException):
            log = ""
    finally:
        _quietly(lambda: container.remove(force=True))
    exit_code = state.get("ExitCode")
    return Outcome(None if exit_code is None else int(exit_code), timed_out, bool(state.get("OOMKilled")), log)


def wait_for_exit(client: Any, container_id: str, *, limit_s: float) -> dict[str, Any] | None:
    """The container's final state, or None when it still runs after ``limit_s`` seconds.

    Polls (every POLL_S) rather than calling the API's wait: Podman 4.3's Docker-compatible
    wait spins a whole core until the container exits, which on a small machine takes
    that core from the grading itself (measured: 100 % of a core; polling: about 3 %).
    """
    import docker.errors
    import requests.exceptions

    deadline = clock.monotonic() + limit_s
    while True:
        try:
            state = client.api.inspect_container(container_id)["State"]
        except docker.errors.NotFound:
            return {"Status": "removed"}  # by someone else: it is not running any more
        except (docker.errors.APIError, requests.exceptions.RequestException):
            state = {}  # a hiccup of the engine: look again
        if state.get("Status") in ("exited", "stopped", "dead"):
            return state
        if clock.monotonic() >= deadline:
            return None
        time.sleep(POLL_S)


def _quietly(action) -> None:
    import docker.errors
    import requests.exceptions

    try:
        action()
    except (docker.errors.APIError, requests.exceptions.RequestException):
        pass


def _results(assignment: AssignmentConfig, path: Path, outcome: Outcome, spec: dict[str, Any],
             elapsed: float) -> Results:
    limits = (f"no network, read-only root, memory {spec['mem_limit'].removesuffix('m')} MB, "
              f"{spec['pids_limit']} processes")
    if outcome.timed_out:
        limit = assignment.time_limit
        return failure_results(assignment.id, f"Grading timed out: the submission's time limit of {limit:g} s "
                               f"was used up and its container was stopped.", execution_time=elapsed,
                               status="timed out")
    try:
        results = readback.load_results(path, assignment=assignment.id)
    except readback.BadResults as exc:
        why = f"exited with code {outcome.exit_code}"
        if outcome.oom_killed:
            why = f"was killed at its memory limit of {spec['mem_limit'].removesuffix('m')} MB"
        reason = f"The grading container {why} and {exc}."
        raise GraderError(reason + (f"\n\nIts last output:\n{outcome.log}" if outcome.log else "")) from None
    lines = [_container_line(line, limits) for line in results.output.split("\n\n")]
    extra = {**results.extra, "runner": "container", "isolation": f"container+{results.extra.get('isolation')}"}
    return replace(results, output="\n\n".join(lines), extra=extra)


def _container_line(paragraph: str, limits: str) -> str:
    """The inside grader's isolation note, restated for a container (its view is the container's)."""
    if not paragraph.startswith("Isolation: "):
        return paragraph
    level = paragraph.removeprefix("Isolation: ").split(";")[0]
    return f"Isolation: a container of its own ({limits}); inside it, {level} and a fresh uid per sandbox"
