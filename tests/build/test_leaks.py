"""Tests for autograder/build/leaks.py: a clean build passes; planted solutions and hidden tests do not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from autograder.build import build, check_release, check_solutions, collect_secrets
from autograder.config import AssignmentConfig, CourseConfig
from autograder.errors import LeakError

from .conftest import MakeCourse


@pytest.fixture
def built(make_course: MakeCourse, tmp_path: Path) -> tuple[CourseConfig, AssignmentConfig, Path]:
    course = make_course()
    build(course)
    return course, course.assignments[0], tmp_path / "student_release" / "demo"


def findings(course: CourseConfig, release: Path) -> list[str]:
    return [str(f) for f in check_release(course.assignments[0], release, root=course.root)]


def append(path: Path, text: str) -> int:
    """Append ``text`` to ``path``; the line number of its first line."""
    before = path.read_text()
    path.write_text(before + text)
    return before.count("\n") + 1


def test_a_clean_build_has_no_findings(built, tmp_path: Path):
    course, assignment, release = built
    assert check_release(assignment, release, root=course.root) == []
    assert check_solutions(assignment, tmp_path / "solutions" / "demo", root=course.root) == []
    assert check_release(assignment, release) == []  # without a root, too


def test_secrets_leave_out_public_and_trivial_lines(built):
    course, assignment, _ = built
    secrets = collect_secrets(assignment, root=course.root)
    assert secrets.solution["total = sum(v * v for v in x)"] == "assignments/demo/otter_part.py:20"
    assert secrets.solution["count: int = n"] == "assignments/demo/otter_part.py:27"
    assert secrets.solution["doubled_value = 2 * v"] == "assignments/demo/demo.ipynb:3 (cell 2)"
    assert "return result" not in secrets.solution  # also in the prompt students see
    assert "..." not in secrets.solution and ")" not in secrets.hidden
    assert secrets.hidden["assert clip([-3, 7], -1, 2) == [-1, 2]"] == "assignments/demo/nb_part.py:13"
    assert secrets.hidden["assert answer == 42, 'hidden notebook check'"] == "assignments/demo/demo.ipynb:3 (cell 3)"
    assert "from otter_part import norm" in secrets.hidden  # hidden-only import
    assert "from otter_part import scale" not in secrets.hidden  # the public test has it too
    assert set(secrets.hidden_tests) == {"test_norm_value_secret", "test_clip_bounds_secret"}


def test_planted_solution_line_is_found(built):
    course, _, release = built
    line = append(release / "otter_part.py", "    total = sum(v * v for v in x)\n")
    assert findings(course, release) == [
        f"student_release/demo/otter_part.py:{line}: solution line from assignments/demo/otter_part.py:20"
    ]


def test_planted_hidden_test_file_is_found(built):
    course, assignment, release = built
    (release / "tests" / "hidden").mkdir()
    shutil.copy(assignment.hidden_tests / "test_hidden.py", release / "tests" / "hidden" / "test_hidden.py")
    found = findings(course, release)
    shown = "student_release/demo/tests/hidden/test_hidden.py"
    assert found[0] == f"{shown}: hidden test file: nothing under tests/hidden/ is released"
    assert f"{shown}:7: hidden test function test_norm_value_secret from assignments/demo/tests/hidden/test_hidden.py:7" in found
    assert f"{shown}:4: hidden-test line from assignments/demo/tests/hidden/test_hidden.py:4" in found


def test_planted_hidden_test_function_is_found(built):
    course, _, release = built
    line = append(release / "tests" / "public" / "test_public.py", "\n\ndef test_clip_bounds_secret(tmp_path):\n    pass\n")
    assert findings(course, release) == [
        f"student_release/demo/tests/public/test_public.py:{line + 2}: hidden test function test_clip_bounds_secret"
        " from assignments/demo/tests/hidden/test_hidden.py:11"
    ]


def test_planted_hidden_region_line_is_found(built):
    course, _, release = built
    line = append(release / "nb_part.py", "    assert clip([-3, 7], -1, 2) == [-1, 2]\n")
    assert findings(course, release) == [
        f"student_release/demo/nb_part.py:{line}: hidden-test line from assignments/demo/nb_part.py:13"
    ]


def test_unknown_files_are_found(built):
    course, _, release = built
    (release / "extra.py").write_text("x = 1\n")
    (release / ".DS_Store").write_bytes(b"\x00\x01")
    (release / "__pycache__").mkdir()
    (release / "__pycache__" / "otter_part.cpython-311.pyc").write_bytes(b"\x00")
    unexpected = "unexpected file: neither a released source file nor one of README.md, assignment.toml"
    assert findings(course, release) == [
        f"student_release/demo/.DS_Store: {unexpected}",
        f"student_release/demo/__pycache__/otter_part.cpython-311.pyc: {unexpected}",
        f"student_release/demo/extra.py: {unexpected}",
    ]


def test_notebook_outputs_and_cell_leaks_are_found(built):
    course, _, release = built
    notebook = json.loads((release / "demo.ipynb").read_text())
    notebook["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "6.0\n"}]
    notebook["cells"][2]["source"] = ["x = 1\n", "doubled_value = 2 * v\n"]
    (release / "demo.ipynb").write_text(json.dumps(notebook))
    assert findings(course, release) == [
        "student_release/demo/demo.ipynb: cell 2: has outputs (the build clears them; they may show solution results)",
        "student_release/demo/demo.ipynb:2: cell 3: solution line from assignments/demo/demo.ipynb:3 (cell 2)",
    ]


def test_a_changed_copied_file_is_found(built):
    course, _, release = built
    (release / "data" / "blob.bin").write_bytes(b"\xff\x00 tampered")
    assert findings(course, release) == [
        "student_release/demo/data/blob.bin: differs from its source (copied files must be byte-identical)"
    ]


def test_solution_key_may_hold_solutions_but_not_hidden_tests(built, tmp_path: Path):
    course, assignment, _ = built
    solutions = tmp_path / "solutions" / "demo"
    assert "total = sum(v * v for v in x)" in (solutions / "otter_part.py").read_text()
    append(solutions / "nb_part.py", "def test_norm_value_secret():\n    pass\n")
    found = [str(f) for f in check_solutions(assignment, solutions, root=course.root)]
    assert len(found) == 1 and "hidden test function test_norm_value_secret" in found[0]


def test_a_public_test_sharing_a_hidden_name_is_not_a_secret(make_course: MakeCourse):
    course = make_course()
    hidden = course.assignments[0].hidden_tests / "test_hidden.py"
    hidden.write_text(hidden.read_text() + "\n\ndef test_scale_shape():\n    pass\n")
    assert "test_scale_shape" not in collect_secrets(course.assignments[0]).hidden_tests


def test_lines_in_unreleased_staff_notes_are_not_public(make_course: MakeCourse):
    course = make_course()
    notes = course.assignments[0].source / "notes" / "staff.md"
    notes.write_text("total = sum(v * v for v in x)\n## begin solution (a malformed marker, never parsed)\n")
    assert "total = sum(v * v for v in x)" in collect_secrets(course.assignments[0]).solution
    build(course)


def test_the_build_fails_when_a_copied_file_carries_a_solution(make_course: MakeCourse, tmp_path: Path):
    course = make_course()
    (course.assignments[0].source / "data" / "hint.csv").write_text("a\ntotal = sum(v * v for v in x)\ndef test_clip_bounds_secret\n")
    with pytest.raises(LeakError) as caught:
        build(course)
    message = str(caught.value)
    assert "the build would leak (3 findings); nothing was replaced" in message
    assert "student_release/demo/data/hint.csv:2: solution line from assignments/demo/otter_part.py:20" in message
    assert "student_release/demo/data/hint.csv:3: hidden test function test_clip_bounds_secret" in message
    assert "solutions/demo/data/hint.csv:3: hidden test function test_clip_bounds_secret" in message
    assert not (tmp_path / "student_release").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".autograder-build")]
