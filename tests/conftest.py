"""Shared fixtures: throwaway courses built in tmp_path, the results-file schema check, homework modules by path."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest

from autograder.config import CourseConfig, load_config
from autograder.grade.results import SCHEMA_PATH

REPO = Path(__file__).resolve().parents[1]


def import_homework(assignment: str, name: str):
    """``assignments/<assignment>/<name>.py`` (a given or solution-key module), imported by path once.

    Registered as ``<assignment>_<name>``, never as ``<name>``: the ``solution`` fixture of a
    grading in this process imports the key's ``<name>`` and refuses one found elsewhere.
    """
    key = f"{assignment}_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, REPO / "assignments" / assignment / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
    return sys.modules[key]


class Hostile:
    """Unpickling this runs code: it creates the file ``marker``, so a test can tell that nothing ran."""

    def __init__(self, marker: Path | str):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def make_course(root: Path, *, assignment_id: str = "toy", files: tuple[str, ...] = ("mathy.py",),
                public: dict[str, str] | None = None, hidden: dict[str, str] | None = None,
                solution: dict[str, str] | None = None, settings: str = "") -> CourseConfig:
    """A one-assignment course: tests and a solution key written straight from strings."""
    source = root / "assignments" / assignment_id
    write_files(source / "tests" / "public", public or {})
    write_files(source / "tests" / "hidden", hidden or {})
    write_files(root / "solutions" / assignment_id, solution or {})
    points_total = 0.0
    for text in [*(public or {}).values(), *(hidden or {}).values()]:
        for line in text.splitlines():
            if "mark.points(" in line:
                points_total += float(line.split("mark.points(")[1].split(")")[0])
    (root / "grading.toml").write_text(textwrap.dedent(f"""
        [course]
        name = "test course"
        [assignments.{assignment_id}]
        source = "assignments/{assignment_id}"
        files = {list(files)!r}
        points = {points_total or 1}
        """) + textwrap.dedent(settings), encoding="utf-8")
    return load_config(root / "grading.toml")


@pytest.fixture(scope="session")
def results_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


@pytest.fixture
def check_results(results_schema):
    """Validate a results file (path or dict) against the Gradescope schema; returns the dict."""

    def check(results: Path | dict) -> dict:
        data = json.loads(Path(results).read_text()) if not isinstance(results, dict) else results
        jsonschema.validate(data, results_schema)
        return data

    return check
