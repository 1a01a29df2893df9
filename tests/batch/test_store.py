"""The results folder: what counts as finished, and merging a regrade of some tests into a results file."""

from __future__ import annotations

from autograder.batch import store
from autograder.batch.submissions import Submission


def _test(name: str, score: float, *, failure: str | None = None, output: str = "") -> dict:
    extra = {"time_s": 0.1, **({"failure": failure} if failure else {})}
    return {"name": name, "number": "1.1", "score": score, "max_score": 1.0,
            "status": "failed" if failure else "passed", "output": output, "extra_data": extra}


def _results(tests: list[dict], status: str = "graded") -> dict:
    return {"score": sum(t["score"] for t in tests), "tests": tests, "output": "",
            "extra_data": {"assignment": "toy", "status": status, "max_score": float(len(tests))}}


def test_merge_replaces_only_the_tests_that_ran():
    old = _results([_test("t.py::test_a", 1), _test("t.py::test_b", 0, failure="timeout", output="timed out"),
                    _test("t.py::test_c", 0, failure="wrong answer")], status="timed out")
    new = _results([_test("t.py::test_a", 0, failure="not run", output="not run"), _test("t.py::test_b", 1),
                    _test("t.py::test_c", 0, failure="not run"), _test("t.py::test_d_new", 1)])
    merged, replaced = store.merge(old, new, ["test_b", "test_d"])
    assert [(t["name"], t["score"]) for t in merged["tests"]] == [
        ("t.py::test_a", 1), ("t.py::test_b", 1), ("t.py::test_c", 0), ("t.py::test_d_new", 1)]
    assert replaced == ["t.py::test_b", "t.py::test_d_new"]
    assert merged["score"] == 3
    assert merged["extra_data"]["max_score"] == 4
    assert merged["extra_data"]["status"] == "graded"  # the time-out was in the test now fixed


def test_merge_keeps_an_invalid_submission_invalid():
    old = _results([_test("t.py::test_a", 0, failure="invalid submission")], status="invalid submission")
    merged, _ = store.merge(old, _results([_test("t.py::test_a", 0, failure="invalid submission")]), ["test_a"])
    assert merged["extra_data"]["status"] == "invalid submission"


def test_finished_means_final_and_the_same_content(tmp_path):
    submission = Submission(student="ann", path=tmp_path, name="ann", sha256="abc")
    data = store.annotate(_results([_test("t.py::test_a", 1)]), submission, fingerprint=None, final=True)
    store.write_text(store.results_path(tmp_path, "ann"), "{not json")
    assert store.read(store.results_path(tmp_path, "ann")) is None
    assert store.is_finished(data, submission, "toy")
    assert not store.is_finished(data, Submission(student="ann", path=tmp_path, name="ann", sha256="new"), "toy")
    assert not store.is_finished(data, submission, "hw2")
    crashed = store.annotate(_results([]), submission, fingerprint=None, final=False)
    assert not store.is_finished(crashed, submission, "toy")
    (tmp_path / ".ann.json.x1.tmp").write_text("{")
    store.remove_leftovers(tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))


def test_write_text_never_fails_on_unencodable_text(tmp_path):
    """A folder name read from the disk may hold a lone surrogate; the gradebook is still written."""
    store.write_text(tmp_path / "gradebook.csv", "student,submission\nada,hand\udcffin\n")
    assert (tmp_path / "gradebook.csv").read_bytes() == b"student,submission\nada,hand?in\n"
