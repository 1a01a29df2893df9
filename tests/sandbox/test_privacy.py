"""Per-sandbox privacy at the ``rlimits`` level: each sandbox's home is its own uid's, and no other's.

The ``rlimits`` level hides no files, so a home folder that other uids could enter would let
one submission of a batch read or rewrite another's modules. Homes are mode 0700 and owned
by the sandbox's fresh uid; a second sandbox (another uid) can neither list, read nor write it,
nor the staged submission the first one was copied from.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from autograder.config import AssignmentConfig, SandboxLimits, Tolerance
from autograder.grade.submission import stage_submission
from autograder.sandbox.client import Sandbox

PROBE = '''
import os


def home():
    with open("mine.txt", "w") as handle:
        handle.write("written by the first sandbox")
    return os.getcwd()


def snoop(path):
    done = []
    for what, action in [
        ("list", lambda: os.listdir(path)),
        ("read", lambda: open(os.path.join(path, "probe.py")).read()),
        ("read written", lambda: open(os.path.join(path, "mine.txt")).read()),
        ("write", lambda: open(os.path.join(path, "probe.py"), "a").write("# rewritten")),
        ("create", lambda: open(os.path.join(path, "new.py"), "w").write("X = 1")),
    ]:
        try:
            action()
            done.append(what)
        except OSError:
            pass
    return done
'''

ASSIGNMENT = AssignmentConfig(id="hw", title="hw", source=Path("/nonexistent"), files=("probe.py",), points=1.0,
                              time_limit=60.0, test_time_limit=10.0, tolerances={"cpu": Tolerance(rtol=0, atol=0)})

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes get uids of their own only when the grader "
                                "runs as root; otherwise every sandbox is the grader's own uid")


def _call(sandbox: Sandbox, name: str, *args):
    worker = sandbox.spawn()
    try:
        function = worker.request({"op": "getattr", "target": {"module": "probe"}, "name": name},
                                  deadline=None, make_handle=lambda body: body)["ok"]
        reply = worker.request({"op": "call", "target": {"handle": function["id"]}, "args": list(args), "kwargs": {}},
                               deadline=None, make_handle=lambda body: body)
        assert "ok" in reply, reply
        return reply["ok"]
    finally:
        sandbox.reset()
        worker.close()


@pytest.fixture
def workspaces():
    """Two grading workspaces as :func:`autograder.grade.grade` makes them (mode 0711, under /tmp)."""
    folders = [Path(tempfile.mkdtemp(prefix="autograder-test-")) for _ in range(2)]
    for folder in folders:
        os.chmod(folder, 0o711)
        (folder / "hand_in").mkdir()
        (folder / "hand_in" / "probe.py").write_text(PROBE)
        stage_submission(folder / "hand_in", ASSIGNMENT, folder / "submission")
    yield folders
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_sandbox_home_is_private_to_its_uid(workspaces):
    limits = SandboxLimits(isolation="rlimits")
    first, second = (Sandbox(submission=w / "submission", workdir=w / "sandbox", limits=limits, device="cpu")
                     for w in workspaces)
    try:
        home = Path(_call(first, "home"))
        assert (home / "mine.txt").read_text() == "written by the first sandbox"  # its own uid can write there
        assert _call(second, "home") != str(home) and second.uid != first.uid
        assert _call(second, "snoop", str(home)) == []
        assert _call(second, "snoop", str(workspaces[0] / "submission")) == []  # nor its staged copy
        assert (home / "probe.py").read_text() == PROBE and not (home / "new.py").exists()
        info = home.stat()
        assert stat.S_IMODE(info.st_mode) == 0o700, oct(info.st_mode)
        assert info.st_uid == first.uid
    finally:
        first.kill()
        second.kill()
