"""The sandbox server: one per submission, started by the grader in a clean ``python -I``.

It imports torch once, isolates itself (see :mod:`autograder.sandbox.isolation`) and then
forks one loader, confined and dropped to an unprivileged uid, which imports the student's
modules once; every test's worker is forked from the loader (see :mod:`loader`), so a
test costs a fork (a few milliseconds) rather than a fresh interpreter (seconds) or a
fresh import. It never holds anything secret: it was started clean, holds the submission
and nothing else.

A batch worker starts servers from a :func:`zygote` instead: a fork of a clean process that
has imported torch already.

Control channel (JSON messages on a Unix socket from the grader, see :mod:`launch`):
    the configuration                        -> {"isolation", "notes"} or {"error"}
    {"op": "spawn"} + fds (socket, output)   -> {"pid", "notes"}, or {"load_failed", "timed_out", "sticky"}
                                                when the submission could not be loaded
    {"op": "reset"}                          -> {"exits": {pid: status}}, every worker killed (not the loader)
    {"op": "reset", "wait": false}           -> {"exits": {}}, every worker killed, reaped later
"""

from __future__ import annotations

import os
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
from autograder.sandbox import isolation, launch, probes, worker  # noqa: F401
from autograder.sandbox.loader import Loader, LoadFailed

REAP_TIMEOUT = 5.0


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
    while True:
        try:
            message, fds = launch.recv_json(control, with_fds=2)
        except ConnectionError:
            _kill_all(workers, limits.uid, spare=())
            loader.stop()
            return
        if message.get("op") == "spawn" and len(fds) == 2:
            _reap_orphans(keep=workers)  # what a reset that did not wait killed
            try:
                pid = loader.fork_worker(fds)
            except LoadFailed as failure:
                launch.send_json(control, {"load_failed": str(failure), "timed_out": failure.timed_out,
                                           "sticky": failure.sticky})
            else:
                workers.add(pid)
                launch.send_json(control, {"pid": pid, "notes": loader.notes})
        elif message.get("op") == "reset":
            wait = message.get("wait", True)
            current = set(workers)
            exits = _kill_all(workers, limits.uid, spare={loader.pid}, wait=wait, also=dying)
            dying = set() if wait else dying | current
            launch.send_json(control, {"exits": exits})
        for fd in fds:
            os.close(fd)


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
