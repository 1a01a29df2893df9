"""The batch's results folder: one Gradescope results file per student, the batch's only state.

Each file is written atomically when its submission finishes (by the worker, or by the
batch itself when a worker crashed), and carries ``extra_data.batch``: the student, the
hash of what was graded, its code fingerprint, and whether the result is final. Resuming,
regrading some tests and rebuilding the gradebook all start from these files.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograder.batch.submissions import Submission
from autograder.grade.results import failure_results, write_results

NOT_FINAL = ("grader error",)  # statuses graded again by the next run


def results_path(folder: Path, student: str) -> Path:
    return folder / f"{student}.json"


def read(path: Path) -> dict[str, Any] | None:
    """A results file written by a batch, or None if it is missing or not one (e.g. torn by hand)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list) \
            or not isinstance(data.get("extra_data", {}).get("batch"), dict):
        return None
    return data


def batch_info(data: dict[str, Any]) -> dict[str, Any]:
    return data.get("extra_data", {}).get("batch", {})


def status(data: dict[str, Any]) -> str:
    return str(data.get("extra_data", {}).get("status", "graded"))


def is_finished(data: dict[str, Any] | None, submission: Submission, assignment: str) -> bool:
    """Whether an earlier run graded this very submission to the end."""
    if data is None:
        return False
    info = batch_info(data)
    return (bool(info.get("final")) and info.get("sha256") == submission.sha256
            and data["extra_data"].get("assignment") == assignment)


def annotate(data: dict[str, Any], submission: Submission, *, fingerprint: str | None, final: bool,
             regraded: Sequence[str] = ()) -> dict[str, Any]:
    info = {**submission.to_json(), "fingerprint": fingerprint, "final": final}
    if regraded:
        info["regraded"] = sorted(regraded)
    return {**data, "extra_data": {**data.get("extra_data", {}), "batch": info}}


def write_crash(folder: Path, submission: Submission, assignment: str, reason: str) -> None:
    """The row for a submission whose grading never finished: status crashed, not final (retried next run)."""
    results = failure_results(assignment, f"The grader crashed while grading this submission: {reason}",
                              status="crashed")
    write_results(annotate(results.to_json(), submission, fingerprint=None, final=False),
                  results_path(folder, submission.student))


def was_run(test: dict[str, Any], names: Sequence[str]) -> bool:
    """Whether a test in a ``--tests`` regrade was selected (grade() lists the others as "not run")."""
    failure = test.get("extra_data", {}).get("failure")
    if test.get("status") == "passed" or (failure is not None and failure != "not run"):
        return True
    if failure == "not run":
        return False
    return any(name.lower() in str(test.get("name", "")).lower() for name in names)


def merge(old: dict[str, Any], new: dict[str, Any], names: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """``old`` with the tests that ``new`` (a regrade of ``names``) ran put in their place.

    Returns the merged results and the names of the tests replaced or added. The status is
    worked out again from the merged tests; an invalid submission stays invalid.
    """
    fresh = {t["name"]: t for t in new.get("tests", []) if was_run(t, names)}
    tests = [fresh.pop(t["name"], t) for t in old.get("tests", [])]
    tests += [fresh[name] for name in sorted(fresh)]  # tests added since the first grading
    replaced = sorted({t["name"] for t in new.get("tests", []) if was_run(t, names)})
    extra = dict(old.get("extra_data", {}))
    extra["status"] = merged_status(status(old), tests)
    extra["max_score"] = sum(float(t.get("max_score", 0)) for t in tests)
    merged = {**old, "tests": tests, "score": round(sum(float(t.get("score", 0)) for t in tests), 6),
              "extra_data": extra}
    return merged, replaced


def merged_status(previous: str, tests: list[dict[str, Any]]) -> str:
    if previous in ("invalid submission", "grader error"):
        return previous
    kinds = {t.get("extra_data", {}).get("failure") for t in tests if t.get("status") != "passed"}
    if "timeout" in kinds:
        return "timed out"
    if "crash" in kinds:
        return "crashed"
    return "graded"


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically (gradebook, feedback, report), as results files are written.

    Characters UTF-8 cannot encode (a lone surrogate from a folder's name) are written as ``?``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline="") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_leftovers(folder: Path) -> None:
    """Temporary files of writes that a killed run left half done."""
    if folder.is_dir():
        for path in folder.glob(".*.tmp"):
            path.unlink(missing_ok=True)
