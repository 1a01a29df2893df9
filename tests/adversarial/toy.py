"""The toy assignment every adversarial case is graded against, and the checks every case makes.

One module, ``attack.py``; each hidden test asks one differently named function for ``2 * x``
(the template of ``tests/grade/test_threats.py``), so the honest key scores full marks on the
very tests the attacks must score 0 on. A :class:`Graded` holds what a case asserts on: the
results file (schema-checked), the wall time, and that the grader process is still alive.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from autograder import clock
from autograder.config import CourseConfig
from autograder.grade import grade
from tests.conftest import make_course, write_files
from tests.grade.test_threats import TEST_TEMPLATE

TEST_TIME_LIMIT = 3  # seconds; every timeout case costs this once


def honest_source(names: list[str]) -> str:
    return "".join(f"def {name}(x):\n    return 2 * x\n\n\n" for name in names)


def toy_course(root: Path, names: list[str], *, isolation: str = "rlimits", memory_mb: int = 1024,
               reply_mb: int = 64, extra_tests: str = "", key: str = "",
               test_time_limit: int = TEST_TIME_LIMIT) -> CourseConfig:
    """A course whose one assignment ``toy`` has a hidden test ``test_<name>`` per name; ``key``: the
    solution module (default: each name returns ``2 * x``)."""
    tests = "import pytest\nimport torch\n" + "".join(TEST_TEMPLATE.format(name=n) for n in names) + extra_tests
    return make_course(
        root, files=("attack.py",), hidden={"test_attacks.py": tests},
        solution={"attack.py": key or honest_source(names)},
        settings=f"""
            time_limit = 300
            test_time_limit = {test_time_limit}
            [assignments.toy.sandbox]
            memory_mb = {memory_mb}
            processes = 64
            file_size_mb = 16
            reply_mb = {reply_mb}
            isolation = "{isolation}"
            """)


@dataclass(frozen=True)
class Graded:
    data: dict  # the results file, validated against the schema
    wall_s: float
    grader_pid: int

    @property
    def tests(self) -> dict[str, dict]:
        """Each test's entry by its function name without ``test_``."""
        return {t["name"].split("::test_")[1]: t for t in self.data["tests"]}

    def score(self, name: str) -> float:
        return self.tests[name]["score"]

    def output(self, name: str) -> str:
        return self.tests[name]["output"]

    def failure(self, name: str) -> str | None:
        return self.tests[name]["extra_data"].get("failure")


def grade_files(course: CourseConfig, folder: Path, files: dict[str, str | bytes], check_results, *,
                entry: str = "", device: str = "cpu") -> Graded:
    """Grade a submission made of ``files`` (text, or bytes written as they are; ``entry``: the one file of them
    handed in, a .zip or .ipynb, instead of the folder) and check what every case needs: a complete,
    schema-valid results file listing every test of the assignment, and a grader still running."""
    folder.mkdir(parents=True)
    write_files(folder, {n: t for n, t in files.items() if isinstance(t, str)})
    for name, data in files.items():
        if isinstance(data, bytes):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
    out = folder.with_suffix(".json")
    start = clock.monotonic()
    grade(course.assignment("toy"), folder / entry if entry else folder, out=out, device=device,
          solution_dir=course.root / "solutions" / "toy")
    graded = Graded(check_results(out), clock.monotonic() - start, os.getpid())
    os.kill(graded.grader_pid, 0)  # the grader (this process) is alive
    expected = _expected_tests(course)
    assert [t["name"].split("::")[1] for t in graded.data["tests"]] == expected, json.dumps(graded.data)[:2000]
    return graded


def _expected_tests(course: CourseConfig) -> list[str]:
    source = course.assignment("toy").source / "tests" / "hidden" / "test_attacks.py"
    return [line.split("def ")[1].split("(")[0] for line in source.read_text().splitlines()
            if line.startswith("def test_")]
