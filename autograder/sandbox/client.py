"""The grader's side of the sandbox: start the server, spawn workers, call student code.

Everything the student's side sends is decoded by :mod:`autograder.sandbox.codec` into
fresh values; nothing it prints, writes or exits with is a verdict. Time limits are
enforced here, outside the sandbox: a late reply kills the whole sandbox, and the next
test gets a fresh one.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import clock
from autograder.config import SandboxLimits
from autograder.errors import GraderError
from autograder.sandbox import codec, isolation, protocol

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
SERVER_START_TIMEOUT = 120.0
CONTROL_TIMEOUT = 30.0
OUTPUT_KEEP = 4096  # bytes of the student's output kept from its start and from its end


class SandboxFailure(Exception):
    """A call into the sandbox did not produce a value; the message is for the student."""


class StudentCodeError(SandboxFailure):
    """The student's code raised; carries their traceback (their frames only)."""

    def __init__(self, kind: str, message: str, traceback: str):
        self.kind, self.message, self.traceback = kind, message, traceback
        super().__init__(traceback.strip() or f"{kind}: {message}")


class TimedOut(SandboxFailure):
    pass


class SandboxDied(SandboxFailure):
    pass


class BadReply(SandboxFailure):
    pass


_isolation_probe: dict[str, bool] = {}


def can_unshare() -> bool:
    """Whether this machine lets us create the namespaces (checked once, in a throwaway child)."""
    if "ok" not in _isolation_probe:
        _isolation_probe["ok"] = isolation.namespaces_available()
    return _isolation_probe["ok"]


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


@dataclass
class OutputTail:
    """The first and last few KB of what the student's code printed."""

    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = OUTPUT_KEEP - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail = (self.tail + data)[-OUTPUT_KEEP:]

    def text(self) -> str:
        skipped = self.total - len(self.head) - len(self.tail)
        middle = f"\n[... {skipped} bytes not shown ...]\n" if skipped > 0 else ""
        return (bytes(self.head).decode("utf-8", "replace") + middle + bytes(self.tail).decode("utf-8", "replace"))


class Sandbox:
    """One submission's sandbox server, started in the background."""

    def __init__(self, *, submission: Path, workdir: Path, limits: SandboxLimits, device: str):
        self.submission = submission
        self.workdir = workdir
        self.limits = limits
        self.device = device
        self.max_message_bytes = limits.reply_mb << 20
        self.isolation = resolve_isolation(limits.isolation)
        self.notes: list[str] = []
        self.process: subprocess.Popen | None = None
        self.control: socket.socket | None = None
        self.ready = False
        self.starts = 0
        self.uid = random.choice(isolation.SANDBOX_UIDS)

    def start(self) -> None:
        """Launch the server; it imports torch while the grader collects tests."""
        self.starts += 1
        ours, theirs = socket.socketpair()
        root = self.workdir / f"root-{self.starts}"
        scratch = self.workdir / f"scratch-{self.starts}"
        root.mkdir(parents=True)
        scratch.mkdir(mode=0o777)
        os.chmod(scratch, 0o777)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp",
               "OMP_NUM_THREADS": str(self.limits.threads or len(os.sched_getaffinity(0)))}
        command = [sys.executable, "-I", "-c",
                   f"import sys; sys.path.insert(0, {PACKAGE_PARENT!r}); "
                   f"from autograder.sandbox.server import main; sys.exit(main({theirs.fileno()}))"]
        if self.isolation == "bubblewrap":
            command = _bwrap_command(self.submission) + command
        self.process = subprocess.Popen(
            command, env=env, cwd=scratch, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self.control = ours
        self.ready = False
        protocol.send(ours, {
            "isolation": self.isolation, "submission": str(self.submission), "root": str(root),
            "scratch": str(scratch), "memory_mb": self.limits.memory_mb, "processes": self.limits.processes,
            "file_size_mb": self.limits.file_size_mb, "device": self.device, "threads": self.limits.threads,
            "max_message_bytes": self.max_message_bytes, "uid": self.uid,
        })

    def wait_ready(self) -> None:
        if self.ready:
            return
        if self.process is None:
            self.start()
        try:
            reply = self._reply(SERVER_START_TIMEOUT)
        except (protocol.ChannelClosed, protocol.ChannelTimeout) as exc:
            stderr = self._stderr()
            self.kill()
            raise GraderError(f"the sandbox server did not start ({exc}): {stderr}") from None
        if "error" in reply:
            self.kill()
            raise GraderError(f"the sandbox could not be set up with isolation {self.isolation!r}: {reply['error']}")
        self.notes = list(reply.get("notes", []))
        self.ready = True

    def _reply(self, timeout: float) -> Any:
        return protocol.recv(self.control, max_bytes=1 << 20, deadline=clock.monotonic() + timeout)

    def _stderr(self) -> str:
        if self.process is None or self.process.stderr is None:
            return ""
        self.process.kill()
        return self.process.stderr.read().decode("utf-8", "replace")[-2000:]

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def spawn(self) -> Worker:
        if not self.alive():
            self.kill()
            self.start()
        self.wait_ready()
        ours, theirs = socket.socketpair()
        out_read, out_write = os.pipe()
        try:
            socket.send_fds(self.control, [b"S"], [theirs.fileno(), out_write])
            pid = self._reply(CONTROL_TIMEOUT)["pid"]
        except (OSError, protocol.ChannelClosed, protocol.ChannelTimeout) as exc:
            for resource in (ours, out_read):
                _close(resource)
            self.kill()
            raise GraderError(f"the sandbox server stopped answering: {exc}") from None
        finally:
            theirs.close()
            os.close(out_write)
        os.set_blocking(out_read, False)
        return Worker(ours, out_read, pid, self.max_message_bytes)

    def reset(self) -> dict[str, dict[str, int]]:
        """Kill every worker (and everything they started); how each one ended."""
        if not (self.ready and self.alive()):
            return {}
        try:
            socket.send_fds(self.control, [b"R"], [])
            return self._reply(CONTROL_TIMEOUT)["exits"]
        except (OSError, protocol.ChannelClosed, protocol.ChannelTimeout, KeyError, TypeError):
            self.kill()
            return {}

    def kill(self) -> None:
        """End the server and its whole namespace (or process group)."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
            isolation.kill_uid(self.uid)  # rlimits level: workers left the server's session
            if self.process.stderr is not None:
                self.process.stderr.close()
        if self.control is not None:
            self.control.close()
        self.process = self.control = None
        self.ready = False

    def restart(self) -> None:
        self.kill()
        self.start()


def _close(resource: socket.socket | int) -> None:
    resource.close() if isinstance(resource, socket.socket) else os.close(resource)


def _bwrap_command(submission: Path) -> list[str]:
    command = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    for path in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", *isolation._python_folders(),
                 PACKAGE_PARENT + "/autograder"):
        if os.path.lexists(path):
            command += ["--ro-bind", path, path]
    command += ["--bind", str(submission), isolation.SANDBOX_HOME, "--tmpfs", "/tmp", "--proc", "/proc",
                "--dev", "/dev", "--chdir", isolation.SANDBOX_HOME, "--"]
    return command


class Worker:
    """A connection to one test's worker process."""

    def __init__(self, sock: socket.socket, output_fd: int, pid: int, max_bytes: int):
        self.sock = sock
        self.output_fd = output_fd
        self.pid = pid
        self.max_bytes = max_bytes
        self.output = OutputTail()
        self.open = True

    def request(self, message: dict, *, deadline: float | None, make_handle, to_handle=None) -> Any:
        try:
            protocol.send(self.sock, message, to_handle)
        except (BrokenPipeError, ConnectionResetError):
            raise protocol.ChannelClosed("the worker is gone") from None
        frame = protocol.recv_frame(self.sock, max_bytes=self.max_bytes, deadline=deadline,
                                    drain=[self.output_fd] if self.output_fd >= 0 else [],
                                    on_readable=self._read_output)
        return codec.decode(frame, make_handle)

    def _read_output(self, fd: int) -> bool:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        self.output.add(data)
        return bool(data)

    def drain_output(self, max_reads: int = 1024) -> str:
        """What the worker printed; call after it was killed, so the pipe ends."""
        for _ in range(max_reads):
            try:
                data = os.read(self.output_fd, 1 << 16)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            self.output.add(data)
        return self.output.text()

    def close(self) -> None:
        if self.open:
            self.sock.close()
            os.close(self.output_fd)
            self.open = False
