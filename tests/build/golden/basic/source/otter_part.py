"""Golden source: every otter-grader marker, as a course file would use them."""

import math


def scale(x, factor):
    """ # BEGIN PROMPT
    # multiply x by factor
    result = ...
    return result
    """ # END PROMPT
    # BEGIN SOLUTION
    result = [v * factor for v in x]
    return result
    # END SOLUTION


def norm(x):
    # BEGIN SOLUTION
    total = sum(v * v for v in x)
    return math.sqrt(total)
    # END SOLUTION


def mean(x):
    n = len(x)
    count: int = n  # SOLUTION
    print("computing mean of", count)  # SOLUTION
    # BEGIN SOLUTION NO PROMPT
    assert count > 0, "mean of nothing"
    # END SOLUTION
    return sum(x) / n
