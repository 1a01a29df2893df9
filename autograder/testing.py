"""What test authors import: the comparison helper and its failure type.

Fixtures (``student``, ``solution``, ``credit``, ``device``) and markers (``points``,
``visibility``, ``time_limit``, ``tolerance``) come from :mod:`autograder.grade.plugin`.
"""

from autograder.grade.compare import GradingFailure, assert_close

__all__ = ["GradingFailure", "assert_close"]
