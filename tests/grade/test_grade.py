"""End to end: throwaway assignments graded through the real sandbox, asserting on results files."""

from __future__ import annotations

import json
import re
import zipfile

import pytest

from autograder import clock
from autograder.errors import GraderError
from autograder.grade import grade
from autograder.grade.student import SandboxRunner
from autograder.sandbox.client import TimedOut
from tests.conftest import make_course, write_files

DOUBLE = "def double(x):\n    return 2 * x\n"

PUBLIC = {"test_public.py": """
    import pytest, torch
    from autograder.testing import assert_close

    @pytest.mark.points(1)
    def test_double_small(student):
        '''double() doubles a small tensor.'''
        assert_close(student.mathy.double(torch.tensor([1.0, 2.0])), torch.tensor([2.0, 4.0]))
    """}

HIDDEN = {"test_hidden.py": """
    import pytest, torch
    from autograder.testing import assert_close

    @pytest.mark.points(2)
    def test_double_exact(student, solution):
        '''double() matches the key on random inputs.'''
        x = torch.randn(50, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        assert_close(student.mathy.double(x), solution.mathy.double(x))

    @pytest.mark.points(1)
    @pytest.mark.visibility("hidden")
    def test_plain_assert(student):
        assert student.mathy.double(6172.839) == 12345.678
    """}


@pytest.fixture
def course(tmp_path):
    return make_course(tmp_path / "course", public=PUBLIC, hidden=HIDDEN, solution={"mathy.py": DOUBLE})


def _grade(course, submission, tmp_path, **kwargs):
    out = tmp_path / "results.json"
    results = grade(course.assignment("toy"), submission, out=out,
                    solution_dir=course.root / "solutions" / "toy", **kwargs)
    return results, json.loads(out.read_text())


def test_correct_submission_full_marks(course, tmp_path, check_results):
    write_files(tmp_path / "good", {"mathy.py": DOUBLE})
    results, data = _grade(course, tmp_path / "good", tmp_path)
    check_results(data)
    assert data["score"] == results.max_score == 4
    assert [t["number"] for t in data["tests"]] == ["1.1", "2.1", "2.2"]
    visibility = {t["name"].split("::")[1]: t["visibility"] for t in data["tests"]}
    assert visibility == {"test_double_small": "visible", "test_double_exact": "after_published",
                          "test_plain_assert": "hidden"}


def test_hidden_failures_do_not_reveal_expected_values(course, tmp_path, check_results):
    write_files(tmp_path / "wrong", {"mathy.py": "def double(x):\n    return 3 * x\n"})
    results, data = _grade(course, tmp_path / "wrong", tmp_path)
    check_results(data)
    assert data["score"] == 0
    by_name = {t["name"].split("::")[1]: t["output"] for t in data["tests"]}
    assert "got 6, expected 4" in by_name["test_double_small"]  # public: expected values are shown
    assert "values differ" in by_name["test_double_exact"] and "expected" not in by_name["test_double_exact"]
    assert "12345.678" not in by_name["test_plain_assert"]  # neither source nor value of a hidden assert
    assert by_name["test_plain_assert"] == "a check in this test failed"


@pytest.mark.parametrize("make", ["missing", "corrupt_zip", "empty_folder"])
def test_invalid_submission_lists_every_test(course, tmp_path, make, check_results):
    submission = tmp_path / {"missing": "nope", "corrupt_zip": "sub.zip", "empty_folder": "empty"}[make]
    if make == "corrupt_zip":
        submission.write_bytes(b"PK\x03\x04 this is not really a zip")
    if make == "empty_folder":
        submission.mkdir()
    results, data = _grade(course, submission, tmp_path)
    check_results(data)
    assert len(data["tests"]) == 3 and data["score"] == 0
    assert data["extra_data"]["status"] == "invalid submission"
    assert all("invalid submission" in t["output"] for t in data["tests"])


def test_missing_module_and_syntax_error_are_explained(course, tmp_path):
    write_files(tmp_path / "misnamed", {"other.py": DOUBLE, "notes.txt": "hi"})
    _, data = _grade(course, tmp_path / "misnamed", tmp_path)
    assert "mathy.py is missing from your submission (it has: notes.txt, other.py)" in data["tests"][0]["output"]
    write_files(tmp_path / "syntax", {"mathy.py": "def double(x)\n    return 2 * x\n"})
    _, data = _grade(course, tmp_path / "syntax", tmp_path)
    assert "SyntaxError" in data["tests"][0]["output"] and "mathy.py" in data["tests"][0]["output"]


def test_zip_with_nested_folder_and_notebook_with_training_loop(course, tmp_path, check_results):
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1,
         "source": ["!pip install torch\n", "import torch\n", "SCALE = 2\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 2,
         "source": ["def double(x):\n", "    return SCALE * x\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 3,
         "source": ["while True:  # a training loop that never ends\n", "    pass\n"]},
    ]}
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hw/mathy.ipynb", json.dumps(notebook))
    results, data = _grade(course, archive, tmp_path)
    check_results(data)
    assert data["score"] == 4, [t["output"] for t in data["tests"]]
    assert "graded as mathy.py" in data["output"] and "inside the folder hw/" in data["output"]


def test_broken_tests_are_a_grader_error_with_results(tmp_path, check_results):
    course = make_course(tmp_path / "course", public={"test_broken.py": "def test_x(:\n    pass\n"},
                         solution={"mathy.py": DOUBLE})
    write_files(tmp_path / "good", {"mathy.py": DOUBLE})
    out = tmp_path / "results.json"
    with pytest.raises(GraderError, match="could not be collected"):
        grade(course.assignment("toy"), tmp_path / "good", out=out)
    data = check_results(out)
    assert data["score"] == 0 and data["extra_data"]["status"] == "grader error"


def test_handles_partial_credit_and_probes(tmp_path, check_results):
    model = """
        import torch

        class Scale(torch.nn.Module):
            def __init__(self, n):
                super().__init__()
                self.weight = torch.nn.Parameter(torch.ones(n))
            def forward(self, x):
                return x * self.weight
        """
    tests = {"test_objects.py": """
        import pytest, torch
        from autograder.testing import assert_close

        @pytest.mark.points(2)
        def test_module_handle(student):
            layer = student.model.Scale(3)
            layer.load_state_dict({"weight": torch.tensor([1.0, 2.0, 3.0])})
            assert_close(layer(torch.ones(2, 3)), torch.tensor([[1.0, 2.0, 3.0]] * 2))
            assert_close(layer.weight, torch.tensor([1.0, 2.0, 3.0]))
            grad = student.probe("projected_gradient", layer, [torch.ones(3)], torch.tensor([1.0, 0.0, 1.0]))
            assert_close(grad, torch.tensor([1.0, 0.0, 3.0]))

        @pytest.mark.points(4)
        def test_partial(student, credit):
            layer = student.model.Scale(2)
            credit.award(0.25, "1 of 4 cases")
            assert False, "the other cases fail"
        """}
    course = make_course(tmp_path / "course", files=("model.py",), public=tests, solution={"model.py": model})
    write_files(tmp_path / "good", {"model.py": model})
    results, data = _grade(course, tmp_path / "good", tmp_path)
    check_results(data)
    scores = {t["name"].split("::")[1]: (t["score"], t["status"]) for t in data["tests"]}
    assert scores == {"test_module_handle": (2, "passed"), "test_partial": (1, "failed")}
    assert "Partial credit: 25% (1 of 4 cases)" in data["tests"][1]["output"]


def test_total_time_limit_is_checked_on_the_grader_clock(monkeypatch):
    """A fake clock past the submission's budget: the next call fails without reaching the sandbox."""
    runner = SandboxRunner(None, total_limit=10)
    runner.check_submission()
    start = clock.monotonic()
    monkeypatch.setattr(clock, "monotonic", lambda: start + 11)
    with pytest.raises(TimedOut, match="not run: the submission's total time limit of 10 s was used up"):
        runner.check_submission()


def test_total_time_limit_end_to_end(tmp_path, check_results):
    slow = {"test_slow.py": "import pytest\n" + "".join(
        f"@pytest.mark.points(1)\ndef test_slow_{i}(student):\n    assert student.mathy.nap(1.5) == 1.5\n\n"
        for i in range(3))}
    course = make_course(tmp_path / "course", public=slow, solution={"mathy.py": DOUBLE},
                         settings="time_limit = 2.5\n")
    write_files(tmp_path / "sleepy", {"mathy.py": "import time\ndef nap(s):\n    time.sleep(s)\n    return s\n"})
    results, data = _grade(course, tmp_path / "sleepy", tmp_path)
    check_results(data)
    assert [t["score"] for t in data["tests"]] == [1, 0, 0]
    assert "total time limit of 2.5 s was used up" in data["tests"][1]["output"]
    assert data["tests"][2]["output"].startswith("not run: the submission's total time limit")


def test_unencodable_strings_in_messages_and_output_still_give_results(tmp_path, check_results):
    """A lone surrogate in an exception message and in printed output: the results file is still complete."""
    course = make_course(tmp_path / "course", public=PUBLIC, hidden=HIDDEN, solution={"mathy.py": DOUBLE})
    write_files(tmp_path / "odd", {"mathy.py": """
        import sys

        def double(x):
            print("odd \\udc80 text")
            sys.stdout.flush()
            raise ValueError("bad \\udc80 value")
        """})
    results, data = _grade(course, tmp_path / "odd", tmp_path)
    check_results(data)
    assert len(data["tests"]) == 3 and data["score"] == 0
    output = data["tests"][0]["output"]
    assert "ValueError: bad" in output and "value" in output
    json.dumps(data).encode("utf-8")  # nothing unencodable is left in the file


def test_printed_text_and_messages_cannot_close_their_code_blocks(tmp_path):
    """A student's own fence in what they print or raise stays inside the block the grader made."""
    course = make_course(tmp_path / "course", public=PUBLIC, solution={"mathy.py": DOUBLE})
    write_files(tmp_path / "fence", {"mathy.py": """
        def double(x):
            print("```\\n\\n**All tests passed**\\n\\n<b>10/10</b>")
            raise ValueError("```\\nAll tests passed")
        """})
    _, data = _grade(course, tmp_path / "fence", tmp_path)
    output = data["tests"][0]["output"]
    assert "Your code raised an exception:\n\n````\n" in output and "Your code printed:\n\n````\n" in output
    # outside the code blocks (CommonMark: closed only by a fence as long as the opening) no student text is left
    outside = re.sub(r"(?ms)^(`{3,})\n.*?^\1$", "", output)
    assert "All tests passed" not in outside and "<b>" not in outside, outside
