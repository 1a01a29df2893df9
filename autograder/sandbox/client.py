"""The grader's side of the sandbox: configure the server, spawn workers, call student code.

Everything the student's side sends is decoded by :mod:`autograder.sandbox.codec` into
fresh values; nothing it prints, writes or exits with is a verdict. Time limits are
enforced here, outside the sandbox: a late reply kills the whole sandbox, and the next
test gets a fresh one.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.config import SandboxLimits
from autograder.errors import GraderError
from autograder.sandbox import cgroups, codec, isolation, launch, protocol, resources

CONTROL_TIMEOUT = 30.0
SERVER_MEMORY_MB = 512  # what the server and loader add in the cgroup beside the student's memory_mb
THREADS_PER_PROCESS = 8  # pids.max counts threads: torch's, Python's
_stale_groups_removed = False
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


class LoadError(SandboxFailure):
    """The submission's modules could not be loaded (once per submission, see
    :mod:`autograder.sandbox.loader`): every test that needs the sandbox fails with this.
    ``output`` is what the student's code printed while it was loaded; ``sticky`` when every
    later test would fail the same way (not for a loader a worker killed)."""

    output = ""
    sticky = True


class LoadTimedOut(LoadError, TimedOut):
    pass


class LoadCrashed(LoadError, SandboxDied):
    pass


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
    """One submission's sandbox server; adopts a prelaunched one when there is one."""

    def __init__(self, *, submission: Path, workdir: Path, limits: SandboxLimits, device: str,
                 modules: dict[str, str] | None = None, load_timeout: float = 60.0, cell_limit: float = 0,
                 seed: int | None = None):
        """``modules`` (name -> file handed in) are loaded once, by the sandbox's loader, within
        ``load_timeout`` seconds: a ``.py`` imported, a notebook run top to bottom (each cell
        within ``cell_limit`` seconds, from ``seed`` when one is given)."""
        self.submission = submission
        self.modules = dict(modules or {})
        self.load_timeout = load_timeout
        self.cell_limit = cell_limit
        self.seed = seed
        self.workdir = workdir
        self.limits = limits
        self.device = device
        self.max_message_bytes = limits.reply_mb << 20
        self.isolation = launch.resolve_isolation(limits.isolation)
        # below the machine's own memory limit, or its out-of-memory killer ends the grader too
        self.memory_mb, self.memory_note = resources.fit(limits.memory_mb, resources.cgroup_memory_limit())
        self.threads = limits.threads or resources.available_cores()  # torch's in the sandbox, and its CPU share
        self.uid = 0
        self.notes: list[str] = []
        self.group: cgroups.SandboxGroup | None = None  # all the sandbox's processes' memory, CPU and count
        self.group_note = ""
        self.oom_kills_seen = 0
        self.oom_kills_unreported = 0
        self.server: launch.ServerProcess | None = None
        self.ready = False
        self.starts = 0
        self.unread_replies = 0  # replies to resets sent without waiting; read before the next reply

    def start(self) -> None:
        """Start (or adopt) a server and send it this submission; it gets ready in the background."""
        self.starts += 1
        self.uid = launch.new_uid()  # a fresh uid: nothing left over from a killed run counts against it
        root = self.workdir / f"root-{self.starts}"
        scratch = self.workdir / f"scratch-{self.starts}"
        root.mkdir(parents=True)
        scratch.mkdir(mode=0o700)  # the rlimits level's home: the server hands it to the sandbox's uid
        try:
            self.server = launch.take_warm(self.isolation) or launch.start_server(
                self.isolation, submission=self.submission, file_size_mb=self.limits.file_size_mb)
        except OSError as exc:  # no process could be made (EAGAIN, ENOMEM): the machine's fault, not the student's
            raise GraderError(f"the sandbox server could not be started: {exc}") from exc
        self.ready = False
        launch.send_json(self.server.control, {
            "isolation": self.isolation, "root": str(root), "scratch": str(scratch),
            "submission": "/staged" if self.isolation == "bubblewrap" else str(self.submission),
            "memory_mb": self.memory_mb, "processes": self.limits.processes,
            "file_size_mb": self.limits.file_size_mb, "device": self.device, "uid": self.uid,
            "threads": self.threads,
            "max_message_bytes": self.max_message_bytes,
            "modules": self.modules, "load_timeout": self.load_timeout, "cell_limit": self.cell_limit,
            "seed": self.seed,
        })

    def wait_ready(self) -> None:
        if self.ready:
            return
        if self.server is None:
            self.start()
        try:
            reply, _ = self._reply(launch.SERVER_START_TIMEOUT)
        except (ConnectionError, TimeoutError) as exc:
            log = self.server.kill()
            self.server = None
            raise GraderError(f"the sandbox server did not start ({exc}): {log}") from None
        if "error" in reply:
            self.kill()
            raise GraderError(f"the sandbox could not be set up with isolation {self.isolation!r}: {reply['error']}")
        self._bound()
        self.notes = list(reply.get("notes", [])) + [n for n in (self.memory_note, self.group_note) if n]
        self.ready = True

    def _bound(self) -> None:
        """Move the server (its loader and workers are born inside) into a cgroup of its own.

        It holds the memory of all the sandbox's processes together to ``memory_mb`` (plus
        what the server itself adds), its CPU to its threads' worth of cores, and its
        process count; where no cgroup can be had, the results say so.
        """
        global _stale_groups_removed
        if not _stale_groups_removed:  # groups of graders killed with SIGKILL
            cgroups.remove_stale()
            _stale_groups_removed = True
        try:
            self.group = cgroups.SandboxGroup.create(
                f"sandbox-{self.uid}", memory_mb=self.memory_mb + SERVER_MEMORY_MB, cpus=self.threads,
                processes=self.limits.processes + THREADS_PER_PROCESS * self.threads + 16)
        except cgroups.CgroupUnavailable as exc:
            self.group_note = (f"no cgroup for this sandbox ({exc}): memory is bounded per process only, "
                               "and CPU time is not shared fairly")
            return
        try:
            self.group.add_tree(self.server.process.pid)
        except OSError as exc:
            self.kill()
            raise GraderError(f"the sandbox server could not be moved into its cgroup: {exc}") from None
        self.oom_kills_seen = 0

    def new_oom_kills(self) -> int:
        """How often since the last call the sandbox's cgroup reached its memory limit, or its OOM
        killer ended one of its processes (counting a group a restart closed meanwhile): each
        time, the student's processes together wanted more than ``memory_mb``."""
        new, self.oom_kills_unreported = self.oom_kills_unreported, 0
        if self.group is not None:
            total = self._memory_events()
            new, self.oom_kills_seen = new + total - self.oom_kills_seen, total
        return new

    def _memory_events(self) -> int:
        return self.group.oom_kills() + self.group.limit_hits()

    def _reply(self, timeout: float, *, with_fds: int = 0) -> tuple[dict, list[int]]:
        while self.unread_replies:  # the server answers in order: first what was not waited for
            launch.recv_json(self.server.control, timeout=timeout)
            self.unread_replies -= 1
        return launch.recv_json(self.server.control, timeout=timeout, with_fds=with_fds)

    def alive(self) -> bool:
        return self.server is not None and self.server.process.poll() is None

    def spawn(self) -> Worker:
        """A fresh worker for one test; raises :class:`LoadError` when the submission cannot be loaded.

        The first spawn waits while the loader imports the submission (at most ``load_timeout``).
        """
        if not self.alive():
            self.restart()
        self.wait_ready()
        try:
            launch.send_json(self.server.control, {"op": "spawn"})
            reply, fds = self._reply(CONTROL_TIMEOUT + self.load_timeout, with_fds=2)
        except (OSError, ConnectionError, TimeoutError) as exc:
            self.kill()
            raise GraderError(f"the sandbox server stopped answering: {exc}") from None
        if len(fds) != 2 or not ("pid" in reply or "load_failed" in reply):
            for fd in fds:
                os.close(fd)
            self.kill()
            raise GraderError(f"the sandbox server sent a malformed answer to a spawn: {reply}")
        ours, out_read = socket.socket(fileno=fds[0]), fds[1]
        os.set_blocking(out_read, False)
        if "load_failed" in reply:
            failure = (LoadTimedOut if reply.get("timed_out") else LoadCrashed)(str(reply["load_failed"]))
            failure.sticky = reply.get("sticky") is not False
            failure.output = Worker(ours, out_read, 0, 0).drain_output()  # what the import printed
            ours.close()
            os.close(out_read)
            raise failure
        pid = reply["pid"]
        self.notes += [n for n in reply.get("notes", []) if n not in self.notes]  # from the loader's confinement
        return Worker(ours, out_read, pid, self.max_message_bytes)

    def reset(self, *, wait: bool = True) -> dict[str, dict[str, int]]:
        """Kill every worker (and everything they started); how each one ended.

        With ``wait=False`` the server kills and answers at once (it reaps the killed
        processes later), and the grader goes on without reading the answer. The next
        spawn is queued behind the reset, so no worker of this test runs beside the next one.
        """
        if not (self.ready and self.alive()):
            return {}
        try:
            launch.send_json(self.server.control, {"op": "reset", "wait": wait})
            if not wait:
                self.unread_replies += 1
                return {}
            return self._reply(CONTROL_TIMEOUT)[0]["exits"]
        except (OSError, ConnectionError, TimeoutError, KeyError, TypeError):
            self.kill()
            return {}

    def kill(self) -> None:
        """End the server and its whole namespace (or process group), and the uid's processes."""
        if self.server is not None:
            self.server.kill()
            isolation.kill_uid(self.uid)  # rlimits level: workers left the server's session
        if self.group is not None:
            self.oom_kills_unreported += self._memory_events() - self.oom_kills_seen  # for this test's message
            self.group.close()  # what escaped both; a group left behind is removed at the next start
            self.group = None
        self.server = None
        self.ready = False
        self.unread_replies = 0

    def restart(self) -> None:
        self.kill()
        self.start()


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
