"""Load a submission once, then fork every test's worker from it.

Importing the student's modules is student code like any other: it may loop, sleep, fork
or exit. Done in every test's worker, a submission that hangs at import paid the per-test
limit once per test (one hw1 submission took 939 s). Instead the server forks one *loader*
per submission, confined like any student process (rlimits, the sandbox's uid, the seccomp
filter), which imports the modules under a time limit and then waits. Each test's worker
is forked from the loaded state, so tests stay independent (a fresh copy per test) and an
import costs its time once. The notebook issue's "run the notebook top to bottom once"
is the same step: what :func:`autograder.sandbox.worker.preload` runs.

Between forks the loader is stopped (SIGSTOP): threads the student's import started do
not run beside the tests. A worker is forked twice over (the loader forks a child that
forks the worker and exits), so the worker is re-parented to the server, a subreaper, and
the server learns from the kernel how it ended, as it did when it forked workers itself.

Loader channel (JSON on a socketpair, see :mod:`launch`), loader to server first::

    {"importing": file} {"cell": n} ... {"loaded": true, "notes": [...]}     while loading
    {"op": "fork", "id": n} + fds (socket, output)  ->  {"pid": worker pid, "id": n}
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import socket
import sys
import traceback
from typing import Any

from autograder import clock
from autograder.sandbox import isolation, launch, worker

FORK_TIMEOUT = 30.0
SPARE_FORK_TIMEOUT = 0.5
CELL_GRACE = 2.0  # a notebook cell stops itself at its limit; the loader is killed if it is this much later


class LoadFailed(Exception):
    """The submission could not be loaded; the message is for the student. ``sticky`` when
    every later test gets it too: importing again would fail (or hang) again."""

    def __init__(self, message: str, *, timed_out: bool, sticky: bool = True):
        super().__init__(message)
        self.timed_out = timed_out
        self.sticky = sticky


class Loader:
    """The server's handle on the loader process: started on the first fork, again if it died."""

    def __init__(self, home: str, limits: isolation.Limits, config: dict[str, Any]):
        self.home, self.limits, self.config = home, limits, config
        self.modules: dict[str, str] = dict(config.get("modules", {}))  # module name -> file handed in
        self.timeout = float(config.get("load_timeout", 60.0))
        self.cell_limit = float(config.get("cell_limit", 0))
        self.seed = config.get("seed")
        self.pid = 0
        self.pidfd = -1
        self.forks = 0  # fork requests sent, each answer carries its number
        self.channel: socket.socket | None = None
        self.failure: LoadFailed | None = None
        self.notes: list[str] = []  # what the confinement could not apply (the seccomp filter)

    def alive(self) -> bool:
        if self.pid == 0:
            return False
        readable, _, _ = select.select([self.pidfd], [], [], 0)
        return not readable  # a pidfd is readable once its process has exited

    def fork_worker(self, fds: list[int], *, ahead: bool = False) -> int:
        """A new worker forked from the loaded submission; raises :class:`LoadFailed`.

        A loader that student code killed (a worker's ``kill(-1)``) is loaded again, once.
        A worker forked ``ahead`` of its test (while the last test runs) never loads the
        submission and gives up after ``SPARE_FORK_TIMEOUT``: that test may be stopping
        the processes it forks through. The loader is then left as it is; its late answer is
        skipped (each fork is numbered) and the late worker ends at the next reset.
        """
        if self.failure is not None:
            raise self.failure
        for attempt in range(2):
            if not self.alive():
                if ahead:
                    break
                self._start(output_fd=fds[1])
            try:
                return self._fork(fds, SPARE_FORK_TIMEOUT if ahead else FORK_TIMEOUT)
            except TimeoutError:
                if ahead:
                    break
                self.stop()
            except (OSError, ConnectionError, KeyError, ValueError, TypeError):
                self.stop()  # killed between tests, or answering nonsense
        raise LoadFailed("your code stopped the process that starts each test", timed_out=False, sticky=False)

    def _fork(self, fds: list[int], timeout: float) -> int:
        self.forks += 1
        deadline = clock.monotonic() + timeout
        os.kill(self.pid, signal.SIGCONT)
        try:
            launch.send_json(self.channel, {"op": "fork", "id": self.forks}, fds)
            while True:  # answers to forks that were given up on come first
                reply, _ = launch.recv_json(self.channel, timeout=max(0.0, deadline - clock.monotonic()))
                if reply.get("id") == self.forks:
                    return int(reply["pid"])
        finally:
            if self.alive():
                os.kill(self.pid, signal.SIGSTOP)

    def _start(self, *, output_fd: int) -> None:
        """Fork the loader and wait (at most the load limit) until it has imported the modules.

        What the import prints goes to ``output_fd``: the first test's output, where the student sees it.
        """
        self.stop()
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            ours.close()
            _run_loader(theirs, output_fd, self)
        theirs.close()
        self.pid, self.pidfd, self.channel = pid, os.pidfd_open(pid), ours
        deadline = step_deadline = clock.monotonic() + self.timeout
        importing, cell, limit = None, None, self.timeout
        while True:
            try:
                message, _ = launch.recv_json(ours, timeout=max(0.0, min(deadline, step_deadline) - clock.monotonic()))
            except TimeoutError:
                what = f"{_loading(importing)} {importing}" if importing else "loading your submission"
                if step_deadline < deadline:  # a cell that ignored its own limit
                    what, limit = f"cell {cell} of {importing}", self.cell_limit
                self._fail(f"{what} did not finish within {limit:g} s", timed_out=True)
            except ConnectionError:
                what = f"while {_loading(importing)} {importing}" if importing else "while loading your submission"
                self._fail(f"your code ended the process {what} ({self._how_it_ended()})", timed_out=False)
            if message.get("loaded"):
                os.kill(pid, signal.SIGSTOP)
                notes = message.get("notes")
                self.notes = [str(n)[:300] for n in notes[:20]] if isinstance(notes, list) else []
                return
            importing = str(message.get("importing", ""))[:200] or importing
            if isinstance(message.get("cell"), int) and self.cell_limit > 0:  # each cell within its limit, and a grace
                cell, step_deadline = message["cell"], clock.monotonic() + self.cell_limit + CELL_GRACE

    def _fail(self, message: str, *, timed_out: bool) -> None:
        self.stop()
        self.failure = LoadFailed(message, timed_out=timed_out)
        raise self.failure

    def _how_it_ended(self) -> str:
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return "reaped already"
        if os.WIFSIGNALED(status):
            name = signal.Signals(os.WTERMSIG(status)).name if os.WTERMSIG(status) in signal.valid_signals() \
                else f"signal {os.WTERMSIG(status)}"
            hint = " (usually the memory limit of the sandbox)" if os.WTERMSIG(status) == signal.SIGKILL else ""
            return f"killed by {name}{hint}"
        return f"exit code {os.waitstatus_to_exitcode(status)}"

    def stop(self) -> None:
        """Kill the loader and everything it started; the next fork loads the submission again."""
        if self.pid:
            isolation.kill_sandbox(self.limits.uid, groups=[self.pid])
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            os.close(self.pidfd)
            self.channel.close()
        self.pid, self.pidfd, self.channel = 0, -1, None


def _run_loader(channel: socket.socket, output_fd: int, loader: Loader) -> None:
    """The loader process: confine, import, then fork workers on request. Never returns."""
    status = 70
    try:
        # Above the standard streams first: a server started without them received these as 0-2.
        channel = socket.socket(fileno=_above_stdio(channel.detach()))
        output_fd = _above_stdio(output_fd)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        _close_all_but(0, 1, 2, channel.fileno())  # the server's channel, its log, other tests' pipes
        notes = isolation.confine_loader(loader.limits)
        worker.prepare(loader.home, threads=loader.config["threads"])
        failed, loaded_notes = worker.preload(
            loader.modules, loader.home, cell_limit=loader.cell_limit, seed=loader.seed,
            on_import=lambda filename: launch.send_json(channel, {"importing": filename}),
            on_cell=lambda index: launch.send_json(channel, {"cell": index}))
        notes += loaded_notes
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(0, 1)  # /dev/null: the first test's output pipe is that test's alone
        os.dup2(0, 2)
        launch.send_json(channel, {"loaded": True, "notes": notes})
        _fork_workers(channel, failed, loader)
        status = 0
    except BaseException:  # noqa: BLE001 - last words go to whatever stderr is now
        traceback.print_exc()
    finally:
        _exit(status)


def _exit(status: int) -> None:
    """End a forked process without running the server's code after the fork, whatever happens."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(status)


def _above_stdio(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 3)
    os.close(fd)
    return moved


def _fork_workers(channel: socket.socket, failed: dict, loader: Loader) -> None:
    server = os.getppid()
    while True:
        try:
            message, fds = launch.recv_json(channel, with_fds=2)
        except ConnectionError:
            return
        if message.get("op") != "fork" or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            continue
        read_end, write_end = os.pipe()
        middle = os.fork()
        if middle == 0:  # forks the worker and exits at once: the worker becomes the server's child
            status = 70
            try:
                os.close(read_end)
                pid = os.fork()
                if pid == 0:
                    os.close(write_end)
                    _become_worker(channel, fds, failed, loader, server=server)
                os.write(write_end, pid.to_bytes(4, "little"))
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        for fd in fds:
            os.close(fd)
        os.waitpid(middle, 0)  # once it is reaped, the worker's parent is the server
        data = os.read(read_end, 4)
        os.close(read_end)
        reply = {"pid": int.from_bytes(data, "little")} if len(data) == 4 else {"error": "fork"}
        launch.send_json(channel, {**reply, "id": message.get("id")})


def _become_worker(channel: socket.socket, fds: list[int], failed: dict, loader: Loader, *, server: int) -> None:
    status = 70
    try:
        channel.close()  # a worker cannot ask for more workers
        sock_fd, out_fd = fds
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        os.setsid()  # a group of its own: the reset's last resort where no namespace or uid reaches it
        while os.getppid() not in (server, 1):  # until the middle process is gone
            os.sched_yield()
        isolation.set_parent_death_signal()
        if os.getppid() != server:  # the server died in between
            os._exit(70)
        worker.serve(socket.socket(fileno=sock_fd), home=loader.home,
                     max_bytes=loader.config["max_message_bytes"], failed=failed, files=loader.modules)
        status = 0
    except BaseException:  # noqa: BLE001 - last words go to the captured output
        traceback.print_exc()
    finally:
        _exit(status)


def _loading(filename: str) -> str:
    return "running" if filename.endswith(".ipynb") else "importing"


def _close_all_but(*keep: int) -> None:
    """Close every descriptor but ``keep``. (``os.closerange(n, n)`` would close them all:
    it calls close_range(n, n - 1), and n - 1 wraps around when n is 0.)"""
    low = 0
    for fd in [*sorted(set(keep)), os.sysconf("SC_OPEN_MAX")]:
        if low < fd:
            os.closerange(low, fd)
        low = fd + 1
