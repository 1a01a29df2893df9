"""Golden source: every otter-grader marker, as a course file would use them."""

import math


def scale(x, factor):
    # multiply x by factor
    result = ...
    return result


def norm(x):
    ...


def mean(x):
    n = len(x)
    count: int = ...
    ...
    return sum(x) / n
