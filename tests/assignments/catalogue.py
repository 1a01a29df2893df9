"""The catalogue harness shared by every homework: each variant of a solution-key module is graded
through the real pipeline (sandbox included) with that module's public and hidden tests.

A homework's ``tests/assignments/<hw>/`` holds ``*_variants.py`` files (``VARIANTS``: a list of
``{"name", "module", "replace": [(old, new), ...], "must_fail": [test names]}``) and a
``test_catalogue.py`` that calls :func:`catalogue_tests`. A wrong variant must fail exactly
its ``must_fail`` tests; a correct one (``must_fail == []``) must keep full marks. The other
hand-in modules are the key's, so their tests cannot tell anything and are not run.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from autograder.config import load_config
from autograder.grade import grade
from tests.conftest import REPO

COURSE = load_config(REPO / "grading.toml")


def load_variants(folder: Path) -> list[dict]:
    """Every ``VARIANTS`` list of the ``*_variants.py`` files in ``folder``, in file-name order."""
    package = ".".join(folder.relative_to(REPO).parts)
    variants = []
    for path in sorted(folder.glob("*_variants.py")):
        variants += importlib.import_module(f"{package}.{path.stem}").VARIANTS
    return variants


def apply(source: Path, variant: dict) -> str:
    """The variant's module text: the solution source with each ``old`` replaced by ``new``."""
    text = (source / f"{variant['module']}.py").read_text()
    for old, new in variant["replace"]:
        assert text.count(old) == 1, f"{variant['name']}: {old!r} must occur exactly once in the source"
        text = text.replace(old, new)
    return text


def catalogue_tests(assignment_id: str, folder: Path):
    """The two catalogue tests of one homework, to be bound to module-level names by its test file."""
    assignment = COURSE.assignment(assignment_id)
    variants = load_variants(folder)
    key = REPO / "solutions" / assignment_id

    def test_variant_names_are_unique_and_modules_are_graded():
        names = [v["name"] for v in variants]
        assert len(names) == len(set(names))
        assert {f"{v['module']}.py" for v in variants} <= set(assignment.files)

    @pytest.mark.slow
    @pytest.mark.parametrize("variant", variants, ids=[f"{v['module']}-{v['name']}" for v in variants])
    def test_variant_fails_exactly_its_tests(variant, tmp_path, check_results):
        submission = tmp_path / "submission"
        submission.mkdir()
        for name in assignment.files:  # the key's hand-in files; the variant replaces one
            (submission / name).write_text((key / name).read_text())
        (submission / f"{variant['module']}.py").write_text(apply(assignment.source, variant))
        out = tmp_path / "results.json"
        module = variant["module"]
        results = grade(assignment, submission, out=out, solution_dir=key,
                        select=[f"test_{module}.py", f"test_{module}_hidden.py"])
        check_results(out)
        failed = sorted(t.name.split("::")[1] for t in results.tests if not t.passed)
        assert failed == sorted(variant["must_fail"]), [t.output for t in results.tests if not t.passed]
        if not variant["must_fail"]:
            assert results.score == results.max_score

    return test_variant_names_are_unique_and_modules_are_graded, test_variant_fails_exactly_its_tests
