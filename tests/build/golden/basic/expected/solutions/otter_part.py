"""Golden source: every otter-grader marker, as a course file would use them."""

import math


def scale(x, factor):
    result = [v * factor for v in x]
    return result


def norm(x):
    total = sum(v * v for v in x)
    return math.sqrt(total)


def mean(x):
    n = len(x)
    count: int = n
    print("computing mean of", count)
    assert count > 0, "mean of nothing"
    return sum(x) / n
