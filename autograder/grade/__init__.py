"""Grade one submission: stage it, start its sandbox, run the tests with pytest, write results.

:func:`grade` always writes a complete results file, whatever happens: an invalid
submission scores 0 on every test with the reason; a failure of the grader itself writes
score 0 and the reason, and is raised as :class:`GraderError` afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from autograder import clock, tempdirs
from autograder.config import AssignmentConfig
from autograder.errors import GraderError, SubmissionError
from autograder.grade.results import Results, graded_or_failed

# pytest, torch and the sandbox are imported when grading starts, not with this package:
# `import autograder.grade.results` stays light (the container runner's host side and the
# Gradescope package use it without ever importing torch).
if TYPE_CHECKING:
    from autograder.grade.plugin import GradingPlugin
    from autograder.grade.submission import StagedSubmission
    from autograder.sandbox.client import Sandbox

__all__ = ["grade"]


def grade(
    assignment: AssignmentConfig,
    submission: Path,
    *,
    out: Path | None = Path("results.json"),
    device: str = "cpu",
    solution_dir: Path | None = None,
    hidden: bool = True,
    tests_dir: Path | None = None,
    select: Sequence[str] = (),
) -> Results:
    """Grade ``submission`` against the assignment's public (and, if ``hidden``, hidden) tests.

    ``solution_dir`` holds the solution key that hidden tests compare against;
    ``tests_dir`` defaults to the assignment's ``tests`` folder; ``select`` keeps only
    tests whose node id contains one of the strings.
    """
    start = clock.monotonic()
    tempdirs.remove_stale()  # what a grader killed with SIGKILL left behind
    return graded_or_failed(
        assignment.id,
        lambda: _grade(assignment, Path(submission), device=device, solution_dir=solution_dir, hidden=hidden,
                       tests_dir=tests_dir or assignment.source / "tests", select=select, start=start),
        out=out, start=start, now=clock.monotonic)


def _grade(assignment: AssignmentConfig, submission: Path, *, device: str, solution_dir: Path | None,
           hidden: bool, tests_dir: Path, select: Sequence[str], start: float) -> Results:
    from autograder.grade.plugin import GradingPlugin
    from autograder.grade.student import SandboxRunner
    from autograder.sandbox.client import Sandbox

    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise GraderError("--device cuda was asked for, but no CUDA device is available")
    with tempdirs.private("grade") as workdir:
        os.chmod(workdir, 0o711)  # the sandbox's uid must reach its scratch folder
        staged, invalid, unstaged = _stage(submission, assignment, workdir / "submission")
        sandbox = None
        if staged is not None:
            sandbox = Sandbox(submission=staged.path, workdir=workdir / "sandbox", limits=assignment.sandbox,
                              device=device, modules=assignment.modules, load_timeout=assignment.load_limit,
                              cell_limit=assignment.test_time_limit, seed=assignment.seed)
            try:
                sandbox.start()  # imports torch in the background while pytest collects
            except GraderError:
                pass  # each test that needs it starts it again, and is a grader error with the reason if it fails
        runner = SandboxRunner(sandbox, total_limit=assignment.time_limit, invalid=invalid, grader_failure=unstaged)
        plugin = GradingPlugin(assignment=assignment, runner=runner, solution_dir=solution_dir,
                               device=device, hidden_root=(tests_dir / "hidden").resolve(),
                               submission_dir=staged.path if staged is not None else None)
        try:
            exit_code = _run_pytest(tests_dir, plugin, hidden=hidden, select=select, workdir=workdir)
        finally:
            if sandbox is not None:
                sandbox.kill()
        return _results(assignment, plugin, staged, invalid, sandbox, exit_code, clock.monotonic() - start)


def _stage(submission: Path, assignment: AssignmentConfig,
           target: Path) -> tuple[StagedSubmission | None, str | None, str | None]:
    """(the staged submission, why the submission is invalid, why the grader could not stage it).

    A grader's failure (a full disk) still runs pytest, so that every test is in the results.
    """
    from autograder.grade.submission import stage_submission

    try:
        return stage_submission(submission, assignment, target), None, None
    except SubmissionError as exc:
        return None, str(exc), None
    except OSError as exc:
        return None, None, f"staging the submission failed: {exc}"


def _run_pytest(tests_dir: Path, plugin: GradingPlugin, *, hidden: bool, select: Sequence[str], workdir: Path) -> int:
    import pytest

    from autograder.grade.plugin import unload_modules

    folders = [tests_dir / "public"] + ([tests_dir / "hidden"] if hidden else [])
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n")
    args = [str(f) for f in folders if f.is_dir()] + [
        "-c", str(ini), "--rootdir", str(tests_dir), "--import-mode=importlib", "--assert=plain",
        "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:stepwise", "-p", "no:warnings",
        # these two run gc.collect() five times at exit (0.2 s) to report exceptions nobody reads here
        "-p", "no:unraisableexception", "-p", "no:threadexception",
        "-W", "ignore",
    ]
    if select:
        args += ["-k", " or ".join(select)]
    previous = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        return int(pytest.main(args, plugins=[plugin]))
    finally:
        plugin.solutions.unload()
        unload_modules(tests_dir.resolve())
        if previous is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = previous


def _results(assignment: AssignmentConfig, plugin: GradingPlugin, staged: StagedSubmission | None,
             invalid: str | None, sandbox: Sandbox | None, exit_code: int, elapsed: float) -> Results:
    import pytest

    problems = list(dict.fromkeys(plugin.grader_errors()))  # one failure shared by every test is said once
    if exit_code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        problems.append(f"pytest stopped with {pytest.ExitCode(exit_code).name}")
    if not plugin.items and not problems:
        problems.append("no tests were collected")
    tests = tuple(plugin.results())
    if problems:
        return Results(assignment=assignment.id, tests=tests, execution_time=elapsed, status="grader error",
                       output="The grader could not grade this submission:\n\n" + "\n".join(problems))
    lines = []
    status = "graded"
    if invalid is not None:
        status = "invalid submission"
        lines.append(f"**Invalid submission:** {invalid}")
    if staged is not None:
        lines += [f"- {note}" for note in staged.notes]
        missing = staged.missing(assignment)
        if missing:
            lines.append(f"Missing from your submission: {', '.join(missing)}")
    kinds = {t.failure for t in tests}
    if status == "graded" and "timeout" in kinds:
        status = "timed out"
    elif status == "graded" and "crash" in kinds:
        status = "crashed"
    if sandbox is not None:
        lines.append(f"Isolation: {sandbox.isolation}" + "".join(f"; {n}" for n in sandbox.notes))
    if any("hidden" in t.tags for t in tests):
        lines.append("Hidden tests are included; their results are shown once grades are published.")
    else:
        lines.append("Only the public tests ran: hidden tests will also be graded.")
    return Results(assignment=assignment.id, tests=tests, output="\n\n".join(lines), execution_time=elapsed,
                   status=status, extra={"isolation": sandbox.isolation if sandbox else None})
