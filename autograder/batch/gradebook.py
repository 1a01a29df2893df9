"""The gradebook: one row per submission, a column per test, rebuilt from the results files.

Rows are sorted by student id and hold no times, so the same submissions give the same
file on every run. Columns: ``student``; for a Gradescope export ``name``, ``email``,
``sid`` and ``submission``; then ``status`` (graded, timed out, crashed, invalid
submission), ``reason``, ``total``, ``max_score``, one column per test (its score), and
``identical_group`` (submissions whose normalised code is the same, or ``starter code``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from autograder.batch import store
from autograder.batch.analysis import Record, column_names, identical_groups, row_status, test_docs, test_names


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
    store.write_text(path, frame.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
