"""Fixtures borrowed from the unit tests the attacks build on, rather than copied."""

from tests.grade.test_checkpoints import line_course  # noqa: F401 - a course with a graded checkpoint
from tests.sandbox.test_privacy import workspaces  # noqa: F401 - two staged workspaces, as grade() makes them
