"""Servers forked from a zygote (what batch workers use): ready in milliseconds, and otherwise
the same as a server started fresh: same isolation, same descriptors, no way back to the zygote."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from autograder.config import SandboxLimits
from autograder.sandbox import launch
from autograder.sandbox.client import Sandbox

FDS = "import os\n\ndef fds():\n    return sorted(int(fd) for fd in os.listdir('/proc/self/fd'))\n"


@pytest.fixture
def submission(tmp_path: Path) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "probe.py").write_text(FDS)
    return folder


def _worker_fds(submission: Path, workdir: Path) -> tuple[str, list[int], str]:
    """(kind of server process, the worker's open descriptors, the isolation level used)."""
    sandbox = Sandbox(submission=submission, workdir=workdir, limits=SandboxLimits(), device="cpu")
    try:
        worker = sandbox.spawn()
        fds = worker.request({"op": "getattr", "target": {"module": "probe"}, "name": "fds"},
                             deadline=None, make_handle=lambda body: body)["ok"]
        found = worker.request({"op": "call", "target": {"handle": fds["id"]}, "args": [], "kwargs": {}},
                               deadline=None, make_handle=lambda body: body)["ok"]
        worker.close()
        return type(sandbox.server.process).__name__, found, sandbox.isolation
    finally:
        sandbox.kill()


def test_a_forked_server_is_a_fresh_one(submission: Path, tmp_path: Path):
    fresh = _worker_fds(submission, tmp_path / "fresh")
    launch.start_zygote("auto")
    zygote = launch._zygotes[launch.resolve_isolation("auto")]
    try:
        forked = [_worker_fds(submission, tmp_path / f"forked{i}") for i in range(2)]
    finally:
        launch.discard_warm()
    assert fresh[0] == "Popen" and [f[0] for f in forked] == ["ForkedProcess", "ForkedProcess"]
    assert forked[0][1:] == forked[1][1:] == fresh[1:], "a worker holds what it would hold under a fresh server"
    assert zygote.process.poll() is not None, "discard_warm ends the zygote"


def test_a_dead_zygote_gives_way_to_fresh_servers(submission: Path, tmp_path: Path):
    launch.start_zygote("auto")
    level = launch.resolve_isolation("auto")
    try:
        launch._zygotes[level].process.kill()
        launch._zygotes[level].process.wait()
        kind, _, _ = _worker_fds(submission, tmp_path / "after")
        assert kind == "Popen" and level not in launch._zygotes
    finally:
        launch.discard_warm()


def test_the_zygote_reaps_the_servers_it_forked(submission: Path, tmp_path: Path):
    """A killed server is gone (not a zombie piling up) once the zygote forks the next one."""
    launch.start_zygote("auto")
    zygote = launch._zygotes[launch.resolve_isolation("auto")]
    first = Sandbox(submission=submission, workdir=tmp_path / "first", limits=SandboxLimits(), device="cpu")
    second = Sandbox(submission=submission, workdir=tmp_path / "second", limits=SandboxLimits(), device="cpu")
    try:
        first.wait_ready()
        first_pid = first.server.process.pid
        first.kill()
        second.wait_ready()
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(zygote.process.pid)],
                                  capture_output=True, text=True).stdout.split()
        assert children == [str(second.server.process.pid)], (children, first_pid)
    finally:
        second.kill()
        launch.discard_warm()
