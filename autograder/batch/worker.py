"""A batch worker: one process that imports the grader once and grades submissions one after another.

Started by :mod:`autograder.batch.pool` (``python -I``, a socket pair to the batch). It receives a
:class:`Job` at a time, grades it with :func:`autograder.grade.grade` (which is not safe to
run twice at once in one process, hence processes), writes the student's results file
atomically and answers with a one-line summary. Its sandbox servers are forks of a zygote
(:func:`autograder.sandbox.launch.start_zygote`) that imported torch once, rather than fresh
interpreters that each import it. Between jobs it prelaunches the next sandbox server; where
the batch has a spare core, it starts each next server as soon as the current one is taken.
The worker dies with the batch (parent-death signal) and ignores Ctrl-C, which the batch
handles; what it prints goes to its log file.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from autograder import clock, tempdirs
from autograder.batch import store
from autograder.batch.fingerprint import fingerprint
from autograder.batch.submissions import Submission
from autograder.config import AssignmentConfig, CourseConfig

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class WorkerSettings:
    course: CourseConfig
    assignment: AssignmentConfig
    results_dir: Path
    solution_dir: Path | None
    device: str = "cpu"
    runner: str = "local"
    threads: int = 1  # torch threads in this process (the sandbox's are in assignment.sandbox)
    prelaunch: str = "next"  # "": none; "next": a server for the next job; "ahead": one more, started as
    #                          each is taken, so it imports torch while the current job is graded (a spare core)
    env: dict[str, str] = field(default_factory=dict)  # e.g. CUDA_VISIBLE_DEVICES, set before torch loads


@dataclass(frozen=True)
class Job:
    submission: Submission
    tests: tuple[str, ...] = ()  # regrade only these tests and merge them into the results file


def main(argv: list[str] | None = None) -> None:
    """Entry point: ``<socket fd> <batch pid>``; the settings arrive first on the socket."""
    fd, parent = (int(a) for a in (argv or sys.argv[1:]))
    _guard(parent)
    conn = Connection(fd)
    try:
        settings = conn.recv()
    except EOFError:
        return
    serve(conn, settings)


def serve(conn: Connection, settings: WorkerSettings) -> None:
    """The worker's loop: prelaunch a sandbox server, take a job, grade it, answer; until told to stop."""
    prepare(settings)
    conn.send({"ready": os.getpid()})
    answer_jobs(conn, settings, lambda job: {"done": grade_job(job, settings)})


def answer_jobs(conn: Connection, settings: WorkerSettings, answer: Callable[[Any], Any]) -> None:
    """Until told to stop (None, or the channel closed): start the next job's sandbox server,
    take a job, send ``answer(job)``. In a process set up by :func:`prepare`."""
    from autograder.sandbox import launch

    try:
        while True:
            prelaunch_next(settings)
            try:
                job = conn.recv()
            except EOFError:
                break
            if job is None:
                break
            conn.send(answer(job))
    finally:
        launch.discard_warm()


def prepare(settings: WorkerSettings) -> None:
    """Set this process up to grade one submission after another: torch imported once, with its share
    of the cores; with the local runner, sandbox servers forked from a zygote (one kept warm ahead if
    asked). Undone by :func:`autograder.sandbox.launch.discard_warm`."""
    os.environ.update(settings.env)
    import torch

    torch.set_num_threads(max(1, settings.threads))
    from autograder.sandbox import launch

    if settings.runner == "local":
        launch.start_zygote(settings.assignment.sandbox.isolation)  # each server a fork of one that imported torch
        if settings.prelaunch == "ahead":
            launch.keep_warm(settings.assignment.sandbox.isolation)


def prelaunch_next(settings: WorkerSettings) -> None:
    """Before waiting for the next job: start its sandbox server now (unless one is warm already)."""
    if settings.prelaunch and settings.runner == "local":
        from autograder.sandbox import launch

        launch.prelaunch(settings.assignment.sandbox.isolation)


def _guard(parent: int) -> None:
    """Die with the batch (even when it is killed with SIGKILL); leave Ctrl-C to the batch."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the batch still ends its workers when it can
        pass
    if os.getppid() != parent:  # the batch died before we could ask to die with it
        os._exit(0)


def grade_job(job: Job, settings: WorkerSettings) -> dict[str, Any]:
    """Grade one submission (or regrade some of its tests) and write its results file."""
    start = clock.monotonic()
    submission = job.submission
    target = store.results_path(settings.results_dir, submission.student)
    old = store.read(target) if job.tests else None
    with tempdirs.private("job") as scratch:
        data = _grade(submission.path, scratch / "results.json", settings, job.tests if old else ())
        code = _fingerprint(submission.path, scratch / "staged", settings.assignment)
    final = store.status(data) not in store.NOT_FINAL
    summary = {"student": submission.student, "final": final, "seconds": clock.monotonic() - start}
    if old is not None and not final:  # a failed regrade leaves the earlier results as they were
        print(f"{submission.student}: regrade failed, results kept: {data.get('output', '')[:500]}", flush=True)
        return {**summary, "status": store.status(data), "kept": True}
    regraded: list[str] = []
    if old is not None:
        data, regraded = store.merge(old, data, job.tests)
    data = store.annotate(data, submission, fingerprint=code, final=final, regraded=regraded)
    from autograder.grade.results import write_results

    write_results(data, target)
    status = store.status(data)
    print(f"{submission.student}: {status}, {data['score']:g}/{data['extra_data'].get('max_score', 0):g} "
          f"in {summary['seconds']:.1f} s", flush=True)
    return {**summary, "status": status, "score": data["score"], "max_score": data["extra_data"].get("max_score")}


def _grade(path: Path, out: Path, settings: WorkerSettings, tests: tuple[str, ...]) -> dict[str, Any]:
    from autograder.grade import grade
    from autograder.grade.results import failure_results, write_results

    try:
        if settings.runner == "container":
            from autograder.container import grade_in_container

            results = grade_in_container(settings.course, settings.assignment, path, out=out,
                                         device=settings.device, public_only=False, tests=tests)
            if not out.exists():
                write_results(results, out)
        else:
            grade(settings.assignment, path, out=out, device=settings.device, solution_dir=settings.solution_dir,
                  select=tests)
    except Exception as exc:  # noqa: BLE001 - grade() wrote the reason when it could; else we do
        print(f"grader error on {path.name}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        if not out.exists():
            write_results(failure_results(settings.assignment.id, f"The grader failed: {exc}"), out)
    return json.loads(out.read_text(encoding="utf-8"))


def _fingerprint(path: Path, target: Path, assignment: AssignmentConfig) -> str | None:
    from autograder.grade.submission import stage_submission

    try:
        staged = stage_submission(path, assignment, target)
    except Exception:  # noqa: BLE001 - an invalid submission has no code to compare
        return None
    return fingerprint(staged.path, assignment.files)
