"""Private scratch folders for grading (staged submissions, sandbox roots, unpacked batches).

:func:`private` makes ``autograder-<kind>-<pid>-<random>`` under the system temp folder,
mode 0700, and removes it on exit, whatever the sandbox left inside (read-only folders,
files owned by a sandbox uid). A grader killed with SIGKILL cannot remove its folder, so
:func:`remove_stale`, called when grading starts, removes the folders whose owner is gone.

How "gone" is decided: the owner holds an ``flock`` on the folder itself (an open
descriptor of the directory) for as long as the folder is in use. The kernel drops the
lock when the owner dies, however it dies, so a free lock means nobody uses the folder.
A pid alone would not do: pids are reused, and a folder whose pid now belongs to another
process would be kept forever. ``flock`` (unlike ``fcntl`` record locks) conflicts
within one process too, so a grader's own live folders are safe from its own cleanup.
The folder is made under a pending name (a leading dot) and renamed once locked, so no
cleanup ever sees an unlocked folder that is about to be used; a pending folder (empty:
its owner died between ``mkdir`` and ``rename``) goes once its pid is no longer alive.
The pid in the name is for people, and for those pending folders. A forked child shares
the lock (one open file description) and keeps the folder while it lives; a program it
execs does not (the descriptor is close-on-exec), so a sandbox server never holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREFIX = "autograder"
_NAME = re.compile(rf"^(\.?){PREFIX}-([a-z]+)-(\d+)-([a-z0-9_]+)$")


@contextlib.contextmanager
def private(kind: str) -> Iterator[Path]:
    """A fresh 0700 folder ``autograder-<kind>-<pid>-<random>`` in the temp folder, removed on exit."""
    if not re.fullmatch(r"[a-z]+", kind):
        raise ValueError(f"kind must be lowercase letters, got {kind!r}")
    pending = Path(tempfile.mkdtemp(prefix=f".{PREFIX}-{kind}-{os.getpid()}-"))  # mode 0700
    lock = os.open(pending, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)  # close-on-exec: not inherited
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        folder = pending.with_name(pending.name[1:])
        os.rename(pending, folder)
        try:
            yield folder
        finally:
            remove(folder)
    finally:
        os.close(lock)  # after the removal: a cleanup never sees this folder unlocked


def remove(folder: Path) -> bool:
    """Remove ``folder`` and everything in it; whether it is gone. Never raises.

    If a first try fails (as a user other than root: a folder the sandbox made read-only
    or unreadable), every folder inside that is ours is made 0700 and the removal tried
    again. A file owned by another uid is removed like any other: only its folder's
    permissions matter. What still cannot be removed stays for :func:`remove_stale`.
    """
    shutil.rmtree(folder, ignore_errors=True)
    if os.path.lexists(folder):
        _make_writable(folder)
        shutil.rmtree(folder, ignore_errors=True)
    return not os.path.lexists(folder)


def _make_writable(folder: Path) -> None:
    """chmod 0700 every folder under ``folder`` (itself included) owned by us, never through a link."""
    todo = [str(folder)]
    while todo:  # a stack, not recursion: a submission may nest folders thousands deep
        path = todo.pop()
        with contextlib.suppress(OSError):
            info = os.lstat(path)
            if not stat.S_ISDIR(info.st_mode):
                continue
            if info.st_uid == os.geteuid():
                os.chmod(path, 0o700)
            with os.scandir(path) as entries:
                todo += [entry.path for entry in entries if entry.is_dir(follow_symlinks=False)]


def remove_stale() -> list[Path]:
    """Remove the folders of :func:`private` whose owner is no longer running; the ones removed.

    Only folders owned by this user are looked at (one listing of the temp folder); a folder
    in use, or one that cannot be read, is left alone. Never raises.
    """
    root = Path(tempfile.gettempdir())
    try:
        names = [name for name in os.listdir(root) if _NAME.match(name)]
    except OSError:
        return []
    return [root / name for name in names if _remove_if_stale(root / name)]


def _remove_if_stale(folder: Path) -> bool:
    pending, _kind, pid, _random = _NAME.match(folder.name).groups()
    try:
        lock = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:  # gone already, a link, or not ours to read
        return False
    try:
        if os.fstat(lock).st_uid != os.geteuid():
            return False
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its owner is alive and using it
            return False
        if pending and _alive(int(pid)):  # being made right now (or a reused pid: tried again later)
            return False
        return remove(folder)
    finally:
        os.close(lock)


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")
