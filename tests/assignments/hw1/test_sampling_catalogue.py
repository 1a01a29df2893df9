"""hw1 sampling: every catalogued bug loses points on the tests meant for it; correct variants keep full marks.

Each variant of the solution key (``sampling_variants.VARIANTS``) is graded through the
real pipeline (sandbox included), with the public and hidden tests.
"""

from __future__ import annotations

import pytest

from autograder.config import load_config
from autograder.grade import grade
from tests.assignments.hw1.sampling_variants import VARIANTS
from tests.conftest import REPO

COURSE = load_config(REPO / "grading.toml")
SOURCE = REPO / "assignments" / "hw1"


def apply(variant: dict) -> str:
    text = (SOURCE / f"{variant['module']}.py").read_text()
    for old, new in variant["replace"]:
        assert text.count(old) == 1, f"{variant['name']}: {old!r} must occur exactly once in the source"
        text = text.replace(old, new)
    return text


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS, ids=[v["name"] for v in VARIANTS])
def test_variant_fails_exactly_its_tests(variant, tmp_path, check_results):
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / f"{variant['module']}.py").write_text(apply(variant))
    out = tmp_path / "results.json"
    results = grade(COURSE.assignment("hw1"), submission, out=out, solution_dir=REPO / "solutions" / "hw1")
    check_results(out)
    failed = sorted(t.name.split("::")[1] for t in results.tests if not t.passed)
    assert failed == sorted(variant["must_fail"]), [t.output for t in results.tests if not t.passed]
    if not variant["must_fail"]:
        assert results.score == results.max_score
