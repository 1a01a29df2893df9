"""Batch grading, its stages: find the submissions, plan, grade in workers, write gradebook, feedback, report.

:func:`run_batch` is a list of stages: find the submissions -> decide which need grading
(earlier results, ``force``, ``tests``) -> grade them in worker processes, each results
file written as its submission finishes -> rebuild the gradebook, the feedback files and
the report from the results files. The output folder::

    results/<student>.json      Gradescope results, plus extra_data.batch (the batch's state)
    feedback/<student>.md|html  for the student
    gradebook.csv               one row per submission (no times: the same on every run)
    report.html                 how the class did
    logs/worker-<n>.log         what each worker printed
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from autograder import clock, tempdirs
from autograder.batch import feedback, gradebook, report, store
from autograder.batch.analysis import STATUSES, load_records
from autograder.batch.fingerprint import fingerprint
from autograder.batch.pool import Pool, PoolEvents
from autograder.batch.progress import Progress, duration
from autograder.batch.submissions import BatchError, Submission, find_submissions
from autograder.batch.worker import Job, WorkerSettings
from autograder.config import AssignmentConfig, CourseConfig
from autograder.errors import ExitCode, GraderError

__all__ = ["BatchError", "run_batch"]

SANDBOX_STARTUP = 120.0  # autograder.sandbox.launch.SERVER_START_TIMEOUT
MARGIN = 60.0  # staging, collection, writing results


def run_batch(course: CourseConfig, assignment: AssignmentConfig, submissions: Path, *, out: Path, jobs: int = 0,
              runner: str = "local", device: str = "cpu", force: bool = False, tests: Sequence[str] = (),
              prelaunch: bool = True) -> ExitCode:
    """Grade every submission in ``submissions`` into ``out``; exits OK when the batch ran to the end.

    ``jobs``: parallel gradings (0: one per core; with ``device="cuda"``, one per GPU).
    ``force``: grade again submissions that already have results. ``tests``: regrade only
    the tests whose names contain one of these, and merge them into the existing results.
    """
    from autograder.sandbox import launch

    launch.discard_warm()  # the command line started a sandbox server for us; the workers grade, not this process
    start = clock.monotonic()
    out = Path(out)
    solution_dir = _solution_dir(course, assignment, runner)
    results_dir = out.resolve() / "results"  # workers get absolute paths
    tempdirs.remove_stale()  # what a batch or grader killed with SIGKILL left behind
    with tempdirs.private("batch") as scratch:
        found = find_submissions(Path(submissions), scratch, exclude=out)
        for note in found.notes:
            print(f"note: {note}")
        store.remove_leftovers(results_dir)
        _check_test_names(tests, results_dir)
        todo = plan(found.submissions, results_dir, assignment.id, force=force, tests=tests)
        workers = worker_count(jobs, device, len(todo))
        _announce(assignment, found.submissions, todo, workers, tests)
        if todo:
            settings = worker_settings(course, assignment, results_dir, solution_dir, device, runner, workers,
                                       prelaunch)
            _grade(todo, settings, workers, device, out / "logs", assignment)
        starter = _starter_fingerprint(course, assignment, scratch)
    records = load_records(found.submissions, results_dir)
    book = gradebook.build(records, points=assignment.points, starter=starter, export=found.export)
    gradebook.write_csv(book, out / "gradebook.csv")
    feedback.write_all(records, out / "feedback", assignment_title=assignment.title, points=assignment.points)
    wall = clock.monotonic() - start
    run = (f"The last run graded {len(todo)} submission(s) in {duration(wall)} with {workers} worker(s)."
           if todo else "The last run found every submission already graded.")
    report.write(out / "report.html", records=records, book=book, title=assignment.title, course=course.name,
                 run=run)
    _summary(book, out, wall, len(todo), len(found.submissions), _orphans(results_dir, found.submissions))
    return ExitCode.OK


def plan(submissions: Sequence[Submission], results_dir: Path, assignment: str, *, force: bool = False,
         tests: Sequence[str] = ()) -> list[Job]:
    """The jobs of this run: what has no final results for its current content, all with ``force``;
    with ``tests``, a regrade of those tests wherever there are results to merge them into."""
    jobs = []
    for submission in submissions:
        finished = store.is_finished(store.read(store.results_path(results_dir, submission.student)),
                                     submission, assignment)
        if tests and finished:
            jobs.append(Job(submission, tuple(tests)))
        elif force or not finished:
            jobs.append(Job(submission))
    return jobs


def _check_test_names(tests: Sequence[str], results_dir: Path) -> None:
    """A ``--tests`` name that matches no test graded so far is a typo, not a regrade of nothing."""
    known = {t["name"] for path in sorted(results_dir.glob("*.json"))[:50] if (data := store.read(path))
             for t in data["tests"]}
    unknown = [name for name in tests if known and not any(name.lower() in t.lower() for t in known)]
    if unknown:
        raise BatchError(f"--tests {', '.join(unknown)}: no test of the earlier results matches "
                         f"(tests: {', '.join(sorted(t.rsplit('::', 1)[-1] for t in known))})")


def cores() -> int:
    from autograder.sandbox.resources import available_cores

    return available_cores()


def worker_count(jobs: int, device: str, todo: int) -> int:
    """``jobs`` workers, by default one per core; on CUDA at most one per GPU."""
    if jobs < 0:
        raise BatchError(f"--jobs must be 0 (automatic) or more, got {jobs}")
    count = jobs or cores()
    if device == "cuda":
        gpus = _gpus()
        if not gpus:
            raise GraderError("--device cuda was asked for, but no CUDA device is available")
        if jobs > len(gpus):
            print(f"note: {jobs} jobs asked for, but one submission runs per GPU: using {len(gpus)}")
        count = min(jobs or len(gpus), len(gpus))
    return max(1, min(count, todo or 1))


def _gpus() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES names them for the workers."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    return (visible or [str(i) for i in range(count)])[:count]


def _solution_dir(course: CourseConfig, assignment: AssignmentConfig, runner: str) -> Path | None:
    folder = course.root / "solutions" / assignment.id
    if runner == "local" and not folder.is_dir():
        raise GraderError(f"no solution key at {folder}: run `autograder build {assignment.id}` first")
    return folder if folder.is_dir() else None


def worker_settings(course: CourseConfig, assignment: AssignmentConfig, results_dir: Path, solution_dir: Path | None,
                    device: str, runner: str, workers: int, prelaunch: bool) -> WorkerSettings:
    """Each worker and its sandboxes get an equal share of the cores, so workers do not fight over them;
    with a core to spare, each worker starts its next sandbox server while it grades."""
    available = cores()
    threads = max(1, available // workers)
    if assignment.sandbox.threads == 0:
        assignment = dataclasses.replace(assignment, sandbox=dataclasses.replace(assignment.sandbox, threads=threads))
    mode = ("ahead" if workers < available else "next") if prelaunch else ""
    return WorkerSettings(course=course, assignment=assignment, results_dir=results_dir, solution_dir=solution_dir,
                          device=device, runner=runner, threads=threads, prelaunch=mode)


def _grade(todo: list[Job], settings: WorkerSettings, workers: int, device: str, logs: Path,
           assignment: AssignmentConfig) -> None:
    progress = Progress(total=len(todo), todo=len(todo))
    gpus = _gpus() if device == "cuda" else []

    def settings_for(slot: int) -> WorkerSettings:
        return dataclasses.replace(settings, env={"CUDA_VISIBLE_DEVICES": gpus[slot]} if gpus else {})

    def done(job: Job, summary: dict) -> None:
        status = "regrade failed, earlier results kept" if summary.get("kept") else summary.get("status", "?")
        detail = f" {summary['score']:g}/{summary['max_score']:g}" if "score" in summary else ""
        progress.finished(job.submission.student, status, f"{detail} ({summary.get('seconds', 0):.1f} s)")

    def crashed(job: Job, reason: str) -> None:
        old = store.read(store.results_path(settings.results_dir, job.submission.student))
        if job.tests and old is not None:
            progress.finished(job.submission.student, "regrade failed, earlier results kept", f": {reason}")
            return
        store.write_crash(settings.results_dir, job.submission, assignment.id, reason)
        progress.finished(job.submission.student, "crashed", f": {reason} (the workers' logs are in {logs})")

    def retry(job: Job, reason: str) -> None:
        progress.note(f"{job.submission.student}: {reason}; trying once more on a fresh worker")

    hard_limit = assignment.time_limit + SANDBOX_STARTUP + MARGIN
    pool = Pool(size=workers, settings=settings_for, log_dir=logs, hard_limit=hard_limit)
    try:
        pool.run(todo, PoolEvents(on_done=done, on_crash=crashed, on_retry=retry, on_tick=progress.tick))
    except KeyboardInterrupt:
        progress.note("interrupted: every finished submission is saved; run the same command again to resume")
        raise
    finally:
        progress.close()


def _starter_fingerprint(course: CourseConfig, assignment: AssignmentConfig, scratch: Path) -> str | None:
    release = course.root / "student_release" / assignment.id
    if not release.is_dir():
        return None
    from autograder.grade.submission import stage_submission

    try:
        staged = stage_submission(release, assignment, scratch / "starter")
    except Exception:  # noqa: BLE001 - no starter code to compare with
        return None
    return fingerprint(staged.path, assignment.files)


def _announce(assignment: AssignmentConfig, submissions: Sequence[Submission], todo: list[Job], workers: int,
              tests: Sequence[str]) -> None:
    regrades = sum(1 for job in todo if job.tests)
    skipped = len(submissions) - len(todo)
    parts = [f"{assignment.id}: {len(submissions)} submission(s)"]
    if regrades:
        parts.append(f"regrading tests matching {', '.join(tests)} in {regrades}")
    if len(todo) - regrades:
        parts.append(f"{len(todo) - regrades} to grade")
    if skipped:
        parts.append(f"{skipped} already graded (--force grades them again)")
    print(", ".join(parts) + (f"; {workers} worker(s)" if todo else ""), flush=True)


def _orphans(results_dir: Path, submissions: Sequence[Submission]) -> list[str]:
    known = {s.student for s in submissions}
    return sorted(p.stem for p in results_dir.glob("*.json") if p.stem not in known) if results_dir.is_dir() else []


def _summary(book, out: Path, wall: float, graded: int, total: int, orphans: list[str]) -> None:
    counts = book["status"].value_counts()
    totals = book["total"].astype(float)
    maximum = float(book["max_score"].max())
    print(f"done in {duration(wall)}: {graded} of {total} submission(s) graded this run")
    print("  " + ", ".join(f"{int(counts.get(s, 0))} {s}" for s in STATUSES))
    print(f"  mean {totals.mean():.2f} / {maximum:g}, median {statistics.median(totals):g}")
    identical = book[(book["identical_group"] != "") & (book["identical_group"] != "starter code")]
    if len(identical):
        print(f"  {len(identical)} submission(s) share their code with another (identical_group)")
    if orphans:
        print(f"  note: {len(orphans)} results file(s) in {out / 'results'} match no submission now "
              f"(e.g. {orphans[0]}); they are not in the gradebook", file=sys.stderr)
    print(f"gradebook: {out / 'gradebook.csv'}\nfeedback:  {out / 'feedback'}/<student>.md, .html\n"
          f"report:    {out / 'report.html'}")
