"""The catalogue harness shared by every homework: each variant of a solution-key module is graded
through the real pipeline (sandbox included) with that module's public and hidden tests.

A homework's ``tests/assignments/<hw>/`` holds ``*_variants.py`` files (``VARIANTS``: a list of
``{"name", "module", "replace": [(old, new), ...], "must_fail": [test names]}``) and a
``test_catalogue.py`` that calls :func:`catalogue_tests`. A wrong variant must fail exactly
its ``must_fail`` tests; a correct one (``must_fail == []``) must keep full marks. The other
hand-in modules are the key's, so their tests cannot tell anything and are not run.

The selected variants of a homework are graded together before its first catalogue test, in
parallel (:mod:`tests.assignments.pool`); each test then checks its variant's stored results.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from autograder.batch.run import cores, worker_settings
from autograder.config import AssignmentConfig, load_config
from autograder.sandbox.launch import SERVER_START_TIMEOUT
from tests.assignments.pool import Graded, Job, grade_all
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


def stage(variant: dict, assignment: AssignmentConfig, key: Path, folder: Path) -> Job:
    """The variant's submission written in ``folder``: the key's hand-in files, one of them replaced
    by the variant; graded with that module's public and hidden tests only."""
    submission = folder / "submission"
    submission.mkdir(parents=True)
    for name in assignment.files:
        (submission / name).write_text((key / name).read_text())
    (submission / f"{variant['module']}.py").write_text(apply(assignment.source, variant))
    module = variant["module"]
    return Job(variant["name"], submission, folder / "results.json",
               select=(f"test_{module}.py", f"test_{module}_hidden.py"))


def grade_variants(variants: list[dict], assignment: AssignmentConfig, key: Path, root: Path) -> dict[str, Graded]:
    """Each variant graded by a pool of batch-like workers, one per core; outcomes by variant name."""
    outcomes, jobs = {}, []
    for variant in variants:
        folder = root / variant["name"]
        try:
            jobs.append(stage(variant, assignment, key, folder))
        except AssertionError as exc:  # a replacement that does not fit the source: that variant's failure
            outcomes[variant["name"]] = Graded(folder / "results.json", None, str(exc))
    workers = min(cores(), len(jobs))
    settings = worker_settings(COURSE, assignment, root, key, "cpu", "local", max(workers, 1), True)
    deadline = assignment.time_limit + SERVER_START_TIMEOUT
    return outcomes | grade_all(settings, jobs, workers=workers, deadline=deadline)


def catalogue_tests(assignment_id: str, folder: Path):
    """The catalogue's fixture and tests of one homework, to be bound to module-level names by its test file."""
    assignment = COURSE.assignment(assignment_id)
    variants = load_variants(folder)
    key = REPO / "solutions" / assignment_id

    def test_variant_names_are_unique_and_modules_are_graded():
        names = [v["name"] for v in variants]
        assert len(names) == len(set(names))
        assert {f"{v['module']}.py" for v in variants} <= set(assignment.files)

    @pytest.mark.slow
    @pytest.mark.parametrize("variant", variants, ids=[f"{v['module']}-{v['name']}" for v in variants])
    def test_variant_fails_exactly_its_tests(variant, graded_variants, check_results):
        graded = graded_variants[variant["name"]]
        if graded.results is None:
            pytest.fail(graded.problem, pytrace=False)
        results = graded.results
        check_results(graded.out)
        failed = sorted(t.name.split("::")[1] for t in results.tests if not t.passed)
        assert failed == sorted(variant["must_fail"]), [t.output for t in results.tests if not t.passed]
        if not variant["must_fail"]:
            assert results.score == results.max_score

    @pytest.fixture(scope="module")
    def graded_variants(request, tmp_path_factory) -> dict[str, Graded]:
        """The variants this session runs the test of (after ``-k``, ``--lf``...), graded once, up front."""
        selected = [item.callspec.params["variant"] for item in request.session.items
                    if getattr(item, "function", None) is test_variant_fails_exactly_its_tests]
        return grade_variants(selected, assignment, key, tmp_path_factory.mktemp(f"catalogue-{assignment_id}"))

    return test_variant_names_are_unique_and_modules_are_graded, test_variant_fails_exactly_its_tests, graded_variants
