"""Golden source: nbgrader markers, including a hidden-test region."""


def clip(x, low, high):
    # YOUR CODE HERE
    raise NotImplementedError()


def self_check():
    assert clip([5], 0, 1) == [1]
