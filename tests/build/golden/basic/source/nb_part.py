"""Golden source: nbgrader markers, including a hidden-test region."""


def clip(x, low, high):
    ### BEGIN SOLUTION
    return [min(max(v, low), high) for v in x]
    ### END SOLUTION


def self_check():
    assert clip([5], 0, 1) == [1]
    ### BEGIN HIDDEN TESTS
    assert clip([-3, 7], -1, 2) == [-1, 2]
    ### END HIDDEN TESTS
