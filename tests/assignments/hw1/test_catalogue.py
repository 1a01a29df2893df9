"""hw1: every catalogued bug loses points on the tests meant for it; correct variants keep full marks.

Each ``*_variants.py`` beside this file lists variants of one solution-key module
(``VARIANTS``: text replacements and the exact set of tests that must fail). Each variant
is graded through the real pipeline, sandbox included, with that module's public and
hidden tests (the other modules are the key's, so their tests cannot tell anything).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from autograder.config import load_config
from autograder.grade import grade
from tests.conftest import REPO

COURSE = load_config(REPO / "grading.toml")
SOURCE = REPO / "assignments" / "hw1"


def _catalogue() -> list[dict]:
    variants = []
    for path in sorted(Path(__file__).parent.glob("*_variants.py")):
        module = importlib.import_module(f"tests.assignments.hw1.{path.stem}")
        variants += module.VARIANTS
    return variants


VARIANTS = _catalogue()


def apply(variant: dict) -> str:
    text = (SOURCE / f"{variant['module']}.py").read_text()
    for old, new in variant["replace"]:
        assert text.count(old) == 1, f"{variant['name']}: {old!r} must occur exactly once in the source"
        text = text.replace(old, new)
    return text


def test_variant_names_are_unique_and_modules_are_graded():
    names = [v["name"] for v in VARIANTS]
    assert len(names) == len(set(names))
    assert {f"{v['module']}.py" for v in VARIANTS} <= set(COURSE.assignment("hw1").files)


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS, ids=[v["name"] for v in VARIANTS])
def test_variant_fails_exactly_its_tests(variant, tmp_path, check_results):
    submission = tmp_path / "submission"
    copy_key(submission)
    (submission / f"{variant['module']}.py").write_text(apply(variant))
    out = tmp_path / "results.json"
    module = variant["module"]
    results = grade(COURSE.assignment("hw1"), submission, out=out, solution_dir=REPO / "solutions" / "hw1",
                    select=[f"test_{module}.py", f"test_{module}_hidden.py"])
    check_results(out)
    failed = sorted(t.name.split("::")[1] for t in results.tests if not t.passed)
    assert failed == sorted(variant["must_fail"]), [t.output for t in results.tests if not t.passed]
    if not variant["must_fail"]:
        assert results.score == results.max_score


def copy_key(submission: Path) -> None:
    """The solution key's hand-in files: a variant replaces one of them."""
    submission.mkdir()
    for name in COURSE.assignment("hw1").files:
        (submission / name).write_text((REPO / "solutions" / "hw1" / name).read_text())
