"""Worker processes for a batch: hand out jobs, notice crashes and hangs, restart, never lose a row.

Each slot holds one worker process (``python -I``, running :func:`autograder.batch.worker.main`)
and at most one job at a time, so the batch always knows what a dead worker was grading.
Batch and worker talk over a socket pair (a :class:`multiprocessing.connection.Connection`:
settings, jobs and summaries, all the grader's own data). A worker that dies or runs past
the hard limit is killed from here; its job is tried once more on a fresh worker, then
recorded as crashed (``on_crash``) and the batch goes on.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from autograder import clock
from autograder.errors import GraderError

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
# -I: no current folder on sys.path (a submission folder named "torch" must not shadow torch here)
WORKER = [sys.executable, "-I", "-c",
          f"import sys; sys.path.insert(0, {PACKAGE_PARENT!r}); from autograder.batch.worker import main; main()"]
RETRIES = 1  # a job whose worker crashed is tried this many more times
STARTUP_FAILURES = 3  # workers dying before their first job, in a row: the batch cannot run
TICK = 0.5  # seconds between progress updates while waiting


@dataclass
class Slot:
    index: int
    log: Path
    process: subprocess.Popen | None = None
    conn: Connection | None = None
    job: Any = None
    started: float = 0.0  # when the job was handed over, or when the worker got ready if later
    spawned: float = 0.0
    ready: bool = False
    retired: bool = False

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, command: Sequence[str], settings: Any) -> None:
        ours, theirs = socket.socketpair()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([*command, str(theirs.fileno()), str(os.getpid())],
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            pass_fds=(theirs.fileno(),))
        theirs.close()
        self.conn, self.ready, self.retired = Connection(ours.detach()), False, False
        self.spawned = clock.monotonic()
        self.conn.send(settings)

    def assign(self, job: Any) -> None:
        self.job, self.started = job, clock.monotonic()
        try:
            self.conn.send(job)
        except OSError:  # it just died: the next check reports the crash
            pass

    def kill(self) -> str:
        """End the worker; returns how it ended, for the crash reason."""
        if self.process is None:
            return "no worker"
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait()
        self.conn.close()
        self.process, self.conn = None, None
        if code < 0:
            try:
                return f"the grading process was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"the grading process was killed by signal {-code}"
        return f"the grading process exited with code {code}"

    def retire(self) -> None:
        """Ask an idle worker to finish (it ends its warm sandbox server); reaped by :meth:`stop`."""
        if self.conn is not None and not self.retired:
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.retired = True

    def stop(self) -> None:
        if self.process is None:
            return
        self.retire()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.kill()


@dataclass
class PoolEvents:
    """What the pool tells the batch: a job finished (with the worker's summary), or crashed."""

    on_done: Callable[[Any, dict[str, Any]], None]
    on_crash: Callable[[Any, str], None]
    on_retry: Callable[[Any, str], None] = lambda job, reason: None
    on_tick: Callable[[int], None] = lambda running: None
    retry: Callable[[dict[str, Any]], bool] = lambda summary: not summary.get("final", True)


@dataclass
class Pool:
    size: int
    settings: Callable[[int], Any]  # what each slot's worker is sent first (e.g. with its GPU)
    log_dir: Path
    hard_limit: float  # seconds one job may take once its worker is ready
    startup_limit: float = 120.0  # seconds a fresh worker may take to import the grader
    command: Sequence[str] | None = None  # default: WORKER
    slots: list[Slot] = field(default_factory=list)

    def run(self, jobs: Sequence[Any], events: PoolEvents) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.slots = [Slot(i + 1, self.log_dir / f"worker-{i + 1}.log") for i in range(self.size)]
        queue: deque = deque(jobs)
        attempts: dict[int, int] = {}
        failures_in_a_row = 0
        try:
            while queue or any(s.job is not None for s in self.slots):
                for slot in self.slots:
                    if slot.job is None and queue:
                        if not slot.alive:
                            if slot.process is not None:
                                slot.kill()
                            slot.start(self.command or WORKER, self.settings(slot.index - 1))
                        slot.assign(queue.popleft())
                    elif slot.job is None:
                        slot.retire()  # nothing left for it
                busy = [s for s in self.slots if s.job is not None]
                wait([s.conn for s in busy], timeout=TICK)  # a dead worker's socket reads as closed
                for slot in busy:
                    outcome = self._check(slot)
                    if outcome is None:
                        continue
                    job, slot.job = slot.job, None
                    kind, detail = outcome
                    if kind == "done" and not (events.retry(detail) and attempts.get(id(job), 0) < RETRIES):
                        failures_in_a_row = 0
                        events.on_done(job, detail)
                        continue
                    reason = detail if kind == "crash" else f"the grader failed ({detail.get('status')})"
                    if kind == "crash" and not slot.ready:
                        failures_in_a_row += 1
                        if failures_in_a_row >= STARTUP_FAILURES:
                            raise GraderError(f"batch workers keep dying before grading anything ({reason}); "
                                              f"see {slot.log}:\n{_tail(slot.log)}")
                    if attempts.get(id(job), 0) < RETRIES:
                        attempts[id(job)] = attempts.get(id(job), 0) + 1
                        events.on_retry(job, reason)
                        queue.append(job)
                    elif kind == "crash":
                        events.on_crash(job, reason)  # no worker number: rows must not depend on scheduling
                    else:
                        events.on_done(job, detail)
                events.on_tick(sum(s.job is not None for s in self.slots))
        finally:
            for slot in self.slots:
                if slot.job is not None:
                    slot.kill()
                else:
                    slot.stop()

    def _check(self, slot: Slot) -> tuple[str, Any] | None:
        """("done", summary) or ("crash", reason) for a slot's job; None while it is still running."""
        try:
            while slot.conn.poll():
                message = slot.conn.recv()
                if "ready" in message:
                    slot.ready = True
                    slot.started = max(slot.started, clock.monotonic())
                elif "done" in message:
                    return "done", message["done"]
        except (EOFError, OSError):
            return "crash", slot.kill()
        if not slot.alive:
            return "crash", slot.kill()
        if not slot.ready and clock.monotonic() - slot.spawned > self.startup_limit:
            slot.kill()
            return "crash", f"the grading process did not start within {self.startup_limit:g} s"
        if slot.ready and clock.monotonic() - slot.started > self.hard_limit:
            slot.kill()
            return "crash", f"grading did not finish within {self.hard_limit:g} s and was stopped"
        return None


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
