"""Tests for autograder/build/pipeline.py (and files.py, generated.py): golden builds, determinism, check()."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

import pytest

from autograder.build import build, check
from autograder.build.files import glob_matches, walk
from autograder.config import load_config
from autograder.errors import ConfigError, RegionError

from .conftest import GOLDEN, MakeCourse

REGEN = os.environ.get("AUTOGRADER_REGEN_GOLDEN") == "1"


def read_tree(folder: Path) -> dict[str, bytes]:
    return {relative: (folder / relative).read_bytes() for relative in walk(folder, everything=True)}


@pytest.mark.parametrize("kind", ["student_release", "solutions"])
def test_golden(make_course: MakeCourse, tmp_path: Path, kind: str):
    """Set AUTOGRADER_REGEN_GOLDEN=1 to rewrite tests/build/golden/*/expected from the build."""
    build(make_course(case="basic"))
    built, expected = tmp_path / kind / "demo", GOLDEN / "basic" / "expected" / kind
    if REGEN:
        shutil.rmtree(expected, ignore_errors=True)
        shutil.copytree(built, expected)
    got, want = read_tree(built), read_tree(expected)
    assert sorted(got) == sorted(want)
    for relative in want:
        assert got[relative].decode("utf-8", "replace") == want[relative].decode("utf-8", "replace"), relative
        assert got[relative] == want[relative], relative


def test_release_holds_the_allowlisted_files_only(make_course: MakeCourse, tmp_path: Path):
    course = make_course()
    pycache = course.assignments[0].source / "__pycache__"
    pycache.mkdir()
    (pycache / "otter_part.cpython-311.pyc").write_bytes(b"\x00")
    (course.assignments[0].source / "tests" / "public" / ".hidden.py").write_text("x = 1\n")
    report = build(course)
    expected = (
        "README.md",
        "assignment.toml",
        "data/blob.bin",
        "data/table.csv",
        "demo.ipynb",
        "nb_part.py",
        "otter_part.py",
        "tests/public/test_public.py",
    )
    assert report.assignments[0].release_files == expected
    assert tuple(read_tree(tmp_path / "student_release" / "demo")) == expected
    assert tuple(read_tree(tmp_path / "solutions" / "demo")) == expected
    assert report.assignments[0].release_dir == tmp_path.resolve() / "student_release" / "demo"


def test_hidden_tests_never_go_out_whatever_the_globs(make_course: MakeCourse, tmp_path: Path):
    build(make_course(extra='release = ["**"]'))
    files = read_tree(tmp_path / "student_release" / "demo")
    assert "notes/staff.md" in files and not any(f.startswith("tests/hidden") for f in files)
    assert ".staff_only" not in files


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.py", "a.py", True),
        ("*.py", "sub/a.py", False),
        ("tests/public/**", "tests/public/x/y.py", True),
        ("**/*.py", "a.py", True),
        ("**/*.py", "d/e/a.py", True),
        ("data/**", "data2/x", False),
        ("?.txt", "a.txt", True),
    ],
)
def test_globs(pattern: str, path: str, matches: bool):
    assert glob_matches(pattern, path) is matches


def test_two_builds_are_byte_identical(make_course: MakeCourse, tmp_path: Path):
    course = make_course()
    build(course, out_root=tmp_path / "one")
    build(course, out_root=tmp_path / "two")
    assert read_tree(tmp_path / "one") == read_tree(tmp_path / "two")


def test_build_replaces_the_old_folders_entirely(make_course: MakeCourse, tmp_path: Path):
    stale = tmp_path / "student_release" / "demo" / "stale.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("old\n")
    build(make_course())
    assert not stale.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".autograder-build")]


def test_assignment_toml_reads_back_as_the_same_assignment(make_course: MakeCourse, tmp_path: Path):
    extra = '\n[assignments.demo.tolerance.cpu]\nrtol = 1e-7\n\n[assignments.demo.sandbox]\nthreads = 2\nisolation = "rlimits"\n'
    course = make_course(extra=extra)
    build(course)
    for kind in ("student_release", "solutions"):
        loaded = load_config(tmp_path / kind / "demo" / "assignment.toml")
        original = course.assignments[0]
        assert loaded.name == course.name
        assert loaded.assignments[0].source == (tmp_path / kind / "demo").resolve()
        assert loaded.assignments == (dataclasses.replace(original, source=loaded.assignments[0].source),)


def test_student_readme_says_how_to_run_the_public_tests(make_course: MakeCourse, tmp_path: Path):
    build(make_course())
    readme = (tmp_path / "student_release" / "demo" / "README.md").read_text()
    assert "torch==2.13.0" in readme and "pip install" in readme
    assert "autograder check" in readme
    assert "hidden tests" in readme and "does not mean full marks" in readme


def test_a_region_error_stops_the_build_before_anything_is_written(make_course: MakeCourse, tmp_path: Path):
    course = make_course()
    (course.assignments[0].source / "broken.py").write_text("x = 1\n# END SOLUTION\n")
    with pytest.raises(RegionError) as caught:
        build(course)
    assert str(caught.value) == "assignments/demo/broken.py:2: '# END SOLUTION' without '# BEGIN SOLUTION'"
    assert not (tmp_path / "student_release").exists()


def test_handed_in_files_must_be_released(make_course: MakeCourse):
    course = make_course()
    (course.assignments[0].source / "nb_part.py").unlink()
    with pytest.raises(ConfigError, match=r"assignments\.demo\.files: not among the released source files: nb_part\.py"):
        build(course)


def test_a_source_readme_may_not_be_released(make_course: MakeCourse):
    course = make_course(extra='release = ["*.py", "*.md"]')
    (course.assignments[0].source / "README.md").write_text("# mine\n")
    with pytest.raises(ConfigError, match="README.md is written by the build"):
        build(course)


def test_unknown_assignment_id(make_course: MakeCourse):
    with pytest.raises(ConfigError, match="no assignment 'hw9'"):
        build(make_course(), ["hw9"])


def test_a_lone_id_string_selects_that_assignment(make_course: MakeCourse, tmp_path: Path):
    assert [a.id for a in build(make_course(), "demo").assignments] == ["demo"]


def test_check_is_clean_after_a_build_and_lists_each_change(make_course: MakeCourse, tmp_path: Path):
    course = make_course()
    build(course)
    assert check(course) == []
    assert check(course, ["demo"]) == []
    release = tmp_path / "student_release" / "demo"
    (release / "otter_part.py").write_text("changed\n")
    (release / "extra.py").write_text("x = 1\n")
    (tmp_path / "solutions" / "demo" / "nb_part.py").unlink()
    (release / "__pycache__").mkdir()
    (release / "__pycache__" / "otter_part.cpython-311.pyc").write_bytes(b"ignored")
    expected = ["solutions/demo/nb_part.py", "student_release/demo/extra.py", "student_release/demo/otter_part.py"]
    assert check(course) == expected
    assert check(course, ["demo"]) == expected


def test_check_lists_folders_of_unknown_assignments_and_missing_builds(make_course: MakeCourse, tmp_path: Path):
    course = make_course()
    assert "student_release/demo/otter_part.py" in check(course)
    build(course)
    old = tmp_path / "solutions" / "hw0" / "old.py"
    old.parent.mkdir(parents=True)
    old.write_text("x\n")
    assert check(course) == ["solutions/hw0/old.py"]
    assert check(course, ["demo"]) == []


def test_building_is_fast(make_course: MakeCourse, tmp_path: Path):
    course = make_course()
    start = time.perf_counter()
    build(course)
    assert time.perf_counter() - start < 5.0  # the target for a whole course
