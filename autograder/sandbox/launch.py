"""Starting sandbox servers, without importing torch: so a server can import it while we do.

The command line calls :func:`prelaunch` first thing; the server process imports torch in
parallel with the grader's own imports and then waits for its configuration, which
:class:`autograder.sandbox.client.Sandbox` sends once the submission is staged. The control
channel carries small JSON messages (length-prefixed); student data never travels on it.

A batch worker grades submission after submission: it calls :func:`start_zygote` once, and
its servers are then forks of one clean process that imported torch (ready in milliseconds
rather than a CPU-second each), watched through pidfds since they are not its children.
"""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from autograder import clock
from autograder.errors import GraderError
from autograder.sandbox import isolation

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
_LENGTH = struct.Struct("<I")
_probe: dict[str, bool] = {}
_warm: list[ServerProcess] = []
_keep_warm: set[str] = set()  # levels whose warm server is replaced as soon as it is taken (keep_warm)
_zygotes: dict[str, Zygote] = {}  # levels whose servers are forked from one process (start_zygote)
SERVER_START_TIMEOUT = 120.0  # a fresh server imports torch in this time (so does a zygote, before its first fork)


def can_unshare() -> bool:
    """Whether this machine lets us create the namespaces (checked once, in a throwaway child)."""
    if "ok" not in _probe:
        _probe["ok"] = isolation.namespaces_available()
    return _probe["ok"]


def resolve_isolation(requested: str) -> str:
    if requested == "auto":
        if can_unshare():
            return "namespaces"
        return "bubblewrap" if shutil.which("bwrap") else "rlimits"
    if requested == "namespaces" and not can_unshare():
        raise GraderError("isolation 'namespaces' was asked for, but this machine does not allow unshare()")
    if requested == "bubblewrap" and not shutil.which("bwrap"):
        raise GraderError("isolation 'bubblewrap' was asked for, but bwrap is not installed")
    return requested


class ForkedProcess:
    """A server forked by a zygote: not our child, so it is watched through a pidfd."""

    def __init__(self, pid: int, pidfd: int):
        self.pid = pid
        self.pidfd = pidfd
        self.returncode: int | None = None  # 0 once ended (its status is the zygote's to read)

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self.pidfd], [], [], 0)[0]:
            self._ended()
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            select.select([self.pidfd], [], [])
            self._ended()
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def _ended(self) -> None:
        self.returncode = 0
        os.close(self.pidfd)


@dataclass
class ServerProcess:
    process: subprocess.Popen | ForkedProcess
    control: socket.socket
    isolation: str
    log: IO[bytes]  # the server's own stderr: read when it fails to start

    def kill(self) -> str:
        """End the server (and with it its namespace or process group); returns its stderr."""
        if self.process.poll() is None:  # so the group is still the server's (its leader is alive)
            try:
                os.killpg(self.process.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
        self.process.kill()
        self.process.wait()
        self.control.close()
        self.log.seek(0)
        text = self.log.read()[-2000:].decode("utf-8", "replace")
        self.log.close()
        return text


class Zygote:
    """A clean process with torch imported that forks servers (:func:`autograder.sandbox.server.zygote`)."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        self.control = ours
        self.process = subprocess.Popen(
            _python_running("zygote", theirs.fileno()), env=_server_env(), cwd="/", stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, pass_fds=(theirs.fileno(),))
        theirs.close()

    def fork_server(self, level: str) -> ServerProcess | None:
        """A new server, or None if this zygote cannot make one (it died, or no pidfds here)."""
        ours, theirs = socket.socketpair()
        log = tempfile.TemporaryFile()
        try:
            send_json(self.control, {"op": "fork"}, [theirs.fileno(), log.fileno()])
            reply, fds = recv_json(self.control, timeout=SERVER_START_TIMEOUT, with_fds=1)
        except (OSError, ConnectionError, TimeoutError):
            reply, fds = {}, []
        finally:
            theirs.close()
        if not isinstance(reply.get("pid"), int) or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            ours.close()
            log.close()
            return None
        return ServerProcess(ForkedProcess(reply["pid"], fds[0]), ours, level, log)

    def close(self) -> None:
        self.control.close()  # the zygote exits; the servers it forked live on until killed
        self.process.kill()
        self.process.wait()


def start_zygote(requested: str = "auto") -> None:
    """From now on start servers by forking one process that imported torch once (batch workers).

    Not for bubblewrap, which binds the submission when the server starts. Ended by
    :func:`discard_warm`.
    """
    level = resolve_isolation(requested)
    if level != "bubblewrap" and level not in _zygotes:
        _zygotes[level] = Zygote()


def start_server(level: str, *, submission: Path | None = None, file_size_mb: int = 64) -> ServerProcess:
    """Launch a server for isolation ``level``; it imports torch, then waits for its configuration."""
    if level in _zygotes:
        forked = _zygotes[level].fork_server(level)
        if forked is not None:
            return forked
        _zygotes.pop(level).close()  # and start servers the ordinary way from now on
    ours, theirs = socket.socketpair()
    command = _python_running("main", theirs.fileno())
    if level == "bubblewrap":
        if submission is None:
            raise GraderError("a bubblewrap sandbox needs its submission folder when it starts")
        command = bwrap_command(submission, file_size_mb) + command
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        command, env=_server_env(), cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=log, start_new_session=True, pass_fds=(theirs.fileno(),),
    )
    theirs.close()
    return ServerProcess(process, ours, level, log)


def _python_running(function: str, fd: int) -> list[str]:
    """A clean interpreter (``-I``: no site, no environment, no current folder) running a server function."""
    return [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {PACKAGE_PARENT!r}); "
            f"from autograder.sandbox.server import {function}; sys.exit({function}({fd}))"]


def _server_env() -> dict[str, str]:
    # PASSIVE: OpenMP threads sleep rather than spin between parallel regions. Spinning threads
    # of two processes sharing cores starve each other (a 1.7 s training test took over 120 s
    # beside another grading); sleeping ones cost that test 1.7 -> 2.9 s alone, and 2.7 s shared.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", "OMP_WAIT_POLICY": "PASSIVE",
           # malloc's heap in transparent huge pages: torch's 85 MB of it then forks as ~40 page-table
           # entries rather than ~20,000, so a worker's fork and exit (once per test) are 2x cheaper
           "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}
    if "CUDA_VISIBLE_DEVICES" in os.environ:  # a batch worker's own GPU: its sandboxes use that one
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


def prelaunch(requested: str = "auto") -> None:
    """Start one server now, for the next sandbox to adopt (not for bubblewrap: it binds paths at start)."""
    level = resolve_isolation(requested)
    if level != "bubblewrap" and not any(s.isolation == level for s in _warm):
        _warm.append(start_server(level))


def take_warm(level: str) -> ServerProcess | None:
    for index, server in enumerate(_warm):
        if server.isolation == level and server.process.poll() is None:
            taken = _warm.pop(index)
            break
    else:
        taken = None
    if level in _keep_warm:
        prelaunch(level)
    return taken


def keep_warm(requested: str = "auto") -> None:
    """From now on keep a server warm: each one taken is replaced at once (batch workers, so the next
    submission's server imports torch while this one is graded). Ended by :func:`discard_warm`."""
    level = resolve_isolation(requested)
    if level != "bubblewrap":
        _keep_warm.add(level)
        prelaunch(level)


def discard_warm() -> None:
    _keep_warm.clear()
    while _warm:
        _warm.pop().kill()
    while _zygotes:
        _zygotes.popitem()[1].close()


def bwrap_command(submission: Path, file_size_mb: int) -> list[str]:
    """bwrap around the server: the same view the namespaces level builds by itself.

    No user namespace when we are root, so the server can still hand each worker its own
    uid; the submission is bound read-only at /staged and copied into a sized tmpfs.
    """
    command = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
               "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if os.geteuid() != 0:
        command.append("--unshare-user")
    size = str(max(file_size_mb, 16) << 20)
    for folder in (isolation.SANDBOX_HOME, "/tmp"):  # first: later binds may sit under /tmp
        command += ["--size", size, "--tmpfs", folder]
    for path in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", *isolation.python_folders(),
                 PACKAGE_PARENT + "/autograder"):
        if os.path.islink(path):
            command += ["--symlink", os.readlink(path), path]
        elif os.path.exists(path):
            command += ["--ro-bind", path, path]
    command += ["--ro-bind", str(submission), "/staged"]
    command += ["--proc", "/proc", "--dev", "/dev", "--chdir", "/", "--"]
    return command


def new_uid() -> int:
    return random.choice(isolation.SANDBOX_UIDS)


def send_json(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    payload = _LENGTH.pack(len(data)) + data
    if fds:
        socket.send_fds(sock, [payload], fds)
    else:
        sock.sendall(payload)


def recv_json(sock: socket.socket, *, timeout: float | None = None, max_bytes: int = 1 << 20,
              with_fds: int = 0) -> tuple[dict[str, Any], list[int]]:
    """One message (and up to ``with_fds`` passed descriptors); ConnectionError when the peer is gone.

    Reads exactly one message's bytes, never into the next one: messages can be queued
    (a reset the grader did not wait for, then a spawn).
    """
    deadline = None if timeout is None else clock.monotonic() + timeout
    fds: list[int] = []

    def read(count: int) -> bytes:
        buffer = bytearray()
        while len(buffer) < count:
            remaining = None if deadline is None else deadline - clock.monotonic()
            if remaining is not None and (remaining <= 0 or not select.select([sock], [], [], remaining)[0]):
                raise TimeoutError("no answer on the control channel")
            if with_fds and not fds:  # descriptors arrive with the first bytes of their message
                data, received, _, _ = socket.recv_fds(sock, count - len(buffer), with_fds)
                fds.extend(received)
            else:
                data = sock.recv(count - len(buffer))
            if not data:
                raise ConnectionError("the control channel closed")
            buffer += data
        return bytes(buffer)

    size = _LENGTH.unpack(read(_LENGTH.size))[0]
    if size > max_bytes:
        raise ConnectionError("control message too large")
    return json.loads(read(size)), fds
