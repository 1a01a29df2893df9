"""A fault at each stage of grading (staging, sandbox start, the sandbox dying, the grader's plugin, the write)
still leaves a complete results file: every test with a score, and a status or output that names the stage."""

from __future__ import annotations

import errno
import json
import os
import signal
import time
from pathlib import Path

import pytest

from autograder.errors import GraderError
from autograder.grade import grade
from autograder.grade.plugin import GradingPlugin
from autograder.sandbox import client, launch
from tests.conftest import make_course, write_files

DOUBLE = "def double(x):\n    return 2 * x\n"
TESTS = {"test_double.py": """
    import pytest

    @pytest.mark.points(1)
    def test_one(student):
        assert student.mathy.double(1) == 2

    @pytest.mark.points(1)
    def test_two(student):
        assert student.mathy.double(2) == 4

    @pytest.mark.points(1)
    def test_three(student):
        assert student.mathy.double(3) == 6
    """}
NAMES = {"test_one", "test_two", "test_three"}


@pytest.fixture
def toy(tmp_path):
    """A three-test assignment, a correct submission, and no sandbox server left warm by another test."""
    launch.discard_warm()
    course = make_course(tmp_path / "course", public=TESTS, solution={"mathy.py": DOUBLE})
    write_files(tmp_path / "good", {"mathy.py": DOUBLE})
    return course.assignment("toy"), tmp_path / "good"


def _grade_with_fault(toy, out: Path, check_results) -> dict[str, dict]:
    """Grade; the fault is a grader error (raised after the file is written): the file, its tests by name."""
    assignment, submission = toy
    with pytest.raises(GraderError):
        grade(assignment, submission, out=out)
    data = check_results(json.loads(out.read_text()))
    tests = {t["name"].split("::")[-1]: t for t in data["tests"]}
    assert set(tests) == NAMES and all(isinstance(t["score"], float) for t in tests.values()), data
    assert data["extra_data"]["status"] == "grader error"
    return data, tests


def test_staging_that_fails_is_a_grader_error_listing_every_test(toy, tmp_path, monkeypatch, check_results):
    def disk_full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("autograder.grade.submission.stage_submission", disk_full)
    data, tests = _grade_with_fault(toy, tmp_path / "results.json", check_results)
    assert "staging the submission failed: [Errno 28] No space left on device" in data["output"]
    assert all(t["score"] == 0 and "staging the submission failed" in t["output"] for t in tests.values())


def test_sandbox_that_cannot_start_is_a_grader_error_listing_every_test(toy, tmp_path, monkeypatch, check_results):
    def no_processes(*_args, **_kwargs):
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(launch, "start_server", no_processes)
    data, tests = _grade_with_fault(toy, tmp_path / "results.json", check_results)
    assert "the sandbox server could not be started: [Errno 11]" in data["output"]
    assert all(t["score"] == 0 and "sandbox server could not be started" in t["output"] for t in tests.values())


@pytest.mark.slow  # two sandbox servers start, one after the other
def test_sandbox_server_killed_mid_test_is_a_grader_error_for_that_test_only(toy, tmp_path, monkeypatch,
                                                                           check_results):
    spawn = client.Sandbox.spawn
    killed = []

    def spawn_then_kill_the_server(sandbox):
        worker = spawn(sandbox)
        if not killed:  # the first test: its worker is up, then its server dies
            killed.append(sandbox.server.process.pid)
            _kill_and_wait(sandbox.server.process)
        return worker

    monkeypatch.setattr(client.Sandbox, "spawn", spawn_then_kill_the_server)
    data, tests = _grade_with_fault(toy, tmp_path / "results.json", check_results)
    assert killed
    assert "the sandbox server was killed from outside while this test ran" in data["output"]
    assert tests["test_one"]["score"] == 0 and "sandbox server was killed" in tests["test_one"]["output"]
    assert tests["test_two"]["score"] == tests["test_three"]["score"] == 1, "the next tests get a new server"


def _kill_and_wait(server) -> None:
    """SIGKILL the server, then wait until what it started is gone too (its namespace dies after it)."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    deadline = time.monotonic() + 10
    while any(_running(int(pid)) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.01)


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_grader_exception_in_the_plugin_during_one_test(toy, tmp_path, monkeypatch, check_results):
    tolerance = GradingPlugin.tolerance

    def broken_for_test_two(plugin, item):
        if item.name == "test_two":
            raise RuntimeError("injected fault in the plugin")
        return tolerance(plugin, item)

    monkeypatch.setattr(GradingPlugin, "tolerance", broken_for_test_two)
    data, tests = _grade_with_fault(toy, tmp_path / "results.json", check_results)
    assert "the grader failed while running the tests: RuntimeError: injected fault in the plugin" in data["output"]
    assert tests["test_one"]["score"] == 1
    assert tests["test_two"]["score"] == tests["test_three"]["score"] == 0  # pytest stops at an internal error
    assert tests["test_three"]["output"] == "not run"


def test_results_write_that_fails_once_still_leaves_a_complete_file(toy, tmp_path, monkeypatch, check_results):
    out = tmp_path / "out" / "results.json"
    fsync = os.fsync
    failures = []

    def full_once(fd):
        if not failures and os.readlink(f"/proc/self/fd/{fd}").startswith(str(out.parent)):
            failures.append(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        return fsync(fd)

    monkeypatch.setattr(os, "fsync", full_once)
    data, tests = _grade_with_fault(toy, out, check_results)
    assert failures
    assert "could not write the results file at first ([Errno 28] No space left on device)" in data["output"]
    assert all(t["score"] == 1 for t in tests.values()), "the tests as graded"
    assert [p.name for p in out.parent.iterdir()] == ["results.json"], "no temporary file is left"
