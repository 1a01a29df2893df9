"""A throwaway course with short time limits, and submissions of every kind a batch meets."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

from autograder.config import CourseConfig
from tests.conftest import make_course, write_files

PUBLIC = {"test_toy.py": '''
    import pytest, torch

    @pytest.mark.points(1)
    def test_double(student):
        """double(x) returns 2 x."""
        x = torch.arange(4.0)
        got = student.mathy.double(x)
        assert isinstance(got, torch.Tensor) and torch.equal(got, 2 * x), "double(x) must return 2 * x"

    @pytest.mark.points(1)
    @pytest.mark.time_limit(2)
    def test_square(student):
        """square(x) returns x ** 2."""
        x = torch.arange(4.0)
        got = student.mathy.square(x)
        assert isinstance(got, torch.Tensor) and torch.equal(got, x * x), "square(x) must return x ** 2"
    '''}
HIDDEN = {"test_toy_hidden.py": '''
    import pytest, torch

    @pytest.mark.points(2)
    def test_double_hidden(student, solution):
        """double matches the key on random inputs."""
        x = torch.randn(50, generator=torch.Generator().manual_seed(0))
        got = student.mathy.double(x)
        assert isinstance(got, torch.Tensor) and torch.equal(got, solution.mathy.double(x)), "wrong values"
    '''}
KEY = '''
import torch


def double(x):
    """Twice x."""
    return 2 * x


def square(x):
    """x squared."""
    return x * x
'''
STARTER = '''
import torch


def double(x):
    """Twice x."""
    return None


def square(x):
    """x squared."""
    return None
'''
SETTINGS = """
    [defaults]
    time_limit = 30
    test_time_limit = 10
    """


def toy_course(root: Path) -> CourseConfig:
    course = make_course(root, public=PUBLIC, hidden=HIDDEN, solution={"mathy.py": KEY}, settings=SETTINGS)
    write_files(root / "student_release" / "toy", {"mathy.py": STARTER})
    return course


def notebook(code: str) -> str:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# My homework"]},
             {"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": [],
              "source": code.splitlines(keepends=True)},
             {"cell_type": "code", "metadata": {}, "execution_count": 2, "outputs": [], "source": ["double(3)\n"]}]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})


# name -> expected (status, total, {test: score}, reason fragment, identical_group)
MIXED = {
    "blank": ("graded", 0, {"test_double": 0, "test_square": 0, "test_double_hidden": 0}, "", "starter code"),
    "broken": ("invalid submission", 0, {"test_double": 0}, "not a readable zip file", ""),
    "crash": ("crashed", 1, {"test_double": 0, "test_square": 1, "test_double_hidden": 0}, "SIGSEGV", ""),
    "good": ("graded", 4, {"test_double": 1, "test_square": 1, "test_double_hidden": 2}, "", "group 1"),
    "good_copy": ("graded", 4, {"test_double": 1, "test_square": 1, "test_double_hidden": 2}, "", "group 1"),
    "good_nb": ("graded", 4, {"test_double": 1, "test_square": 1, "test_double_hidden": 2}, "", "group 1"),
    "notebook": ("invalid submission", 0, {"test_double": 0}, "not a valid notebook", ""),
    "slow": ("timed out", 3, {"test_double": 1, "test_square": 0, "test_double_hidden": 2},
             "test_square: timed out after 2 s", ""),
    "wrong": ("graded", 1, {"test_double": 0, "test_square": 1, "test_double_hidden": 0}, "", ""),
}


def write_mixed(folder: Path) -> Path:
    """Good (a folder, a reformatted copy, a notebook), blank, wrong, broken zip, corrupt notebook,
    a time-out and a crash: one entry each, named after what it is."""
    folder.mkdir(parents=True)
    write_files(folder / "good", {"mathy.py": KEY})
    copy = KEY.replace('    """Twice x."""\n', '    """Twice x."""  # my own comment\n\n').replace("x * x", "x*x")
    (folder / "good_copy.py").write_text(copy + "\n\n# end of my homework\n")
    (folder / "good_nb.ipynb").write_text(notebook(KEY))
    (folder / "blank.zip").write_bytes(_zip({"toy/mathy.py": STARTER}))
    write_files(folder / "wrong", {"mathy.py": KEY.replace("return 2 * x", "return 3 * x")})
    (folder / "broken.zip").write_bytes(_zip({"mathy.py": KEY})[:60])
    (folder / "notebook.ipynb").write_text('{"cells": [ this is not json')
    write_files(folder / "slow", {"mathy.py": KEY.replace("return x * x", "while True:\n        pass")})
    write_files(folder / "crash", {"mathy.py": KEY.replace("return 2 * x", "import ctypes\n    ctypes.string_at(0)")})
    return folder


def _zip(files: dict[str, str]) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def read_gradebook(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="package")
def mixed_batch(tmp_path_factory):
    """One batch over the mixed submissions (2 workers), shared by the tests that read its output."""
    from autograder.batch import run_batch
    from autograder.errors import ExitCode

    root = tmp_path_factory.mktemp("mixed")
    course = toy_course(root / "course")
    submissions = write_mixed(root / "submissions")
    out = root / "out"
    code = run_batch(course, course.assignment("toy"), submissions, out=out, jobs=2)
    assert code == ExitCode.OK
    return course, submissions, out
