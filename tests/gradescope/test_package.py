"""The Gradescope zip, and its run_autograder in a simulated /autograder layout.

The harness tests unpack the zip into a temporary folder acting as /autograder (its root
moved by AUTOGRADER_ROOT, which run_autograder honours) and skip setup.sh: it installs
with apt-get and pip from the network, and this test environment already has the grader's
runtime (AUTOGRADER_PYTHON names this virtual environment's Python). The grader itself
runs from the zip's own copy of the package, as it does on Gradescope.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import cli
from autograder.config import load_config
from autograder.errors import GraderError
from autograder.gradescope import write_autograder_zip
from tests.conftest import REPO

COURSE = load_config(REPO / "grading.toml")


@pytest.fixture(scope="module")
def hw1_zip(tmp_path_factory) -> Path:
    return write_autograder_zip(COURSE, COURSE.assignment("hw1"), out=tmp_path_factory.mktemp("zip") / "hw1.zip")


def test_zip_layout_scripts_and_pins(hw1_zip):
    with zipfile.ZipFile(hw1_zip) as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        setup = archive.read("setup.sh").decode()
        run = archive.read("run_autograder").decode()
        pins = archive.read("requirements.txt").decode()
    assert {"setup.sh", "run_autograder", "requirements.txt", "course/assignment.toml",
            "grader/autograder/gradescope/run.py", "key/sampling.py"} <= names
    assert any(n.startswith("course/tests/hidden/") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    for script in ("setup.sh", "run_autograder"):
        assert modes[script] & stat.S_IXUSR and modes[script] & stat.S_IFREG
        assert (setup if script == "setup.sh" else run).startswith("#!/usr/bin/env bash\n")
    assert '--assignment "hw1"' in run
    assert "https://download.pytorch.org/whl/cpu" in setup
    requirements = [line for line in pins.splitlines() if line and not line.startswith("#")]
    assert all("==" in line for line in requirements), requirements
    assert "torch==2.13.0" in requirements


def test_zip_is_deterministic(hw1_zip, tmp_path):
    again = write_autograder_zip(COURSE, COURSE.assignment("hw1"), out=tmp_path / "again.zip")
    assert again.read_bytes() == hw1_zip.read_bytes()


def test_cli_writes_the_zip(tmp_path, capsys):
    assert cli.main(["--config", str(REPO / "grading.toml"), "gradescope", "hw1", "--out", str(tmp_path / "a.zip")]) == 0
    assert zipfile.is_zipfile(tmp_path / "a.zip")
    assert "upload it" in capsys.readouterr().out


def _autograder_root(hw1_zip: Path, root: Path, submission: dict[str, bytes]) -> Path:
    """A fresh /autograder: source/ from the zip, run_autograder copied up, the submission, metadata."""
    with zipfile.ZipFile(hw1_zip) as archive:
        archive.extractall(root / "source")
        for info in archive.infolist():  # zipfile drops the modes
            os.chmod(root / "source" / info.filename, (info.external_attr >> 16) & 0o777)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    for name, data in submission.items():
        (root / "submission" / name).write_bytes(data)
    (root / "submission_metadata.json").write_text('{"id": 1, "users": [{"name": "A Student"}]}')
    return root


def _run_autograder(root: Path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AUTOGRADER_ROOT": str(root),
           "AUTOGRADER_PYTHON": sys.executable, "LANG": "C.UTF-8"}
    return subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_harness_grades_the_key_full_marks(hw1_zip, tmp_path, check_results):
    hw1 = COURSE.assignment("hw1")
    key = {name: (REPO / "solutions" / "hw1" / name).read_bytes() for name in hw1.files}
    root = _autograder_root(hw1_zip, tmp_path / "autograder", key)
    run = _run_autograder(root)
    data = check_results(root / "results" / "results.json")
    points = hw1.points
    assert data["score"] == data["extra_data"]["max_score"] == points, run.stdout + run.stderr
    assert data["extra_data"]["status"] == "graded"
    assert f"total: {points:g} (graded)" in run.stdout
    if os.geteuid() == 0:  # what student code must not read
        assert stat.S_IMODE((root / "source").stat().st_mode) == 0o700
        assert stat.S_IMODE((root / "submission_metadata.json").stat().st_mode) == 0o600


@pytest.mark.slow
def test_harness_empty_submission_scores_zero_with_the_reason(hw1_zip, tmp_path, check_results):
    root = _autograder_root(hw1_zip, tmp_path / "autograder", {})
    _run_autograder(root)
    data = check_results(root / "results" / "results.json")
    assert data["score"] == 0
    assert data["extra_data"]["status"] == "invalid submission"
    assert "Invalid submission" in data["output"]


def test_harness_broken_grading_material_still_writes_results(hw1_zip, tmp_path, check_results):
    root = _autograder_root(hw1_zip, tmp_path / "autograder", {"sampling.py": b"x = 1\n"})
    (root / "source" / "course" / "assignment.toml").write_text("[assignments.hw1\n")
    _run_autograder(root)
    data = check_results(root / "results" / "results.json")
    assert data["score"] == 0 and data["extra_data"]["status"] == "grader error"
    assert "not valid TOML" in data["output"]


def test_harness_grader_that_cannot_start_still_writes_results(hw1_zip, tmp_path, check_results):
    """Python cannot even import the grader: run_autograder's own last-ditch file."""
    root = _autograder_root(hw1_zip, tmp_path / "autograder", {"sampling.py": b"x = 1\n"})
    (root / "source" / "grader" / "autograder" / "gradescope" / "run.py").write_text("this is not python\n")
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text('{"score": 100}')  # stale: must not survive
    run = _run_autograder(root)
    data = check_results(root / "results" / "results.json")
    assert data["score"] == 0 and data["tests"] == []
    assert "could not start" in data["output"], run.stderr


def test_a_link_within_the_course_is_packed_as_its_file(tmp_path):
    """hw3's mnist.py links to hw2's: the zip holds the file itself; a link out of the course is refused."""
    with zipfile.ZipFile(write_autograder_zip(COURSE, COURSE.assignment("hw3"), out=tmp_path / "hw3.zip")) as archive:
        assert archive.read("course/mnist.py") == (REPO / "assignments" / "hw2" / "mnist.py").read_bytes()
        assert (archive.getinfo("course/mnist.py").external_attr >> 16) & stat.S_IFREG

    course = load_config(REPO / "grading.toml")
    source = tmp_path / "course" / "assignments" / "hw3"
    shutil.copytree(REPO / "assignments" / "hw3", source, symlinks=True)
    (source / "mnist.py").unlink()
    outside = tmp_path / "outside.py"
    outside.write_text("x = 1\n")
    os.symlink(outside, source / "mnist.py")
    moved = dataclasses.replace(course.assignment("hw3"), source=source)
    with pytest.raises(GraderError, match="a link; the autograder zip holds plain files only"):
        write_autograder_zip(course, moved, out=tmp_path / "refused.zip")
