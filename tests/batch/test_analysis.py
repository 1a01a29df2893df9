"""Reading results: the one-line reason of a failure, grouping by message, identical code."""

from __future__ import annotations

from pathlib import Path

from autograder.batch.analysis import Record, failure_groups, failure_message, identical_groups, message_key
from autograder.batch.submissions import Submission

TRACEBACK = ('The test checks e_step.\n\nYour code raised an exception:\n\n```\nTraceback (most recent call last):\n'
             '  File "gmm.py", line 12, in e_step\n    return a @ b\nRuntimeError: shape mismatch\n```\n\n'
             'Your code printed:\n\n```\nhello\n```')


def _record(student: str, tests: list[dict], fingerprint: str | None = None) -> Record:
    data = {"score": 0, "tests": tests, "extra_data": {"status": "graded", "batch": {"fingerprint": fingerprint}}}
    return Record(Submission(student=student, path=Path("."), name=student), data)


def _failed(name: str, output: str, failure: str = "wrong answer") -> dict:
    return {"name": name, "status": "failed", "score": 0, "output": output, "extra_data": {"failure": failure}}


def test_the_reason_of_a_failure_in_one_line():
    assert failure_message({"output": TRACEBACK}, "The test checks e_step.") == \
        "raised RuntimeError: shape mismatch (in e_step)"
    assert failure_message({"output": "Doc.\n\noutput: 3 of 4 values differ\nmore"}, "Doc.") == \
        "output: 3 of 4 values differ"
    assert failure_message({"output": "", "extra_data": {"failure": "timeout"}}) == "timeout"
    assert message_key("3 of 4 values differ, max 1.5e-3") == message_key("7 of 8 values differ, max 2")


def test_failures_group_by_test_and_message():
    records = [_record(s, [_failed("t.py::test_e_step", TRACEBACK.replace("12", str(i)))])
               for i, s in enumerate(["amy", "ben", "cat"])]
    records.append(_record("dan", [_failed("t.py::test_e_step", "The test checks e_step.\n\nwrong values")]))
    records.append(_record("eve", [{"name": "t.py::test_e_step", "status": "passed", "score": 1,
                                    "output": "The test checks e_step."}]))
    groups = failure_groups(records)
    assert [(g.test, g.message, g.students) for g in groups] == [
        ("t.py::test_e_step", "raised RuntimeError: shape mismatch (in e_step)", ("amy", "ben", "cat")),
        ("t.py::test_e_step", "wrong values", ("dan",))]


def test_identical_groups():
    records = [_record("a", [], "f1"), _record("b", [], "f2"), _record("c", [], "f1"), _record("d", [], "s"),
               _record("e", [], None), _record("f", [], None), _record("g", [], "f3"), _record("h", [], "f3")]
    assert identical_groups(records, starter="s") == {"a": "group 1", "c": "group 1", "d": "starter code",
                                                      "g": "group 2", "h": "group 2"}
