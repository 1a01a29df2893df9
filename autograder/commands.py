"""What each command does and prints: build, grade, check, validate.

Each takes the loaded course and keyword arguments, prints for a person, and returns an
:class:`ExitCode`. The work itself lives in :mod:`autograder.build` and
:mod:`autograder.grade`; this module only orders the stages and reports.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from autograder import build as build_stage
from autograder import clock, tempdirs
from autograder.config import CourseConfig
from autograder.errors import ConfigError, ExitCode, GraderError
from autograder.grade import grade as grade_submission
from autograder.grade.results import Results


def build(course: CourseConfig, ids: Sequence[str], *, check: bool = False) -> ExitCode:
    course.select(ids)  # unknown ids fail before anything is written
    if check:
        differing = build_stage.check(course, ids)
        for path in differing:
            print(f"differs: {path}")
        if differing:
            print(f"{len(differing)} file(s) differ from a fresh build: run `autograder build` and commit",
                  file=sys.stderr)
            return ExitCode.FAILED
        print("build is up to date")
        return ExitCode.OK
    start = clock.perf_counter()
    build_stage.build(course, ids)
    for assignment in course.select(ids):
        print(f"built {assignment.id}: student_release/{assignment.id}, solutions/{assignment.id}")
    print(f"done in {clock.perf_counter() - start:.2f} s")
    return ExitCode.OK


def grade(course: CourseConfig, assignment_id: str, submission: Path, *, out: Path, device: str = "cpu",
          public_only: bool = False, tests: Sequence[str] = (), runner: str = "local") -> ExitCode:
    assignment = course.assignment(assignment_id)
    if runner == "container":
        from autograder.container import grade_in_container

        results = grade_in_container(course, assignment, submission, out=out, device=device,
                                     public_only=public_only, tests=tests)
    else:
        results = grade_submission(assignment, submission, out=out, device=device,
                                   solution_dir=solution_key(course, assignment_id), hidden=not public_only,
                                   select=tests)
    print_table(results)
    print(f"results written to {out}")
    return ExitCode.OK


def solution_key(course: CourseConfig, assignment_id: str) -> Path:
    folder = course.root / "solutions" / assignment_id
    if not folder.is_dir():
        raise GraderError(f"no solution key at {folder}: run `autograder build {assignment_id}` first")
    return folder


def check(course: CourseConfig, assignment_id: str | None, *, folder: Path) -> ExitCode:
    if assignment_id is None:
        if len(course.assignments) != 1:
            raise ConfigError(course.root, "several assignments here: name one, e.g. `autograder check hw1`")
        assignment_id = course.assignments[0].id
    assignment = course.assignment(assignment_id)
    results = grade_submission(assignment, folder, out=None, hidden=False, solution_dir=None)
    print_table(results)
    passed = sum(t.passed for t in results.tests)
    print(f"\n{passed} of {len(results.tests)} public tests passed ({results.score:g}/{results.max_score:g} points).")
    print("These are the public tests only: hidden tests are graded too, so passing them all "
          "does not guarantee full marks.")
    return ExitCode.OK


def validate(course: CourseConfig, assignment_id: str) -> ExitCode:
    """Build, then: the solution key scores full marks, the blank release scores 0 without a crash."""
    assignment = course.assignment(assignment_id)
    build_stage.build(course, [assignment_id])
    problems = []
    with tempdirs.private("validate") as scratch:
        key = grade_submission(assignment, course.root / "solutions" / assignment_id, out=scratch / "key.json",
                               solution_dir=solution_key(course, assignment_id))
        blank = grade_submission(assignment, course.root / "student_release" / assignment_id,
                                 out=scratch / "blank.json", solution_dir=solution_key(course, assignment_id))
        # What students run: public tests without the key must pass on the key too.
        public = grade_submission(assignment, course.root / "solutions" / assignment_id, out=None,
                                  hidden=False, solution_dir=None)
    print(f"solution key: {key.score:g}/{key.max_score:g} in {key.execution_time:.1f} s")
    for test in key.tests:
        mark = "ok  " if test.passed else "FAIL"
        print(f"  {mark} {test.time_s:7.2f} s  {test.name}")
        if not test.passed:
            problems.append(f"the solution key fails {test.name}: {test.output}")
    if abs(key.max_score - assignment.points) > 1e-9:
        problems.append(f"the tests are worth {key.max_score:g} points, grading.toml says {assignment.points:g}")
    if public.score != public.max_score:
        problems.append("the public tests, run as `autograder check` runs them, fail on the key: "
                        + ", ".join(t.name for t in public.tests if not t.passed))
    print(f"blank release: {blank.score:g}/{blank.max_score:g} ({blank.status})")
    if blank.score != 0:
        scored = [t.name for t in blank.tests if t.score > 0]
        problems.append(f"the blank release scores {blank.score:g}: {', '.join(scored)}")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    print("valid" if not problems else f"{len(problems)} problem(s)")
    return ExitCode.OK if not problems else ExitCode.FAILED


def print_table(results: Results) -> None:
    width = max([len(t.name) for t in results.tests] + [20])
    for test in results.tests:
        status = "passed" if test.passed else "FAILED"
        print(f"{test.number:>6}  {test.name:<{width}}  {test.score:5g}/{test.max_score:<5g} {status}")
        if not test.passed and test.visibility == "visible":
            for line in test.output.splitlines()[:12]:
                print(f"{'':8}{line}")
    print(f"total: {results.score:g}/{results.max_score:g}  ({results.status}, {results.execution_time:.1f} s)")


def batch(course: CourseConfig, assignment_id: str, submissions: Path, *, out: Path, jobs: int = 0,
          runner: str = "local", device: str = "cpu", force: bool = False, tests: Sequence[str] = ()) -> ExitCode:
    from autograder.batch import run_batch

    return run_batch(course, course.assignment(assignment_id), submissions, out=out, jobs=jobs, runner=runner,
                     device=device, force=force, tests=tests)


def gradescope(course: CourseConfig, assignment_id: str, *, out: Path) -> ExitCode:
    from autograder.gradescope import write_autograder_zip

    path = write_autograder_zip(course, course.assignment(assignment_id), out=out)
    print(f"wrote {path}: upload it as the assignment's autograder (see README, Gradescope)")
    return ExitCode.OK
