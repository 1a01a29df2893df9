"""Results of grading one submission, and their Gradescope ``results.json`` form.

A :class:`Results` is built by the grader (never from anything the sandbox wrote) and
written atomically: a temporary file in the same folder, then ``os.replace``. Any string may
reach it (student output, exception messages): characters UTF-8 cannot encode (lone
surrogates) are written as ``?``, so writing never fails on text. The JSON schema the files
must satisfy is ``results_schema.json`` beside this module. Outputs are Markdown; text the
student controls is put in a code block by :func:`code_block`, whose fence it cannot close.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
SCHEMA_PATH = Path(__file__).with_name("results_schema.json")


def code_block(text: str) -> str:
    """``text`` as a fenced Markdown code block: the fence is longer than any run of backticks in
    it, so no line of the text (a student's ```` ``` ```` then "All tests passed") can end the block."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


@dataclass(frozen=True)
class TestResult:
    name: str
    number: str
    score: float
    max_score: float
    passed: bool
    output: str
    visibility: str
    time_s: float = 0.0
    tags: tuple[str, ...] = ()
    failure: str = ""  # why it failed: timeout, crash, exception, wrong answer, invalid submission, ...

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "number": self.number,
            "score": round(self.score, 6),
            "max_score": self.max_score,
            "status": "passed" if self.passed else "failed",
            "output": self.output,
            "output_format": "md",
            "visibility": self.visibility,
            "tags": list(self.tags),
            "extra_data": {"time_s": round(self.time_s, 4), **({"failure": self.failure} if self.failure else {})},
        }


@dataclass(frozen=True)
class Results:
    assignment: str
    tests: tuple[TestResult, ...]
    output: str
    execution_time: float
    status: str = "graded"  # graded | timed out | crashed | invalid submission | grader error
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    def to_json(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 6),
            "execution_time": round(self.execution_time, 3),
            "output": self.output,
            "output_format": "md",
            "test_output_format": "md",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": [t.to_json() for t in self.tests],
            "extra_data": {"assignment": self.assignment, "status": self.status,
                           "max_score": self.max_score, **self.extra},
        }


def write_results(results: Results | dict[str, Any], path: Path) -> None:
    """Write atomically: readers see the old file or the complete new one, never a torn one."""
    data = results.to_json() if isinstance(results, Results) else results
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    encoded = text.encode("utf-8", errors="replace")  # the one place text becomes bytes
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(encoded)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def failure_results(assignment: str, reason: str, *, execution_time: float = 0.0,
                    status: str = "grader error", tests: tuple[TestResult, ...] = ()) -> Results:
    """The last-ditch file: the reason, and the tests that were graded (none: score 0)."""
    return Results(assignment=assignment, tests=tests, output=reason, execution_time=execution_time,
                   status=status)


def graded_or_failed(assignment: str, grading: Callable[[], Results], *, out: Path | None,
                     start: float, now: Callable[[], float]) -> Results:
    """Run ``grading`` and write its results; if it fails, write the reason, then raise.

    The failure file has score 0, or the graded tests if only the disk failed the first write.
    Every runner goes through here, so no path leaves a submission without a results file.
    A results file whose status is "grader error" is written and then raised as well.
    """
    from autograder.errors import GraderError

    results = None
    try:
        results = grading()
        if out is not None:
            write_results(results, out)  # inside: a file that cannot be written leaves the failure file
    except BaseException as exc:
        graded = results.tests if results is not None and isinstance(exc, OSError) else ()
        if graded:  # the disk, not the content, failed (full, for a moment): the tests as graded, once more
            reason = f"The grader could not write the results file at first ({exc}); the tests are as graded."
        else:
            reason = f"The grader failed and could not grade this submission: {exc}"
        if out is not None:
            write_results(failure_results(assignment, reason, execution_time=now() - start, tests=graded), out)
        if isinstance(exc, GraderError):
            raise
        raise GraderError(str(exc) or type(exc).__name__) from exc
    if results.status == "grader error":
        raise GraderError(results.output)
    return results
