"""The pytest plugin that grades: fixtures for test authors, markers, and results from pytest's events.

Fixtures: ``student`` (the submission, through the sandbox), ``solution`` (the solution
key, imported here in the trusted grader), ``credit`` (partial credit), ``device``.
Markers: ``points(n)`` (required), ``visibility(v)``, ``time_limit(seconds)``,
``tolerance(rtol=, atol=)``, ``checkpoint(name)`` (grades trained weights; its points come
from grading.toml, and it is left out where that checkpoint is not configured; its
``checkpoint`` fixture is :class:`autograder.grade.checkpoints.Checkpoint`). Scores come
from pytest's reports, never from output.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from autograder import clock
from autograder.config import AssignmentConfig, module_name
from autograder.errors import GraderError, SubmissionError
from autograder.grade import compare
from autograder.grade.checkpoints import Checkpoint
from autograder.grade.results import VISIBILITIES, TestResult, code_block
from autograder.grade.student import SandboxRunner, StudentModules, StudentSession
from autograder.sandbox import client

MARKERS = {
    "points(n): the test's weight; every graded test needs one",
    "visibility(v): hidden, after_due_date, after_published or visible",
    "time_limit(seconds): this test's limit, instead of grading.toml's test_time_limit",
    "tolerance(rtol=None, atol=None): this test's default tolerances for assert_close",
    "checkpoint(name): grades the trained weights of [assignments.<id>.checkpoints.<name>]",
}


class Credit:
    """Partial credit: ``credit.award(0.5, "2 of 4 cases")`` scores half the points, pass or fail."""

    def __init__(self) -> None:
        self.fraction: float | None = None
        self.note = ""

    def award(self, fraction: float, note: str = "") -> None:
        if not 0.0 <= fraction <= 1.0:
            raise GraderError(f"partial credit must be between 0 and 1, got {fraction}")
        self.fraction, self.note = float(fraction), note


class SolutionModules:
    """The ``solution`` fixture: the solution key's modules, imported in the grader process."""

    def __init__(self, folder: Path | None, *, seed: int | None = None):
        self._folder = folder
        self._seed = seed  # a notebook key's cells start from it, as the student's do

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._folder is None:
            raise GraderError("this test uses the solution key, which is not available here "
                              "(public tests must carry their own expected values)")
        notebook = next((p for p in sorted(self._folder.glob("*.ipynb")) if module_name(p.name) == name), None)
        if notebook is not None and not (self._folder / f"{name}.py").exists():
            return sys.modules[name] if _loaded_from(name, notebook) else _run_key_notebook(name, notebook, self._seed)
        if str(self._folder) not in sys.path:
            sys.path.insert(0, str(self._folder))
        module = importlib.import_module(name)
        if not str(getattr(module, "__file__", "")).startswith(str(self._folder)):
            raise GraderError(f"solution module {name!r} resolved outside the solution key: {module.__file__}")
        return module

    def unload(self) -> None:
        if self._folder is not None:
            unload_modules(self._folder)
            if str(self._folder) in sys.path:
                sys.path.remove(str(self._folder))


def _loaded_from(name: str, notebook: Path) -> bool:
    return getattr(sys.modules.get(name), "__file__", None) == str(notebook)


def _run_key_notebook(name: str, notebook: Path, seed: int | None) -> Any:
    """A solution key handed in as a notebook, run top to bottom here (the key is trusted) the
    way a student's runs in the sandbox, so tests compare like with like."""
    from autograder.grade.submission import notebook_cells
    from autograder.sandbox.worker import run_notebook

    failed = run_notebook(name, notebook.name, notebook_cells(notebook.read_bytes(), notebook.name),
                          str(notebook.parent), cell_limit=0, seed=seed)
    if failed:
        raise GraderError(f"the solution key's notebook failed: {'; '.join(failed)}")
    return sys.modules[name]


def unload_modules(folder: Path) -> None:
    """Forget modules imported from ``folder``, so the next grading in this process starts clean."""
    prefix = str(folder) + "/"
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(prefix):
            del sys.modules[name]


@dataclass
class Outcome:
    passed: bool = False
    message: str = ""
    time_s: float = 0.0
    ran: bool = False
    grader_error: str = ""
    failure: str = ""  # see FAILURE_KINDS


# Why a test failed, for gradebooks and for the submission's status (results' extra_data).
FAILURE_KINDS = {
    client.TimedOut: "timeout", client.SandboxDied: "crash", client.BadReply: "bad reply",
    client.StudentCodeError: "exception", SubmissionError: "invalid submission", GraderError: "grader error",
    AssertionError: "wrong answer",
}


def failure_kind(exc: BaseException) -> str:
    return next((kind for cls, kind in FAILURE_KINDS.items() if isinstance(exc, cls)), "error")


class GradingPlugin:
    """Registered with ``pytest.main(plugins=[...])`` for one submission."""

    def __init__(self, *, assignment: AssignmentConfig, runner: SandboxRunner, solution_dir: Path | None,
                 device: str, hidden_root: Path, submission_dir: Path | None = None):
        self.assignment = assignment
        self.submission_dir = submission_dir
        self.runner = runner
        self.device_name = device
        self.hidden_root = hidden_root
        self.solutions = SolutionModules(solution_dir, seed=assignment.seed)
        self.items: list[pytest.Item] = []
        self.outcomes: dict[str, Outcome] = {}
        self.outputs: dict[str, str] = {}  # what the student's code printed, per test
        self.credits: dict[str, Credit] = {}
        self.problems: list[str] = []  # the tests themselves are broken: a grader error

    # -- pytest hooks --------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        for line in MARKERS:
            config.addinivalue_line("markers", line)

    def pytest_internalerror(self, excrepr, excinfo: pytest.ExceptionInfo) -> None:
        self.problems.append(f"the grader failed while running the tests: {excinfo.typename}: {excinfo.value}")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.problems.append(f"{report.nodeid}: could not be collected:\n{report.longrepr}")

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        checkpoints = {item.nodeid: self.checkpoint_name(item) for item in items}
        unconfigured = [item for item in items if checkpoints[item.nodeid] is not None
                        and self.assignment.checkpoint(checkpoints[item.nodeid]) is None]
        if unconfigured:  # trained weights are graded only where grading.toml asks for them
            config.hook.pytest_deselected(items=unconfigured)
            items[:] = [item for item in items if item not in unconfigured]
        for item in items:
            points = item.get_closest_marker("points")
            if checkpoints[item.nodeid] is not None:
                if points is not None:
                    self.problems.append(f"{item.nodeid}: a checkpoint test takes its points from grading.toml, "
                                         "not from @pytest.mark.points")
                continue
            if points is None or len(points.args) != 1 or not isinstance(points.args[0], (int, float)) \
                    or points.args[0] <= 0:
                self.problems.append(f"{item.nodeid}: needs @pytest.mark.points(n) with n > 0")
            visibility = item.get_closest_marker("visibility")
            if visibility is not None and (len(visibility.args) != 1 or visibility.args[0] not in VISIBILITIES):
                self.problems.append(f"{item.nodeid}: visibility must be one of {', '.join(VISIBILITIES)}")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = list(session.items)  # after selection: tests left out by --tests are not results

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        token = compare.current.set(compare.CompareContext(self.tolerance(item), hidden=self.is_hidden(item)))
        self.outcomes[item.nodeid] = Outcome(ran=True)
        start = clock.perf_counter()
        try:
            yield
        finally:
            self.outcomes[item.nodeid].time_s = clock.perf_counter() - start
            compare.current.reset(token)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        result = yield
        report: pytest.TestReport = result.get_result()
        outcome = self.outcomes.setdefault(item.nodeid, Outcome(ran=True))
        if report.when == "call" and report.passed:
            outcome.passed = True
        if report.skipped and not outcome.message:
            outcome.message, outcome.failure = f"not run: {_skip_reason(report)}", "skipped"
        if report.failed and call.excinfo is not None and not outcome.message:
            outcome.passed = False
            outcome.message, outcome.grader_error = self.explain(call.excinfo.value, hidden=self.is_hidden(item))
            outcome.failure = failure_kind(call.excinfo.value)
        if report.when == "call" and self.runner.sandbox is not None:
            # read after every test, so each counts its own
            if self.runner.sandbox.new_oom_kills() and not outcome.passed:
                outcome.message += (f"\n\nYour code ran out of memory during this test: the sandbox's processes "
                                    f"together may use {self.runner.sandbox.memory_mb} MB, and they reached that "
                                    "limit (processes are then slowed down or killed).")

    # -- fixtures ------------------------------------------------------------------
    @pytest.fixture
    def student(self, request: pytest.FixtureRequest):
        session = StudentSession(self.runner, time_limit=self.time_limit(request.node))
        yield StudentModules(session)
        self.outputs[request.node.nodeid] = session.close()

    @pytest.fixture
    def solution(self) -> SolutionModules:
        return self.solutions

    @pytest.fixture
    def credit(self, request: pytest.FixtureRequest) -> Credit:
        self.credits[request.node.nodeid] = Credit()
        return self.credits[request.node.nodeid]

    @pytest.fixture
    def device(self) -> str:
        return self.device_name

    @pytest.fixture
    def checkpoint(self, request: pytest.FixtureRequest) -> Checkpoint:
        name = self.checkpoint_name(request.node)
        if name is None:
            raise GraderError("the checkpoint fixture needs @pytest.mark.checkpoint(name) on its test")
        return Checkpoint(self.assignment.checkpoint(name), self.submission_dir)

    # -- per test settings ---------------------------------------------------------
    @staticmethod
    def checkpoint_name(item: pytest.Item) -> str | None:
        marker = item.get_closest_marker("checkpoint")
        if marker is None:
            return None
        if len(marker.args) != 1 or not isinstance(marker.args[0], str):
            raise GraderError(f"{item.nodeid}: @pytest.mark.checkpoint takes one name")
        return marker.args[0]

    def points(self, item: pytest.Item) -> float:
        name = self.checkpoint_name(item)
        if name is not None:
            return self.assignment.checkpoint(name).points
        marker = item.get_closest_marker("points")
        return float(marker.args[0]) if marker and marker.args else 0.0

    def is_hidden(self, item: pytest.Item) -> bool:
        return self.hidden_root in Path(item.path).parents

    def tolerance(self, item: pytest.Item):
        base = self.assignment.tolerance(self.device_name)
        marker = item.get_closest_marker("tolerance")
        return replace(base, **marker.kwargs) if marker is not None else base

    def time_limit(self, item: pytest.Item) -> float:
        marker = item.get_closest_marker("time_limit")
        return float(marker.args[0]) if marker is not None else self.assignment.test_time_limit

    def explain(self, exc: BaseException, *, hidden: bool) -> tuple[str, str]:
        """(message for the student, grader error or "") for an exception that failed a test."""
        if isinstance(exc, GraderError):
            return f"the grader failed: {exc}", str(exc)
        if isinstance(exc, client.StudentCodeError):
            return f"Your code raised an exception:\n\n{code_block(exc.traceback.strip())}", ""
        if isinstance(exc, (client.SandboxFailure, SubmissionError)):
            return str(exc), ""
        if isinstance(exc, compare.GradingFailure) or isinstance(exc, AssertionError) and not hidden:
            return (str(exc).strip() or "a check in this test failed"), ""
        if isinstance(exc, AssertionError):
            return _author_message(str(exc)) or "a check in this test failed", ""
        if hidden:
            return f"the test failed with {type(exc).__name__} (details are not shown for hidden tests)", ""
        return f"{type(exc).__name__}: {str(exc)[:2000]}", ""

    # -- results -------------------------------------------------------------------
    def results(self) -> list[TestResult]:
        numbers = _numbers(self.items)
        return [self.result(item, numbers[item.nodeid]) for item in self.items]

    def result(self, item: pytest.Item, number: str) -> TestResult:
        outcome = self.outcomes.get(item.nodeid, Outcome(message="not run", failure="not run"))
        points = self.points(item)
        credit = self.credits.get(item.nodeid)
        fraction = credit.fraction if credit is not None and credit.fraction is not None else float(outcome.passed)
        visibility_marker = item.get_closest_marker("visibility")
        hidden = self.is_hidden(item)
        visibility = visibility_marker.args[0] if visibility_marker else ("after_published" if hidden else "visible")
        return TestResult(
            name=item.nodeid, number=number, score=points * fraction, max_score=points,
            passed=outcome.passed and fraction == 1.0, visibility=visibility, time_s=outcome.time_s,
            output=_output(item, outcome, credit, self.outputs.get(item.nodeid, "")),
            tags=("hidden",) if hidden else ("public",), failure="" if outcome.passed else outcome.failure,
        )

    def grader_errors(self) -> list[str]:
        return self.problems + [o.grader_error for o in self.outcomes.values() if o.grader_error]


def _numbers(items: list[pytest.Item]) -> dict[str, str]:
    files: dict[Path, int] = {}
    counts: dict[Path, int] = {}
    numbers = {}
    for item in items:
        path = Path(item.path)
        files.setdefault(path, len(files) + 1)
        counts[path] = counts.get(path, 0) + 1
        numbers[item.nodeid] = f"{files[path]}.{counts[path]}"
    return numbers


def _output(item: pytest.Item, outcome: Outcome, credit: Credit | None, printed: str) -> str:
    parts = []
    doc = getattr(getattr(item, "function", None), "__doc__", None)
    if doc:
        parts.append(doc.strip().splitlines()[0])
    if credit is not None and credit.fraction is not None:
        parts.append(f"Partial credit: {credit.fraction:.0%}" + (f" ({credit.note})" if credit.note else ""))
    if outcome.message:
        parts.append(outcome.message)
    if printed.strip() and not outcome.passed:
        parts.append(f"Your code printed:\n\n{code_block(printed.strip())}")
    return "\n\n".join(parts)


def _author_message(text: str) -> str:
    """The message a hidden test's author wrote, without pytest's introspection of the values.

    Assertion rewriting (active whenever pytest's hook imports the test) appends
    ``assert <got> == <expected>`` and ``where ...`` lines, which would reveal the expected value.
    """
    kept = []
    for line in text.splitlines():
        if line.startswith("assert ") or line.lstrip().startswith(("+", "where ")):
            break
        kept.append(line)
    return "\n".join(kept).strip()


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else "skipped"
