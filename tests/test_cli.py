"""The command line: exit codes, messages, and the README's commands on a throwaway course."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autograder.cli import main
from tests.conftest import make_course, write_files

DOUBLE = "def double(x):\n    return 2 * x\n"
SOURCE = '''
import torch


def double(x):
    """Twice x."""
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION
'''
PUBLIC = {"test_public.py": """
    import pytest, torch
    from autograder.testing import assert_close

    @pytest.mark.points(1)
    def test_double(student):
        '''double() doubles.'''
        assert_close(student.mathy.double(torch.tensor([1.0])), torch.tensor([2.0]))
    """}
HIDDEN = {"test_hidden.py": """
    import pytest, torch
    from autograder.testing import assert_close

    @pytest.mark.points(3)
    def test_double_key(student, solution):
        x = torch.arange(5.0)
        assert_close(student.mathy.double(x), solution.mathy.double(x))
    """}


@pytest.fixture
def course(tmp_path):
    course = make_course(tmp_path / "course", public=PUBLIC, hidden=HIDDEN)
    write_files(course.root / "assignments" / "toy", {"mathy.py": SOURCE})
    return course


def run(course, *args: str) -> int:
    return main(["--config", str(course.root / "grading.toml"), *args])


def test_build_check_validate_grade(course, tmp_path, capsys, check_results):
    assert run(course, "build", "--check") == 1
    assert "differs: solutions/toy/mathy.py" in capsys.readouterr().out
    assert run(course, "build") == 0
    assert run(course, "build", "--check") == 0
    assert run(course, "validate", "toy") == 0
    out = capsys.readouterr().out
    assert "solution key: 4/4" in out and "blank release: 0/4" in out and "valid" in out

    write_files(tmp_path / "sub", {"mathy.py": "def double(x):\n    return x + x\n"})
    results = tmp_path / "r.json"
    assert run(course, "grade", "toy", str(tmp_path / "sub"), "--out", str(results)) == 0
    assert check_results(results)["score"] == 4
    assert run(course, "grade", "toy", str(tmp_path / "sub"), "--out", str(results), "--public-only") == 0
    assert check_results(results)["score"] == 1
    assert run(course, "grade", "toy", str(tmp_path / "sub"), "--out", str(results), "--tests", "key") == 0
    assert [t["name"] for t in check_results(results)["tests"]] == ["hidden/test_hidden.py::test_double_key"]


def test_check_in_a_student_release_mentions_hidden_tests(course, capsys, monkeypatch):
    assert run(course, "build") == 0
    release = course.root / "student_release" / "toy"
    write_files(release, {"mathy.py": DOUBLE})
    monkeypatch.chdir(release)
    capsys.readouterr()
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "1 of 1 public tests passed" in out and "hidden tests are graded too" in out


def test_validate_fails_when_the_blank_release_scores(course, capsys):
    write_files(course.root / "assignments" / "toy", {"mathy.py": DOUBLE})  # no solution region: nothing stripped
    assert run(course, "validate", "toy") == 1
    assert "the blank release scores 4" in capsys.readouterr().err


def test_errors_are_one_line_with_exit_codes(course, tmp_path, capsys):
    assert run(course, "grade", "nope", "x") == 2
    assert "error: " in (err := capsys.readouterr().err) and "no assignment 'nope'" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("[assignments.x]\nsource = 1\n")
    assert main(["--config", str(bad), "build"]) == 2
    assert "assignments.x.files: missing" in capsys.readouterr().err


def test_grader_failure_exits_3_and_still_writes_results(course, tmp_path, capsys, check_results):
    write_files(course.root / "assignments" / "toy" / "tests" / "hidden", {"test_broken.py": "import nonexistent_module\n"})
    assert run(course, "build") == 0
    results = tmp_path / "r.json"
    write_files(tmp_path / "sub", {"mathy.py": DOUBLE})
    assert run(course, "grade", "toy", str(tmp_path / "sub"), "--out", str(results)) == 3
    data = check_results(results)
    assert data["score"] == 0 and "could not be collected" in data["output"]


def test_python_dash_m_and_help():
    out = subprocess.run([sys.executable, "-m", "autograder", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("build", "grade", "check", "validate"):
        assert command in out.stdout
