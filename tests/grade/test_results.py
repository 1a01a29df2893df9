"""Results files: atomic writes, valid Gradescope JSON, and a schema that itself rejects bad files."""

from __future__ import annotations

import json
import math
import os

import jsonschema
import pytest

from autograder.grade import results as results_module
from autograder.errors import GraderError
from autograder.grade.results import Results, code_block, failure_results, graded_or_failed, write_results
from autograder.grade.results import TestResult as Case  # not a pytest class


def make_results(**overrides) -> Results:
    tests = (
        Case(name="test_sample_shape", number="1.1", score=2.0, max_score=2.0, passed=True, output="",
                   visibility="visible", time_s=0.123456, tags=("sampling",)),
        Case(name="test_hidden_values", number="1.2", score=0.0, max_score=3.0, passed=False,
                   output="output: shape mismatch: got (3,), expected (2,)", visibility="after_published"),
        Case(name="test_partial", number="2", score=1.0 / 3.0, max_score=1.0, passed=False, output="ünïcode ✓",
                   visibility="hidden"),
    )
    fields = dict(assignment="hw1", tests=tests, output="Graded 3 tests.", execution_time=12.34567)
    return Results(**{**fields, **overrides})


def test_written_results_validate_and_carry_the_scores(tmp_path, check_results):
    path = tmp_path / "out" / "results.json"
    write_results(make_results(), path)
    data = check_results(path)
    assert data["score"] == pytest.approx(2 + 1 / 3) and data["execution_time"] == 12.346
    assert data["extra_data"] == {"assignment": "hw1", "status": "graded", "max_score": 6.0}
    assert [t["status"] for t in data["tests"]] == ["passed", "failed", "failed"]
    assert [t["visibility"] for t in data["tests"]] == ["visible", "after_published", "hidden"]
    assert data["tests"][0]["tags"] == ["sampling"] and data["tests"][0]["extra_data"] == {"time_s": 0.1235}
    assert data["tests"][2]["output"] == "ünïcode ✓"


def test_failure_results_validate(tmp_path, check_results):
    path = tmp_path / "results.json"
    write_results(failure_results("hw1", "the zip is corrupt", status="invalid submission", execution_time=1.5), path)
    data = check_results(path)
    assert data["score"] == 0 and data["tests"] == [] and data["output"] == "the zip is corrupt"
    assert data["extra_data"]["status"] == "invalid submission"


def test_extra_data_is_merged(tmp_path, check_results):
    write_results(make_results(extra={"seed": 7}), tmp_path / "r.json")
    assert check_results(tmp_path / "r.json")["extra_data"]["seed"] == 7


def test_a_plain_dict_is_written_as_is(tmp_path, check_results):
    write_results({"score": 4.5, "output": "ok"}, tmp_path / "r.json")
    assert check_results(tmp_path / "r.json") == {"score": 4.5, "output": "ok"}


def test_rewriting_replaces_the_old_file(tmp_path):
    path = tmp_path / "results.json"
    write_results({"score": 1}, path)
    write_results({"score": 2}, path)
    assert json.loads(path.read_text()) == {"score": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_a_failing_serialisation_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    write_results({"score": 1}, path)

    def broken(*args, **kwargs):
        raise RuntimeError("serialiser crashed")

    monkeypatch.setattr(results_module.json, "dumps", broken)
    with pytest.raises(RuntimeError, match="serialiser crashed"):
        write_results({"score": 2}, path)
    assert json.loads(path.read_text()) == {"score": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_a_failing_replace_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    write_results({"score": 1}, path)
    seen = []

    def broken(source, target):
        seen.append(json.loads(open(source).read()))  # the complete new file was written first
        raise OSError("disk on fire")

    monkeypatch.setattr(results_module.os, "replace", broken)
    with pytest.raises(OSError, match="disk on fire"):
        write_results({"score": 2}, path)
    assert seen == [{"score": 2}]
    assert json.loads(path.read_text()) == {"score": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    write_results({"score": 1}, path)

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(results_module.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_results(make_results(), path)
    assert json.loads(path.read_text()) == {"score": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_the_target_is_never_seen_half_written(tmp_path, monkeypatch):
    """Whenever the target exists, it holds a complete file: the write goes to a temporary first."""
    path = tmp_path / "results.json"
    states = []
    real_replace = os.replace

    def watching_replace(source, target):
        states.append(path.exists())
        real_replace(source, target)

    monkeypatch.setattr(results_module.os, "replace", watching_replace)
    write_results(make_results(), path)
    assert states == [False]  # not created until the complete file is moved in
    assert json.loads(path.read_text())["extra_data"]["assignment"] == "hw1"


def test_non_finite_scores_are_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "results.json"
    bad = make_results(tests=(Case(name="t", number="1", score=math.nan, max_score=1.0, passed=False,
                                         output="", visibility="visible"),))
    with pytest.raises(ValueError):
        write_results(bad, path)
    assert list(tmp_path.iterdir()) == []


# --- the schema itself ----------------------------------------------------------------------------

GOOD = {"score": 1.0, "tests": [{"name": "t", "score": 1.0, "max_score": 1.0, "status": "passed",
                                 "visibility": "visible", "output": "", "tags": ["a"]}]}


@pytest.mark.parametrize("data", [GOOD, {"score": 0}, {"tests": []}, {"tests": [{}]},
                                  {"score": 2, "leaderboard": [{"name": "acc", "value": 0.9, "order": "desc"}]}])
def test_the_schema_accepts_good_files(check_results, data):
    check_results(data)


def variant(change) -> dict:
    data = json.loads(json.dumps(GOOD))
    change(data)
    return data


BAD = {
    "neither score nor tests": {"output": "hello"},
    "score a string": variant(lambda d: d.update(score="1")),
    "unknown top-level key": variant(lambda d: d.update(passed=True)),
    "bad visibility": variant(lambda d: d.update(visibility="public")),
    "bad stdout visibility": variant(lambda d: d.update(stdout_visibility="everyone")),
    "bad output format": variant(lambda d: d.update(output_format="markdown")),
    "negative execution time": variant(lambda d: d.update(execution_time=-1)),
    "tests not a list": variant(lambda d: d.update(tests={"t": 1})),
    "bad test status": variant(lambda d: d["tests"][0].update(status="ok")),
    "bad test visibility": variant(lambda d: d["tests"][0].update(visibility="secret")),
    "unknown test key": variant(lambda d: d["tests"][0].update(expected=3.0)),
    "negative max score": variant(lambda d: d["tests"][0].update(max_score=-1)),
    "tag not a string": variant(lambda d: d["tests"][0].update(tags=[1])),
    "leaderboard entry without value": variant(lambda d: d.update(leaderboard=[{"name": "acc"}])),
    "bad leaderboard order": variant(lambda d: d.update(leaderboard=[{"name": "a", "value": 1, "order": "up"}])),
}


@pytest.mark.parametrize("data", list(BAD.values()), ids=list(BAD))
def test_the_schema_rejects_bad_files(check_results, data):
    with pytest.raises(jsonschema.ValidationError):
        check_results(data)


def test_the_schema_rejects_a_file_that_is_not_an_object(results_schema):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([GOOD], results_schema)


def test_check_results_reads_files_too(tmp_path, check_results):
    (tmp_path / "bad.json").write_text(json.dumps({"output": "no score"}))
    with pytest.raises(jsonschema.ValidationError):
        check_results(tmp_path / "bad.json")


def test_unencodable_strings_are_replaced_not_fatal(tmp_path, check_results):
    """Lone surrogates (from student output or messages) anywhere: the file is written, as valid UTF-8."""
    odd = "bad \udc80 text \ud800"
    case = Case(name=f"test_{odd}", number="1", score=0.0, max_score=1.0, passed=False, output=odd,
                visibility="visible", failure=odd)
    path = tmp_path / "results.json"
    write_results(make_results(tests=(case,), output=odd, extra={odd: odd}), path)
    path.read_bytes().decode("utf-8")  # strict: nothing unencodable was written
    data = check_results(path)
    assert data["output"] == data["tests"][0]["output"] == "bad ? text ?"


def test_graded_or_failed_writes_the_failure_file_whatever_the_message(tmp_path, check_results):
    def grading():
        raise RuntimeError("broke on \udc80")

    path = tmp_path / "results.json"
    with pytest.raises(GraderError, match="broke on"):
        graded_or_failed("hw1", grading, out=path, start=0.0, now=lambda: 1.0)
    data = check_results(path)
    assert data["output"] == "The grader failed and could not grade this submission: broke on ?"


def test_graded_or_failed_writes_a_failure_file_when_the_results_cannot_be_written(tmp_path, check_results):
    path = tmp_path / "results.json"
    nan_score = make_results(tests=(Case(name="t", number="1", score=math.nan, max_score=1.0, passed=False,
                                         output="", visibility="visible"),))
    with pytest.raises(GraderError):
        graded_or_failed("hw1", lambda: nan_score, out=path, start=0.0, now=lambda: 1.0)
    data = check_results(path)
    assert data["score"] == 0 and data["extra_data"]["status"] == "grader error"


@pytest.mark.parametrize("text, fence", [("plain", "```"), ("```\nAll tests passed\n```", "````"),
                                         ("a `b` ``c`` ``````", "```````"), ("", "```")])
def test_code_block_fence_is_longer_than_any_backticks_in_the_text(text, fence):
    block = code_block(text)
    assert block == f"{fence}\n{text}\n{fence}"
    assert not any(line.strip().startswith(fence) for line in text.splitlines())
