"""The committed tree itself: releases are reproducible and leak-free, every homework validates."""

from __future__ import annotations

import shutil

import pytest
import torch

from autograder import build
from autograder.build.leaks import check_release
from autograder.commands import validate
from autograder.config import load_config
from autograder.errors import GraderError
from autograder.grade import grade
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
@pytest.mark.parametrize("assignment_id", [a.id for a in COURSE.assignments])
def test_validate(assignment_id, capsys):
    assert validate(COURSE, assignment_id) == 0
    out = capsys.readouterr().out
    points = f"{COURSE.assignment(assignment_id).points:g}"
    assert f"solution key: {points}/{points}" in out and f"blank release: 0/{points}" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the error path cannot be shown")
def test_device_cuda_without_a_gpu_is_a_clear_grader_error(tmp_path, check_results):
    out = tmp_path / "results.json"
    with pytest.raises(GraderError, match="no CUDA device"):
        grade(COURSE.assignment("hw1"), REPO / "solutions" / "hw1", out=out, device="cuda",
              solution_dir=REPO / "solutions" / "hw1")
    assert check_results(out)["score"] == 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none on this machine)")
def test_hw1_key_full_marks_on_gpu(tmp_path):
    results = grade(COURSE.assignment("hw1"), REPO / "solutions" / "hw1", out=tmp_path / "r.json", device="cuda",
                    solution_dir=REPO / "solutions" / "hw1")
    assert results.score == results.max_score, [t.output for t in results.tests if not t.passed]
