"""The committed tree itself: releases are reproducible and leak-free, hw1 validates."""

from __future__ import annotations

import shutil

import pytest

from autograder import build
from autograder.build.leaks import check_release
from autograder.commands import validate
from autograder.config import load_config
from tests.conftest import REPO

COURSE = load_config(REPO / "grading.toml")


def test_committed_releases_match_a_fresh_build():
    assert build.check(COURSE) == []


def test_leak_check_catches_a_planted_solution_line_and_hidden_test(tmp_path):
    assignment = COURSE.assignment("hw1")
    release = tmp_path / "hw1"
    shutil.copytree(REPO / "student_release" / "hw1", release)
    assert check_release(assignment, release, root=REPO) == []

    solution_line = "r = torch.sqrt(-2.0 * torch.log(u1))  # radius, same shape as u1"
    assert solution_line in (REPO / "solutions" / "hw1" / "sampling.py").read_text()
    stub = release / "sampling.py"
    stub.write_text(stub.read_text() + f"\n{solution_line}\n")
    hidden = REPO / "assignments" / "hw1" / "tests" / "hidden" / "test_sampling_hidden.py"
    shutil.copy(hidden, release / "tests" / "public" / "test_extra.py")

    findings = [str(f) for f in check_release(assignment, release, root=REPO)]
    assert any("sampling.py" in f and "solution" in f for f in findings), findings
    assert any("test_extra.py" in f for f in findings), findings


@pytest.mark.slow
def test_validate_hw1(capsys):
    assert validate(COURSE, "hw1") == 0
    out = capsys.readouterr().out
    assert "solution key: 20/20" in out and "blank release: 0/20" in out
