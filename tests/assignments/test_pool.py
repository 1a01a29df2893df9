"""The catalogue's grading pool: a worker that dies or hangs fails only the job it had; the others are graded."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from autograder.batch.worker import WorkerSettings
from autograder.grade.results import Results
from tests.assignments.catalogue import COURSE
from tests.assignments.pool import Graded, Job, grade_all


def grader(job: Job, settings: WorkerSettings) -> Graded:
    """Stands in for grade() in the workers (module level, so "spawn" finds it): job names say what to do."""
    if job.name.startswith("crash"):
        os._exit(3)
    if job.name.startswith("hang"):
        time.sleep(600)
    return Graded(job.out, Results(assignment=settings.assignment.id, tests=(), output="",
                                   execution_time=0.0))


@pytest.mark.slow
def test_a_dead_or_hung_worker_fails_only_its_job(tmp_path: Path):
    # runner "container": no zygote is started, as these jobs start no sandbox
    settings = WorkerSettings(course=COURSE, assignment=COURSE.assignment("hw2"), results_dir=tmp_path,
                              solution_dir=None, runner="container")
    names = ["ok-1", "crash", "ok-2", "hang", "ok-3"]
    jobs = [Job(name, tmp_path / name, tmp_path / f"{name}.json") for name in names]
    outcomes = grade_all(settings, jobs, workers=2, deadline=10, grader=grader)
    assert sorted(outcomes) == sorted(names)
    assert outcomes["crash"].results is None
    assert "the grading worker died (exit code 3) while grading crash" in outcomes["crash"].problem
    assert outcomes["hang"].results is None
    assert "still grading hang after 10 s, and was killed" in outcomes["hang"].problem
    for name in ("ok-1", "ok-2", "ok-3"):
        assert outcomes[name].results is not None and outcomes[name].problem == "", outcomes[name]
