"""Public tests: students see these."""

from otter_part import scale


def test_scale_shape():
    assert len(scale([1, 2, 3], 2.0)) == 3
