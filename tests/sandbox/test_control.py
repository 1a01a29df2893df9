"""The control channel between the grader and a sandbox server (JSON messages, passed descriptors)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from autograder import clock
from autograder.config import SandboxLimits
from autograder.sandbox import launch, protocol
from autograder.sandbox.client import Sandbox


def test_queued_messages_are_read_one_at_a_time(pair):
    """A reset the grader does not wait for is queued before the next spawn: reading the first
    message must not swallow the second, nor the descriptors that travel with it."""
    a, b = pair
    read_end, write_end = os.pipe()
    try:
        launch.send_json(a, {"op": "reset"})
        launch.send_json(a, {"op": "spawn"}, [write_end])
        launch.send_json(a, {"op": "reset", "pad": "x" * 100_000})  # longer than one read
        first, fds_first = launch.recv_json(b, timeout=5, with_fds=1)
        second, fds_second = launch.recv_json(b, timeout=5, with_fds=1)
        third, _ = launch.recv_json(b, timeout=5, max_bytes=1 << 20)
        assert (first, fds_first) == ({"op": "reset"}, [])
        assert second == {"op": "spawn"} and len(fds_second) == 1
        assert third["op"] == "reset" and len(third["pad"]) == 100_000
        os.write(fds_second[0], b"through the passed descriptor")
        assert os.read(read_end, 100) == b"through the passed descriptor"
        os.close(fds_second[0])
    finally:
        os.close(read_end)
        os.close(write_end)


def test_oversized_message_is_refused(pair):
    a, b = pair
    launch.send_json(a, {"pad": "x" * 5000})
    with pytest.raises(ConnectionError, match="too large"):
        launch.recv_json(b, timeout=5, max_bytes=1000)


def test_reset_without_waiting_then_spawn(tmp_path: Path):
    """Tests end with a reset the grader does not wait for; the next test's worker still starts
    clean, and a waited-for reset afterwards reports the one worker it killed."""
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "counter.py").write_text("calls = []\n\ndef bump():\n    calls.append(1)\n    return len(calls)\n")
    sandbox = Sandbox(submission=folder, workdir=tmp_path / "sandbox", limits=SandboxLimits(), device="cpu")
    try:
        for _ in range(5):
            worker = sandbox.spawn()
            bump = worker.request({"op": "getattr", "target": {"module": "counter"}, "name": "bump"},
                                  deadline=None, make_handle=lambda body: body)["ok"]
            worker.request({"op": "call", "target": {"handle": bump["id"]}, "args": [], "kwargs": {}},
                           deadline=None, make_handle=lambda body: body)
            count = worker.request({"op": "call", "target": {"handle": bump["id"]}, "args": [], "kwargs": {}},
                                   deadline=None, make_handle=lambda body: body)["ok"]
            assert count == 2  # a fresh worker each time: nothing carried over from the last one
            assert sandbox.reset(wait=False) == {}
            worker.close()
        assert sandbox.unread_replies == 1  # each spawn first read the reset queued before it
        last = sandbox.spawn()
        assert sandbox.unread_replies == 0
        exits = sandbox.reset()
        assert list(exits) == [str(last.pid)] and exits[str(last.pid)] == {"signal": 9}
        last.close()
        left = _settled(sandbox.uid, ["R", "T"])
        assert left == ["R", "T"], ("a waited reset reaps the workers of earlier resets too: only the loader "
                                    f"is left, stopped, and the next test's worker forked after the reset: {left}")
    finally:
        sandbox.kill()


def test_a_crashed_worker_is_reported_after_another_spawn(tmp_path: Path):
    """A spawn reaps what earlier resets killed, but not a worker that ended on its own: the
    next waited reset still says how it ended (the student's "crashed with ..." message)."""
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "quit.py").write_text("import os\n\ndef now(code):\n    os._exit(code)\n")
    sandbox = Sandbox(submission=folder, workdir=tmp_path / "sandbox", limits=SandboxLimits(), device="cpu")
    try:
        crashed = sandbox.spawn()
        now = crashed.request({"op": "getattr", "target": {"module": "quit"}, "name": "now"},
                              deadline=None, make_handle=lambda body: body)["ok"]
        with pytest.raises(protocol.ChannelClosed):
            crashed.request({"op": "call", "target": {"handle": now["id"]}, "args": [3], "kwargs": {}},
                            deadline=None, make_handle=lambda body: body)
        other = sandbox.spawn()
        exits = sandbox.reset()
        assert exits == {str(crashed.pid): {"code": 3}, str(other.pid): {"signal": 9}}
        crashed.close()
        other.close()
    finally:
        sandbox.kill()


ROGUE = """\
import os, signal, time

calls = []

def bump():
    calls.append(1)
    return len(calls)

def everyone(name):
    os.kill(-1, getattr(signal, name))

def stop_everyone(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        os.kill(-1, signal.SIGSTOP)
"""


def _rogue_sandbox(tmp_path: Path) -> Sandbox:
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "rogue.py").write_text(ROGUE)
    return Sandbox(submission=folder, workdir=tmp_path / "sandbox", limits=SandboxLimits(), device="cpu",
                   modules={"rogue": "rogue.py"})


def _call(worker, name: str, *args):
    function = worker.request({"op": "getattr", "target": {"module": "rogue"}, "name": name},
                              deadline=None, make_handle=lambda body: body)["ok"]
    return worker.request({"op": "call", "target": {"handle": function["id"]}, "args": list(args), "kwargs": {}},
                          deadline=clock.monotonic() + 20, make_handle=lambda body: body)


@pytest.mark.parametrize("attack", ["SIGSTOP", "SIGKILL"])
def test_the_next_tests_worker_forked_ahead_still_starts_clean(tmp_path: Path, attack: str):
    """Once a test has its worker, the next test's is forked ahead, while this one runs. A
    test that stops or kills every other process it can reach (the loader, that worker)
    still leaves the next tests a working worker that carries nothing over."""
    sandbox = _rogue_sandbox(tmp_path)
    try:
        first = sandbox.spawn()
        assert _call(first, "bump") == {"ok": 1}
        sandbox.reset()
        first.close()
        assert _settled(sandbox.uid, ["R", "T"]) == ["R", "T"], "the loader, stopped, and the next test's worker"
        second = sandbox.spawn()
        assert _call(second, "bump") == {"ok": 1}
        assert _call(second, "everyone", attack) == {"ok": None}  # every process it may signal but itself
        sandbox.reset()
        second.close()
        for _ in range(2):
            worker = sandbox.spawn()
            assert _call(worker, "bump") == {"ok": 1}
            sandbox.reset()
            worker.close()
    finally:
        sandbox.kill()


def test_a_test_stopping_everything_does_not_stall_the_sandbox(tmp_path: Path):
    """A test that keeps stopping every process it can reach, the loader in the middle of
    forking the next test's worker among them, costs that fork half a second, not the
    loader's 30 s fork limit; the next test gets a working worker."""
    sandbox = _rogue_sandbox(tmp_path)
    try:
        sandbox.spawn().close()  # loaded: from here on, each spawn forks the next test's worker ahead
        sandbox.reset()
        started = clock.monotonic()
        for _ in range(3):
            rogue = sandbox.spawn()
            assert _call(rogue, "stop_everyone", 1.0) == {"ok": None}
            sandbox.reset(wait=False)
            rogue.close()
            worker = sandbox.spawn()
            assert _call(worker, "bump") == {"ok": 1}
            sandbox.reset(wait=False)
            worker.close()
        assert clock.monotonic() - started < 15, "three stopped forks ahead cost half a second each, not 30 s"
    finally:
        sandbox.kill()


def _settled(uid: int, expected: list[str]) -> list[str]:
    """The states of ``uid``'s processes (R for running or waiting, T for stopped), once they
    are ``expected`` or after 10 s: the spare's fork ends after the reset's answer."""
    deadline = clock.monotonic() + 10
    while True:
        found = sorted("T" if stat.split(") ")[1][0] == "T" else "R" for stat in _processes(uid))
        if found == expected or clock.monotonic() > deadline:
            return found
        time.sleep(0.01)


def _processes(uid: int) -> list[str]:
    """Every process of ``uid``, zombies included."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                found.append((entry / "stat").read_text())
        except OSError:
            pass  # it ended while we looked
    return found
