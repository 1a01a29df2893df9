"""Grade many submissions of one assignment at once, in worker processes set up like batch workers.

For the catalogue tests, which grade a hundred variants of a solution key each: one grading after
another, every sandbox server a fresh interpreter importing torch (a CPU-second each), kept one core
busy for half an hour. Here each worker is prepared once (:func:`autograder.batch.worker.prepare`:
torch imported, servers forked from a zygote, the next one started between jobs) and there is one
worker per core. Workers are started with "spawn": the test process has torch and its threads
loaded, which a plain fork does not copy safely. A worker that dies or hangs costs only the
submission it was grading (its reason is that submission's outcome); a fresh one takes its place.
"""

from __future__ import annotations

import multiprocessing
import signal
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

from autograder import clock
from autograder.batch.worker import WorkerSettings
from autograder.grade.results import Results

TICK = 1.0  # seconds between looks at the workers' deadlines


@dataclass(frozen=True)
class Job:
    name: str
    submission: Path
    out: Path  # the results file grade() writes
    select: tuple[str, ...] = ()


@dataclass(frozen=True)
class Graded:
    """One job's results, or why there are none (``problem``: a traceback, a crash, a hang)."""

    out: Path
    results: Results | None
    problem: str = ""


Grader = Callable[[Job, WorkerSettings], Graded]


class _Worker:
    def __init__(self, context: multiprocessing.context.BaseContext, settings: WorkerSettings, grader: Grader):
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(theirs, settings, grader), daemon=True)
        self.process.start()
        theirs.close()
        self.job: Job | None = None
        self.since = 0.0

    def give(self, job: Job) -> None:
        self.job, self.since = job, clock.monotonic()
        self.conn.send(job)

    def outcome(self, ready: list, deadline: float) -> Graded | None:
        """The current job's outcome once there is one: its answer, or the reason this worker ended."""
        job = self.job
        if self.conn in ready or self.process.sentinel in ready:
            try:
                if self.conn.poll():
                    return self.conn.recv()
            except (EOFError, OSError):
                pass
            self.process.join()
            return Graded(job.out, None, f"the grading worker died (exit code {self.process.exitcode}) "
                                         f"while grading {job.name}")
        if clock.monotonic() - self.since > deadline:
            self.process.kill()
            self.process.join()
            return Graded(job.out, None, f"the grading worker was still grading {job.name} after {deadline:.0f} s, "
                                         f"and was killed")
        return None

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(10)
            self.process.kill()
        self.process.join()
        self.conn.close()


def grade_all(settings: WorkerSettings, jobs: Sequence[Job], *, workers: int, deadline: float,
              grader: Grader | None = None) -> dict[str, Graded]:
    """Every job graded by one of ``workers`` processes; outcomes by job name. A job still running
    after ``deadline`` seconds is stopped with its worker. ``grader`` (a module-level function, for
    "spawn" to find) defaults to :func:`autograder.grade.grade`."""
    context = multiprocessing.get_context("spawn")
    grader = grader or _grade
    todo = deque(jobs)
    outcomes: dict[str, Graded] = {}
    pool = [_Worker(context, settings, grader) for _ in range(min(workers, len(todo)))]
    try:
        while todo or any(w.job is not None for w in pool):
            for worker in pool:
                if worker.job is None and todo:
                    worker.give(todo.popleft())
            busy = [w for w in pool if w.job is not None]
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=TICK)
            for index, worker in enumerate(pool):
                outcome = worker.outcome(ready, deadline) if worker.job is not None else None
                if outcome is None:
                    continue
                outcomes[worker.job.name] = outcome
                worker.job = None
                if not worker.process.is_alive():
                    worker.stop()
                    if todo:
                        pool[index] = _Worker(context, settings, grader)
    finally:
        for worker in pool:
            worker.stop()
    return outcomes


def _serve(conn: Connection, settings: WorkerSettings, grader: Grader) -> None:
    """A worker: prepared as a batch worker is, it grades job after job until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the test session's to handle
    from autograder.batch.worker import answer_jobs, prepare

    prepare(settings)
    answer_jobs(conn, settings, lambda job: grader(job, settings))


def _grade(job: Job, settings: WorkerSettings) -> Graded:
    from autograder.grade import grade

    try:
        results = grade(settings.assignment, job.submission, out=job.out, device=settings.device,
                        solution_dir=settings.solution_dir, select=job.select)
    except Exception:  # noqa: BLE001 - the job's outcome, reported by its test
        return Graded(job.out, None, f"grading {job.name} raised:\n{traceback.format_exc()}")
    return Graded(job.out, results)
