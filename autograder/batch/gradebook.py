"""The gradebook: one row per submission, a column per test, rebuilt from the results files.

Rows are sorted by student id and hold no times, so the same submissions give the same
file on every run. Columns: ``student``; for a Gradescope export ``name``, ``email``,
``sid`` and ``submission``; then ``status`` (graded, timed out, crashed, invalid
submission), ``reason``, ``total``, ``max_score``, one column per test (its score), and
``identical_group`` (submissions whose normalised code is the same, or ``starter code``).

Names, emails and messages come from students: a text cell that a spreadsheet would run
as a formula (one starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
written with a leading ``'`` (OWASP's advice), and a carriage return inside a cell is
written as a newline, which the CSV quotes; numbers stay numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from autograder.batch import store
from autograder.batch.analysis import Record, column_names, identical_groups, row_status, test_docs, test_names

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?")


def build(records: Sequence[Record], *, points: float, starter: str | None = None,
          export: bool = False) -> pd.DataFrame:
    """The gradebook of ``records``; ``points`` is the maximum where a submission has no tests at all."""
    records = sorted(records, key=lambda r: r.student)
    names = test_names(records)
    columns = column_names(names)
    docs = test_docs(records)
    identical = identical_groups(records, starter)
    rows = []
    for record in records:
        status, reason = row_status(record, docs)
        row: dict[str, object] = {"student": record.student}
        if export:
            submitters = record.submission.submitters
            row["name"] = "; ".join(s.name for s in submitters)
            row["email"] = "; ".join(s.email for s in submitters)
            row["sid"] = "; ".join(s.sid for s in submitters)
        row["submission"] = record.submission.name
        row["status"], row["reason"] = status, reason
        scores = {t["name"]: float(t.get("score", 0.0)) for t in record.tests}
        maximum = sum(float(t.get("max_score", 0.0)) for t in record.tests) if record.tests else points
        row["total"], row["max_score"] = round(sum(scores.values()), 6), maximum
        row.update({columns[name]: scores.get(name, 0.0) for name in names})
        row["identical_group"] = identical.get(record.student, "")
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in ("reason", "identical_group", "submission"):
        if column in frame:
            frame[column] = frame[column].fillna("")
    return frame


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Atomically, like the results files: a reader never sees half a gradebook."""
    safe = frame.apply(lambda column: column if pd.api.types.is_numeric_dtype(column) else column.map(safe_cell))
    store.write_text(path, safe.to_csv(index=False, float_format="%.6g", lineterminator="\n"))


def safe_cell(value: object) -> object:
    """A cell as a spreadsheet should show it: text never starts a formula or a new row; numbers are kept."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(value):
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n")  # only "\n" makes the CSV writer quote a cell
