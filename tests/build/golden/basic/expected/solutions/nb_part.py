"""Golden source: nbgrader markers, including a hidden-test region."""


def clip(x, low, high):
    return [min(max(v, low), high) for v in x]


def self_check():
    assert clip([5], 0, 1) == [1]
