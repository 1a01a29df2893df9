"""The sandbox server: one per submission, started by the grader in a clean ``python -I``.

It imports torch once, isolates itself (see :mod:`autograder.sandbox.isolation`) and then
forks one loader, confined and dropped to an unprivileged uid, which imports the student's
modules once; every test's worker is forked from the loader (see :mod:`loader`), so a
test costs a fork (a few milliseconds) rather than a fresh interpreter (seconds) or a
fresh import. It never holds anything secret: it was started clean, holds the submission
and nothing else.

A batch worker starts servers from a :func:`zygote` instead: a fork of a clean process that
has imported torch already.

Each test's worker is forked ahead of time: once a test has its worker, the server forks
the next test's (a *spare*) while that test runs, so a test's start costs a message rather
than the loader's double fork and the page faults of its first steps (about 10 ms, once a
test). The spare has run none of the student's code but the fork hooks the student's
import may have registered; it waits for its test's first request. The test it was forked
beside can stop or kill it, or stop the loader in the middle of that fork: a reset spares
it, it is woken and pinged when it is handed out and replaced by a fresh fork if it does
not answer, and a fork ahead gives up after half a second (see :meth:`Loader.fork_worker`).

Control channel (JSON messages on a Unix socket from the grader, see :mod:`launch`):
    the configuration                        -> {"isolation", "notes"} or {"error"}
    {"op": "spawn"}                          -> {"pid", "notes"} + fds (the worker's socket, its output),
                                                or {"load_failed", "timed_out", "sticky"} + the same fds
                                                (what the import printed) when the submission could
                                                not be loaded
    {"op": "reset"}                          -> {"exits": {pid: status}}, every worker killed (not the loader)
    {"op": "reset", "wait": false}           -> {"exits": {}}, every worker killed, reaped later
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Container, Iterable
from pathlib import Path
from typing import Any

import numpy  # noqa: F401  (imported before the uid drop and the pivot, like everything the worker needs)
import torch  # noqa: F401
import torch._dynamo  # noqa: F401  (a worker's first optimizer imports it: 1.2 s in every test that trains)

from autograder import clock
from autograder.sandbox import isolation, launch, probes, protocol, worker  # noqa: F401
from autograder.sandbox.loader import Loader, LoadFailed

REAP_TIMEOUT = 5.0
PING_TIMEOUT = 1.0  # a spare that does not answer within this is replaced by a fresh fork


def main(control_fd: int) -> int:
    control = socket.socket(fileno=control_fd)
    try:
        config, _ = launch.recv_json(control)
    except ConnectionError:  # a prelaunched server nobody adopted
        return 0
    limits = isolation.Limits(
        memory_mb=config["memory_mb"], processes=config["processes"],
        file_size_mb=config["file_size_mb"], device=config["device"], uid=config["uid"],
    )
    try:
        home, notes = _isolate(config, limits)
    except Exception as exc:  # noqa: BLE001 - reported to the grader, which fails loudly
        launch.send_json(control, {"error": f"{type(exc).__name__}: {exc}"})
        return 1
    launch.send_json(control, {"isolation": config["isolation"], "notes": notes})
    _serve(control, home, limits, config)
    isolation.kill_uid(limits.uid)  # the loader too
    return 0


def zygote(control_fd: int) -> int:
    """Fork servers on request, each a copy of this process with torch already imported.

    A batch worker grades hundreds of submissions, each in a server of its own; importing
    torch in every one costs a CPU-second. This process imports it once, never sees a
    submission and never isolates itself: its children do that after the fork, as a
    server started fresh would. Requests: ``{"op": "fork"}`` + fds (the server's control
    socket, its log) -> ``{"pid"}`` + a pidfd, for the grader to watch a process that is
    not its child. Ends when the grader closes the channel.
    """
    control = socket.socket(fileno=control_fd)
    while True:
        _reap_orphans()  # servers that ended since the last request
        try:
            message, fds = launch.recv_json(control, with_fds=2)
        except ConnectionError:
            return 0
        if message.get("op") != "fork" or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            continue
        server_fd, log_fd = fds
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                control.close()  # nothing the server runs may ask for more servers
                os.setsid()
                os.dup2(log_fd, 2)
                os.close(log_fd)
                code = main(server_fd)
            except BaseException:  # noqa: BLE001 - last words go to the server's log
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)
        os.close(server_fd)
        os.close(log_fd)
        pidfd = os.pidfd_open(pid)
        launch.send_json(control, {"pid": pid}, [pidfd])
        os.close(pidfd)


def _isolate(config: dict[str, Any], limits: isolation.Limits) -> tuple[str, list[str]]:
    level = config["isolation"]
    submission = Path(config["submission"])
    if level == "namespaces":
        userns = isolation.unshare_namespaces()
        child = os.fork()
        if child:  # stay as the outside parent: when the grader kills us, the namespace dies too
            _, status = os.waitpid(child, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        isolation.set_parent_death_signal()
        isolation.build_root(Path(config["root"]), submission, limits)
        notes = ["user namespace (not run as root)"] if userns else []
        return isolation.SANDBOX_HOME, notes
    if level == "bubblewrap":  # bwrap built the view; the submission is bound read-only at /staged
        isolation.copy_submission(submission, Path(isolation.SANDBOX_HOME), limits.uid)
        return isolation.SANDBOX_HOME, [] if os.geteuid() == 0 else ["user namespace (not run as root)"]
    home = Path(config["scratch"])
    isolation.copy_submission(submission, home, limits.uid)
    return str(home), ["no namespaces: the submission can see this machine's files and network"]


def _serve(control: socket.socket, home: str, limits: isolation.Limits, config: dict[str, Any]) -> None:
    isolation.become_subreaper()  # workers are the loader's grandchildren: their ends are reported here
    loader = Loader(home, limits, config)
    workers: set[int] = set()  # alive, or ended and not yet reported by a reset
    dying: set[int] = set()  # killed by resets that did not wait: a waited reset waits for them too
    spare: _Worker | None = None  # the next test's worker, forked while this one runs
    while True:
        try:
            message, fds = launch.recv_json(control, with_fds=2)
        except ConnectionError:
            _kill_all(workers, limits.uid, spare=())
            loader.stop()
            return
        for fd in fds:  # no request carries descriptors
            os.close(fd)
        if message.get("op") == "spawn":
            _reap_orphans(keep=workers | ({spare.pid} if spare else set()))  # what a reset that did not wait killed
            worker, spare = (spare if spare is not None and spare.answers() else None), None
            if worker is None:
                worker = _Worker.fork(loader)
            if worker.failure is not None:
                failure = worker.failure
                worker.send(control, {"load_failed": str(failure), "timed_out": failure.timed_out,
                                      "sticky": failure.sticky})
                continue
            workers.add(worker.pid)
            worker.send(control, {"pid": worker.pid, "notes": loader.notes})
            spare = _Worker.ahead(loader)  # while this test runs
        elif message.get("op") == "reset":
            wait = message.get("wait", True)
            current = set(workers)
            exits = _kill_all(workers, limits.uid, spare={loader.pid, spare.pid} if spare else {loader.pid},
                              wait=wait, also=dying)
            dying = set() if wait else dying | current
            launch.send_json(control, {"exits": exits})
            if spare is None:  # while the grader ends this test and sets up the next
                spare = _Worker.ahead(loader)


class _Worker:
    """A worker forked from the loader, with the grader's ends of its channel and output."""

    def __init__(self, pid: int, channel: socket.socket, output: int, failure: LoadFailed | None):
        self.pid, self.channel, self.output, self.failure = pid, channel, output, failure

    @classmethod
    def fork(cls, loader: Loader, *, ahead: bool = False) -> _Worker | None:
        """A new worker (or one whose load failed, for the grader to say so), loading the
        submission first if need be; forked ``ahead`` of its test, None rather than waiting."""
        ours, theirs = socket.socketpair()
        output, output_end = os.pipe()
        pid, failure = 0, None
        try:
            pid = loader.fork_worker([theirs.fileno(), output_end], ahead=ahead)
        except LoadFailed as exc:
            failure = exc  # what the import printed is in the output: the grader shows it
        finally:
            theirs.close()
            os.close(output_end)
        if failure is not None and ahead:
            ours.close()
            os.close(output)
            return None
        return cls(pid, ours, output, failure)

    @classmethod
    def ahead(cls, loader: Loader) -> _Worker | None:
        """The next test's worker, forked now and pinged (its first steps' page faults are then
        behind it); None where it cannot be had at once (the next spawn forks one then)."""
        if loader.failure is not None:
            return None
        spare = cls.fork(loader, ahead=True)
        return spare if spare is not None and spare.answers() else None

    def answers(self) -> bool:
        """Whether this worker answers a ping: asked of a spare once it is forked, and again
        when it is handed out (the test it was forked beside may have killed it)."""
        try:
            os.kill(self.pid, signal.SIGCONT)  # the test it was forked beside may have stopped it
            protocol.send(self.channel, {"op": "ping"})
            reply = protocol.recv(self.channel, max_bytes=1 << 16, deadline=clock.monotonic() + PING_TIMEOUT)
        except (OSError, ConnectionError, TimeoutError, ValueError):  # codec errors are ValueErrors
            reply = None
        if reply != {"ok": "pong"}:
            self.close()
            return False
        return True

    def send(self, control: socket.socket, reply: dict[str, Any]) -> None:
        try:
            launch.send_json(control, reply, [self.channel.fileno(), self.output])
        finally:
            self.close()

    def close(self) -> None:
        self.channel.close()
        os.close(self.output)


def _kill_all(workers: set[int], uid: int, *, spare: Container[int], wait: bool = True,
              also: Iterable[int] = ()) -> dict[str, dict[str, int]]:
    """Kill every process of the sandbox but the loader; return how each worker ended.

    Waiting, it returns once every worker is reaped, and those of ``also`` (killed by earlier
    resets that did not wait; not reported). A SIGKILLed process exits within
    milliseconds; a pid that is not our child, which a lying loader could name, is not
    waited for). Without ``wait`` the killed processes are left to exit and are reaped
    later: a SIGKILLed process never runs its own code again, and its exit (unmapping a
    torch-sized address space, a few ms) then overlaps the next worker's start.
    """
    isolation.kill_sandbox(uid, spare=spare, groups=workers)
    killed = set(workers)
    workers.clear()
    exits: dict[str, dict[str, int]] = {}
    deadline = clock.monotonic() + REAP_TIMEOUT
    for pid in sorted(killed | set(also)) if wait else ():
        while clock.monotonic() < deadline:
            try:
                ended, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # reaped already, or not ours
                break
            if ended:
                if pid in killed:
                    exits[str(pid)] = _describe(status)
                break
            time.sleep(0.001)
    if wait:
        _reap_orphans(keep=spare)  # what the workers started, re-parented to us
    return exits


def _describe(status: int) -> dict[str, int]:
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"code": os.waitstatus_to_exitcode(status)}


def _reap_orphans(keep: Container[int] = ()) -> None:
    """Reap every child that has ended, stopping at one in ``keep``: a worker whose end a
    reset still has to report."""
    while True:
        try:
            ended = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if ended is None or ended.si_pid in keep:
            return
        os.waitpid(ended.si_pid, 0)
