"""Fixtures for the build-stage tests: a throwaway course in tmp_path around a golden source."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import pytest

from autograder.config import CourseConfig, load_config

# The golden folders hold assignment sources and expected releases, test files included:
# they are data for these tests, not tests to collect.
collect_ignore = ["golden"]

GOLDEN = Path(__file__).parent / "golden"

MakeCourse = Callable[..., CourseConfig]


@pytest.fixture
def make_course(tmp_path: Path) -> MakeCourse:
    """``make_course(case="basic", assignment="demo", extra="")``: the golden source of
    ``case`` copied to ``tmp_path/assignments/<assignment>`` and a grading.toml for it."""

    def make(*, case: str = "basic", assignment: str = "demo", extra: str = "") -> CourseConfig:
        source = tmp_path / "assignments" / assignment
        if not source.exists():
            shutil.copytree(GOLDEN / case / "source", source)
        toml = f"""[course]
name = "Golden course"

[assignments.{assignment}]
title = {json.dumps(f"Demo: the {case} case")}
source = "assignments/{assignment}"
files = ["otter_part.py", "nb_part.py"]
points = 10
{extra}"""
        (tmp_path / "grading.toml").write_text(toml, encoding="utf-8")
        return load_config(tmp_path / "grading.toml")

    return make

