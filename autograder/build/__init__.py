"""The build stage: ``assignments/<id>`` -> ``student_release/<id>`` and ``solutions/<id>``.

Modules, in pipeline order: :mod:`~autograder.build.files` (which files go out),
:mod:`~autograder.build.regions` and :mod:`~autograder.build.notebooks` (strip marked
regions), :mod:`~autograder.build.generated` (README.md, assignment.toml),
:mod:`~autograder.build.leaks` (the leak check), :mod:`~autograder.build.pipeline`
(:func:`build` and :func:`check`, which call them in that order).
"""

from autograder.build.leaks import Finding, Secrets, check_release, check_solutions, collect_secrets
from autograder.build.pipeline import BuildReport, BuiltAssignment, build, check, render_assignment
from autograder.build.regions import Line, Region, Segment, parse, render, render_text

__all__ = [
    "BuildReport",
    "BuiltAssignment",
    "Finding",
    "Line",
    "Region",
    "Secrets",
    "Segment",
    "build",
    "check",
    "check_release",
    "check_solutions",
    "collect_secrets",
    "parse",
    "render",
    "render_assignment",
    "render_text",
]
