"""Private grading folders: 0700, removed on exit whatever is inside, and after a SIGKILL at the next start."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder import tempdirs
from tests.conftest import REPO

SANDBOX_UID = 65534
# A child that makes a private folder, says where, and waits for a line before it leaves the block.
OWNER = ("import sys; sys.path.insert(0, {repo!r}); from autograder.tempdirs import private\n"
         "with private('grade') as folder:\n"
         "    print(folder, flush=True)\n"
         "    sys.stdin.readline()\n")


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """A fresh system temp folder for this process and its children: other graders' folders are not ours."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def _owner(root: Path, **kwargs) -> tuple[subprocess.Popen, Path]:
    child = subprocess.Popen([sys.executable, "-c", OWNER.format(repo=str(REPO))], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(root)}, **kwargs)
    return child, Path(child.stdout.readline().strip())


def test_folder_of_a_sigkilled_grader_is_private_and_removed_at_the_next_start(temp_root):
    child, folder = _owner(temp_root)
    (folder / "submission.py").write_text("secret = 1\n")
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    child.stdin.close()
    info = folder.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.geteuid()
    assert folder.name.startswith(f"autograder-grade-{child.pid}-")
    assert tempdirs.remove_stale() == [folder]
    assert not folder.exists()


def test_folder_of_a_live_owner_is_kept(temp_root):
    child, folder = _owner(temp_root)
    try:
        assert tempdirs.remove_stale() == []
        assert folder.is_dir()
    finally:
        child.communicate("\n")
    assert child.returncode == 0 and not folder.exists()


def test_own_live_folder_is_kept_and_a_reused_pid_does_not_keep_a_dead_one(temp_root):
    """The lock decides, not the pid: a folder named after this (live) process but unlocked is stale."""
    with tempdirs.private("batch") as mine:
        dead = temp_root / f"autograder-batch-{os.getpid()}-abc123"
        dead.mkdir(mode=0o700)
        assert tempdirs.remove_stale() == [dead]
        assert mine.is_dir()
    assert not mine.exists()


def test_other_names_and_pending_folders_of_live_processes_are_left_alone(temp_root):
    others = [temp_root / "autograder-w9p7w8o8", temp_root / "autograder-batch-x1y2", temp_root / "notes"]
    pending = temp_root / f".autograder-grade-{os.getpid()}-abc123"  # as private() makes it, before its rename
    for folder in [*others, pending]:
        folder.mkdir()
    assert tempdirs.remove_stale() == []
    assert all(f.is_dir() for f in [*others, pending])


def test_pending_folder_of_a_dead_process_is_removed(temp_root):
    """Killed between mkdir and rename, an owner leaves its pending folder: it goes once its pid is dead."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    pending = temp_root / f".autograder-grade-{dead}-abc123"
    pending.mkdir()
    assert tempdirs.remove_stale() == [pending]


def test_read_only_folders_and_files_of_another_uid_are_removed_on_exit(temp_root):
    with tempdirs.private("grade") as folder:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        _fill_like_a_sandbox(folder)
    assert not folder.exists()


def _others_reach(path: Path) -> bool:
    """Whether a user who is neither owner nor group can get to ``path`` (every folder above it searchable)."""
    return all(folder.stat().st_mode & 0o001 for folder in Path(path).resolve().parents)


@pytest.mark.skipif(os.geteuid() != 0, reason="making files owned by another uid takes root")
def test_unprivileged_owner_removes_what_a_sandbox_made_read_only():
    """Root removes anything; a grader running as a plain user must undo the sandbox's chmods first."""
    if not (_others_reach(Path(sys.executable)) and _others_reach(Path(tempdirs.__file__))):
        pytest.skip(f"the plain user cannot run this checkout's Python ({sys.executable}): a folder above it "
                    "is private (a clone under a 0700 temporary folder)")
    root = Path(tempfile.mkdtemp(dir="/tmp"))  # not under pytest's 0700 folder: the child must reach it
    os.chmod(root, 0o777)
    try:
        _remove_as_plain_user(root)
    finally:
        tempdirs.remove(root)


def _remove_as_plain_user(root: Path) -> None:
    child, folder = _owner(root, user=SANDBOX_UID, group=SANDBOX_UID, extra_groups=[])
    assert folder.stat().st_uid == SANDBOX_UID
    try:
        _fill_like_a_sandbox(folder, owner=SANDBOX_UID)
    finally:
        child.communicate("\n")
    assert child.returncode == 0
    assert not folder.exists()


def _fill_like_a_sandbox(folder: Path, owner: int = 0) -> None:
    """A read-only folder holding a file owned by a sandbox uid, and an unreadable folder inside it."""
    locked = folder / "scratch" / "locked"
    (locked / "hidden").mkdir(parents=True)
    (locked / "hidden" / "weights.pt").write_bytes(b"\0" * 64)
    (locked / "out.txt").write_text("written by the sandbox\n")
    os.chown(locked / "out.txt", SANDBOX_UID + 1, SANDBOX_UID + 1)
    for path in [folder / "scratch", locked, locked / "hidden"]:
        os.chown(path, owner, owner)
    os.chmod(locked / "hidden", 0)
    os.chmod(locked, 0o500)
