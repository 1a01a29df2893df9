"""Hidden tests: never released."""

from nb_part import clip
from otter_part import norm


def test_norm_value_secret():
    assert abs(norm([3, 4]) - 5.0) < 1e-12


def test_clip_bounds_secret():
    assert clip([-9, 9], -2, 2) == [-2, 2]
