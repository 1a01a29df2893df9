"""Reading back a container's results file: what a hostile or broken file cannot do (no engine needed)."""

from __future__ import annotations

import copy
import json
import os

import jsonschema
import pytest

from autograder.container import readback
from autograder.container.readback import BadResults, load_results
from autograder.grade import results as graded
from autograder.grade.results import Results, write_results

GOOD = Results(assignment="hw1", output="fine", execution_time=1.5, status="graded", extra={"isolation": "rlimits"},
               tests=(graded.TestResult(name="public/t.py::test_a", number="1.1", score=1.0, max_score=1.0, passed=True,
                                 output="", visibility="visible", time_s=0.2, tags=("public",)),
                      graded.TestResult(name="hidden/t.py::test_b", number="2.1", score=0.5, max_score=2.0, passed=False,
                                 output="half", visibility="after_published", time_s=0.1, tags=("hidden",))))


def test_round_trip_gives_the_same_results(tmp_path):
    write_results(GOOD, tmp_path / "results.json")
    assert load_results(tmp_path / "results.json", assignment="hw1") == GOOD


def _write(tmp_path, document) -> object:
    path = tmp_path / "results.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def _tampered(change) -> dict:
    document = copy.deepcopy(GOOD.to_json())
    change(document)
    return document


@pytest.mark.parametrize("change, message", [
    (lambda d: d["tests"][0].update(score=5.0), "scores 5 of 1"),
    (lambda d: d.update(score=99), "not the sum"),
    (lambda d: d["extra_data"].update(assignment="hw2"), "not for assignment"),
    (lambda d: d["extra_data"].update(status="excellent"), "unknown status"),
    (lambda d: d["tests"][0].update(visibility="everyone"), "does not match the schema"),
    (lambda d: d.update(surprise=1), "unexpected key"),
    (lambda d: d["tests"][1].update(score="2"), "expected number"),
    (lambda d: d["extra_data"].update(max_score=4.0), "maximum score"),
])
def test_inconsistent_or_off_schema_files_are_refused(tmp_path, change, message):
    with pytest.raises(BadResults, match=message):
        load_results(_write(tmp_path, _tampered(change)), assignment="hw1")


def test_not_json_nan_and_oversized_files_are_refused(tmp_path):
    with pytest.raises(BadResults, match="not valid JSON"):
        load_results(_write(tmp_path, "{'score': 1"), assignment="hw1")
    with pytest.raises(BadResults, match="not valid JSON"):
        load_results(_write(tmp_path, '{"score": NaN, "tests": []}'), assignment="hw1")
    with pytest.raises(BadResults, match="larger than"):
        load_results(_write(tmp_path, " " * (2 << 20)), assignment="hw1", max_bytes=1 << 20)


def test_links_and_missing_files_are_refused(tmp_path):
    secret = tmp_path / "secret.json"
    write_results(GOOD, secret)
    os.symlink(secret, tmp_path / "results.json")
    with pytest.raises(BadResults, match="cannot be opened"):
        load_results(tmp_path / "results.json", assignment="hw1")
    with pytest.raises(BadResults, match="no results file"):
        load_results(tmp_path / "absent.json", assignment="hw1")
    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(BadResults, match="not a regular file"):
        load_results(tmp_path / "fifo.json", assignment="hw1")


@pytest.mark.parametrize("document", [
    GOOD.to_json(),
    {"score": 1},
    {"tests": []},
    {},
    {"score": True},
    {"tests": [{"name": 3}]},
    {"score": 1, "leaderboard": [{"name": "a", "value": "x", "order": "up"}]},
    {"score": 1, "execution_time": -1},
    [],
])
def test_structural_check_agrees_with_jsonschema(document, results_schema):
    ours = not readback.schema_problems(document, results_schema)
    theirs = jsonschema.Draft202012Validator(results_schema).is_valid(document)
    assert ours == theirs


def test_malformed_values_outside_the_schema_are_refused(tmp_path):
    document = _tampered(lambda d: d["tests"][0]["extra_data"].update(time_s="soon"))
    with pytest.raises(BadResults, match="malformed value"):
        load_results(_write(tmp_path, document), assignment="hw1")
