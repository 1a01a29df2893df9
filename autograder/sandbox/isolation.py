"""Kernel isolation for the sandbox: namespaces, a private root file system, rlimits, uid drop.

Runs inside the sandbox server (never in the grader). Three levels, strongest first:

- ``namespaces``: the server unshares mount, network, PID, IPC and UTS namespaces (plus a
  user namespace when not root), builds a fresh root from read-only binds of the system
  and Python folders and a sized tmpfs holding a copy of the submission, pivots into it and
  becomes PID 1 of its namespace. The repository, the solution key and the hidden tests do
  not exist in there; the network has no interface. Student code runs as uid 65534.
- ``bubblewrap``: the same view built by ``bwrap`` around the server (chosen by ``auto``
  where the server cannot unshare by itself but a setuid or user-namespace ``bwrap`` can).
- ``rlimits``: only resource limits, a new session and a scratch folder; said loudly in
  the results because it hides nothing.

Every level applies the same rlimits to each worker.
"""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import signal
import socket
import sys
from collections.abc import Container, Iterable
from dataclasses import dataclass
from pathlib import Path

from autograder.sandbox import cgroups, seccomp

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = 155  # x86-64
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38
NOBODY = 65534
SANDBOX_UIDS = range(1_000_000, 2_000_000)  # one fresh uid per sandbox: its own process limit, killable as a whole
SANDBOX_HOME = "/submission"

_libc = ctypes.CDLL(None, use_errno=True)


class IsolationError(OSError):
    """The requested isolation could not be set up."""


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    processes: int
    file_size_mb: int
    device: str = "cpu"
    uid: int = NOBODY  # the uid student code runs under (when the server is root)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise IsolationError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def set_parent_death_signal() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)


def unshare_namespaces() -> bool:
    """Enter new namespaces; True when a user namespace was needed (not root)."""
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if os.geteuid() == 0:
        _check(_libc.unshare(flags), "unshare")
        return False
    uid, gid = os.geteuid(), os.getegid()
    _check(_libc.unshare(flags | CLONE_NEWUSER), "unshare (user namespace)")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    return True


def _bind(root: Path, path: str, *, writable: bool = False) -> None:
    source = Path(path)
    target = root / source.relative_to("/")
    if source.is_symlink() and str(source.parent) == "/":  # /bin -> usr/bin on merged-/usr systems
        if not target.exists():
            target.symlink_to(os.readlink(source))
        return
    if not source.exists() or target.exists() and target.is_mount():
        return
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    _mount(str(source), str(target), None, MS_BIND | MS_REC)
    if not writable:
        _mount(None, str(target), None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_REC)


def python_folders() -> list[str]:
    """Folders holding the interpreter, its standard library and installed packages."""
    folders = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    import site

    folders.update(p for p in site.getsitepackages() if os.path.isdir(p))
    # Drop folders inside others; never bind "/" or anything above the user's folders.
    kept = sorted(f for f in folders if f not in ("/", "/usr") and not f.startswith("/usr/"))
    return [f for f in kept if not any(f != k and f.startswith(k + "/") for k in kept)]


def build_root(root: Path, submission: Path, limits: Limits) -> None:
    """Populate ``root`` (an empty folder) as the sandbox's file system, then pivot into it."""
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", str(root), "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=755")
    scratch = f"size={max(limits.file_size_mb, 16)}m,mode=1777"
    for folder in (SANDBOX_HOME, "/tmp", "/dev/shm"):
        (root / folder[1:]).mkdir(parents=True, exist_ok=True)
        _mount("tmpfs", str(root / folder[1:]), "tmpfs", MS_NOSUID | MS_NODEV, scratch)
    # After the tmpfs mounts: a virtual environment may live under /tmp (a fresh clone in CI).
    for path in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", *python_folders()):
        _bind(root, path)
    for device in ("null", "zero", "full", "random", "urandom"):
        _bind(root, f"/dev/{device}", writable=True)
    if limits.device == "cuda":
        for node in sorted(Path("/dev").glob("nvidia*")):
            _bind(root, str(node), writable=True)
    copy_submission(submission, root / SANDBOX_HOME[1:], limits.uid)
    (root / "proc").mkdir()
    (root / ".old").mkdir()
    os.chdir(root)
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b".old"), "pivot_root")
    os.chroot(".")
    _check(_libc.umount2(b"/.old", MNT_DETACH), "unmount the old root")
    os.rmdir("/.old")
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
    _mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    socket.sethostname("sandbox")
    os.chdir(SANDBOX_HOME)


def copy_submission(source: Path, target: Path, uid: int) -> None:
    """Copy the staged submission into the sandbox's home, which then belongs to ``uid`` alone (0700).

    At the ``rlimits`` level homes of other sandboxes (other uids) sit on the same file
    system: none of them may list, read or replace another's modules.
    """
    for item in sorted(source.iterdir()):
        if item.is_symlink():
            continue
        if item.is_dir():
            shutil.copytree(item, target / item.name, symlinks=False, ignore_dangling_symlinks=True)
        else:
            shutil.copy2(item, target / item.name)
    if os.geteuid() == 0:  # the student's uid owns its working copy
        for path in [target, *target.rglob("*")]:
            os.chown(path, uid, uid, follow_symlinks=False)
        os.chmod(target, 0o700)


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def confine_loader(limits: Limits) -> list[str]:
    """In the freshly forked loader, before any student code: new session, rlimits, the
    unprivileged uid, then the seccomp filter (:mod:`seccomp`). Every test's worker is forked
    from the loader and inherits all of it.

    Returns notes on what could not be applied (shown with the isolation level).
    """
    notes = []
    os.setsid()
    mb = 1 << 20
    if limits.device != "cuda":  # RLIMIT_AS breaks CUDA's address-space reservations
        address_space = _vm_size() + limits.memory_mb * mb
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_mb * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    try:
        cgroups.first_for_oom_killer()  # while still root: a score cannot be raised after the uid drop
    except OSError:
        notes.append("student code is not first in line for the out-of-memory killer")
    if os.geteuid() == 0 and _uid_mapped(limits.uid):
        os.setgroups([])
        os.setresgid(limits.uid, limits.uid, limits.uid)
        os.setresuid(limits.uid, limits.uid, limits.uid)
    else:
        notes.append("student code runs under the grader's own uid, so the process limit does not apply")
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    set_parent_death_signal()  # after the uid change, which clears it
    refused = seccomp.install()  # last: the steps above need calls it refuses
    if refused:
        notes.append(refused)
    return notes


def become_subreaper() -> None:
    """Orphans of this process's descendants become its children (a worker whose parent
    exited, or a process a worker left behind), so it learns how they ended and reaps them."""
    _check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")


def kill_sandbox(uid: int, *, spare: Container[int] = (), groups: Iterable[int] = ()) -> None:
    """SIGKILL every process of the sandbox but this one and ``spare`` (the loader).

    As PID 1 of the sandbox's PID namespace every other process in /proc is the sandbox's; as
    root outside one, those whose real uid is the sandbox's ``uid``. Sweeps repeat until one
    finds nothing new, so a fork bomb cannot outrun them. Otherwise (no namespace, not root)
    the process groups of ``groups`` (each worker is a group leader) are all that can be reached.
    """
    me = os.getpid()
    if me != 1 and (os.geteuid() != 0 or uid == 0):
        for pid in groups:
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        return
    killed: set[int] = set()
    for _ in range(1000):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in killed or int(entry) == me or int(entry) in spare:
                continue
            pid = int(entry)
            if me != 1 and _real_uid(pid) != uid:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.add(pid)
            found = True
        if not found:
            return


def _real_uid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` (root only): what setsid() escapees cannot dodge.

    Repeated until nothing is left to signal, since a fork bomb can fork between sweeps.
    """
    if os.geteuid() != 0 or uid == 0:
        return
    pid = os.fork()
    if pid == 0:
        try:
            os.setresuid(uid, uid, uid)
            for _ in range(1000):
                os.kill(-1, 9)  # as that uid, -1 reaches exactly its processes (and not this one)
        except ProcessLookupError:
            pass  # nothing left
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _uid_mapped(uid: int) -> bool:
    """Root outside a user namespace, or a user namespace that maps ``uid``."""
    try:
        uid_map = Path("/proc/self/uid_map").read_text().split()
    except OSError:
        return True
    start, _, count = (int(v) for v in uid_map[:3])
    return start <= uid < start + count


def namespaces_available() -> bool:
    """Can this process unshare namespaces? Checked in a throwaway child."""
    pid = os.fork()
    if pid == 0:
        try:
            unshare_namespaces()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0
