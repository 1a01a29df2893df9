"""What a batch's results say, read from the results files: statuses, failure messages, identical code.

Shared by the gradebook (status and reason per row) and the report (failures grouped by
message). A test's output is its docstring's first line, then the failure message, then
what the student's code printed; the docstring is recognised as the output of the same
test where it passed (or the first paragraph common to every submission).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.batch import store
from autograder.batch.submissions import Submission

STATUSES = ("graded", "timed out", "crashed", "invalid submission")
STARTER = "starter code"


@dataclass(frozen=True)
class Record:
    submission: Submission
    data: dict[str, Any] | None  # the results file; None if there is none

    @property
    def student(self) -> str:
        return self.submission.student

    @property
    def tests(self) -> list[dict[str, Any]]:
        return list(self.data.get("tests", [])) if self.data else []

    @property
    def score(self) -> float:
        return float(self.data.get("score", 0.0)) if self.data else 0.0

    @property
    def seconds(self) -> float:
        return float(self.data.get("execution_time", 0.0)) if self.data else 0.0

    @property
    def fingerprint(self) -> str | None:
        return store.batch_info(self.data).get("fingerprint") if self.data else None


def load_records(submissions: Sequence[Submission], folder: Path) -> list[Record]:
    return [Record(s, store.read(store.results_path(folder, s.student))) for s in submissions]


def short_name(name: str) -> str:
    return name.rsplit("::", 1)[-1]


def test_names(records: Sequence[Record]) -> list[str]:
    """Every test seen, in the order the grader numbers them."""
    numbers: dict[str, tuple] = {}
    for record in records:
        for test in record.tests:
            key = tuple(int(p) if p.isdigit() else 0 for p in str(test.get("number", "0")).split("."))
            numbers.setdefault(test["name"], key)
    return sorted(numbers, key=lambda name: (numbers[name], name))


def column_names(names: Sequence[str]) -> dict[str, str]:
    """Gradebook column per test: the function name, or the full name where two would clash."""
    shorts = Counter(short_name(n) for n in names)
    return {n: short_name(n) if shorts[short_name(n)] == 1 else n for n in names}


def test_docs(records: Sequence[Record]) -> dict[str, str]:
    """Each test's description (the first paragraph of its output that is not about the submission)."""
    passed: dict[str, str] = {}
    firsts: dict[str, Counter] = defaultdict(Counter)
    for record in records:
        for test in record.tests:
            first = str(test.get("output", "")).split("\n\n", 1)[0]
            if test.get("status") == "passed" and test["name"] not in passed:
                passed[test["name"]] = first
            firsts[test["name"]][first] += 1
    docs = dict(passed)
    for name, counter in firsts.items():
        if name not in docs and len(counter) == 1 and sum(counter.values()) > 1:
            docs[name] = next(iter(counter))
    return docs


def failure_message(test: dict[str, Any], doc: str = "") -> str:
    """One line saying why a test failed, e.g. ``raised ValueError: shape mismatch (in e_step)``."""
    output = str(test.get("output", ""))
    paragraphs = [p for p in output.split("\n\n") if p.strip()]
    if paragraphs and doc and paragraphs[0] == doc:
        paragraphs = paragraphs[1:]
    kept = []
    for paragraph in paragraphs:
        if paragraph.startswith("Your code printed:"):
            break
        if not paragraph.startswith("Partial credit:"):
            kept.append(paragraph)
    text = "\n\n".join(kept).strip()
    if text.startswith("Your code raised an exception"):
        return _exception_line(text)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("```")]
    line = lines[0] if lines else (test.get("extra_data", {}).get("failure") or "failed")
    return line.replace("**", "")[:300]


def _exception_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("```")]
    last = lines[-1].strip() if lines else "an exception"
    frames = re.findall(r'File "[^"]*", line \d+, in (\S+)', text)
    where = f" (in {frames[-1]})" if frames and frames[-1] != "<module>" else ""
    return f"raised {last[:250]}{where}"


def message_key(message: str) -> str:
    """A message with its numbers blanked, so "3 of 4 values differ" and "7 of 8 values" group together."""
    return re.sub(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", "#", message)


def row_status(record: Record, docs: dict[str, str]) -> tuple[str, str]:
    """(status, reason) for the gradebook: graded, timed out, crashed or invalid submission."""
    if record.data is None:
        return "crashed", "no results: grading did not finish (run the batch again to resume)"
    status = store.status(record.data)
    output = str(record.data.get("output", ""))
    if status == "invalid submission":
        match = re.search(r"\*\*Invalid submission:\*\* (.*)", output)
        return status, match.group(1).strip() if match else _first_failure(record, docs, None)
    if status == "timed out":
        return status, _first_failure(record, docs, "timeout", "timed out")
    if status == "crashed":
        return status, _first_failure(record, docs, "crash", "crashed") or _first_line(output)
    if status == "grader error":
        return "crashed", "grader error: " + _first_line(output.replace("The grader could not grade this "
                                                                        "submission:", ""))
    return "graded", ""


def _first_failure(record: Record, docs: dict[str, str], kind: str | None, words: str = "") -> str:
    for test in record.tests:
        if test.get("status") == "passed":
            continue
        failure = test.get("extra_data", {}).get("failure")
        text = str(test.get("output", ""))
        if kind is None or failure == kind or (failure is None and words in text):
            return f"{short_name(test['name'])}: {failure_message(test, docs.get(test['name'], ''))}"
    return ""


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


@dataclass(frozen=True)
class FailureGroup:
    test: str
    kind: str
    message: str  # as the first student (by id) got it
    students: tuple[str, ...]


def failure_groups(records: Sequence[Record], skip: Collection[str] = ()) -> list[FailureGroup]:
    """Failed tests grouped by test and message (numbers blanked), largest group first.

    Invalid submissions are left out, and the students in ``skip`` (unchanged starter code):
    every test fails for them, which the gradebook already says once per row.
    """
    docs = test_docs(records)
    groups: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r.student):
        if record.student in skip or (record.data is not None and store.status(record.data) == "invalid submission"):
            continue
        for test in record.tests:
            if test.get("status") == "passed":
                continue
            message = failure_message(test, docs.get(test["name"], ""))
            kind = test.get("extra_data", {}).get("failure") or "failed"
            groups[(test["name"], message_key(message))].append((record.student, message, kind))
    found = [FailureGroup(test=name, kind=items[0][2], message=items[0][1], students=tuple(s for s, _, _ in items))
             for (name, _), items in groups.items()]
    return sorted(found, key=lambda g: (-len(g.students), g.test, g.message))


def identical_groups(records: Sequence[Record], starter: str | None) -> dict[str, str]:
    """Student -> label for submissions whose normalised code is identical to another's (or the starter's)."""
    members: dict[str, list[str]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r.student):
        if record.fingerprint:
            members[record.fingerprint].append(record.student)
    labels = {}
    number = 0
    for fingerprint, students in sorted(members.items(), key=lambda item: item[1][0]):
        if fingerprint == starter:
            labels.update({s: STARTER for s in students})
        elif len(students) > 1:
            number += 1
            labels.update({s: f"group {number}" for s in students})
    return labels
