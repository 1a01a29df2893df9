"""assert_close: checks in order (type, shape, dtype, finiteness, values), messages a student can act on."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from autograder.config import Tolerance
from autograder.grade import compare
from autograder.grade.compare import CompareContext, GradingFailure, assert_close


def fails(got, expected, **kwargs) -> str:
    with pytest.raises(GradingFailure) as info:
        assert_close(got, expected, **kwargs)
    return str(info.value)


@pytest.fixture
def context():
    """Set the running test's comparison context; reset afterwards."""
    tokens = []

    def use(*, rtol=1e-6, atol=1e-8, hidden=False):
        tokens.append(compare.current.set(CompareContext(Tolerance(rtol=rtol, atol=atol), hidden=hidden)))

    yield use
    for token in reversed(tokens):
        compare.current.reset(token)


@pytest.mark.parametrize("value", [
    torch.arange(6.0).reshape(2, 3), torch.tensor(2.5), torch.zeros(0, 3), np.linspace(0, 1, 5),
    torch.tensor([1 + 2j]), torch.tensor([True, False]), torch.arange(4), np.arange(3, dtype=np.int16),
    1.5, 3, True, "text", None, (1, [2.0, torch.ones(2)]), {"a": torch.ones(1), "b": [1]},
])
def test_equal_values_pass(value):
    assert_close(value, value)


def test_close_floats_pass_within_tolerance():
    assert_close(torch.tensor([1.0, 2.0]) + 1e-9, torch.tensor([1.0, 2.0]))
    assert_close(0.1 + 0.2, 0.3)
    assert_close(np.array([1e6]) * (1 + 1e-7), np.array([1e6]))


def test_type_mismatch_is_named():
    assert "expected a tensor, got a list" in fails([1.0, 2.0], torch.tensor([1.0, 2.0]))
    assert "expected a numpy array, got a tensor" in fails(torch.ones(2), np.ones(2))
    assert "expected a tensor, got None" in fails(None, torch.ones(2))
    assert "expected a float, got a str" in fails("1.0", 1.0)
    assert "expected a tuple of 2, got a int" in fails(3, (1, 2))
    assert "expected a dict, got a list" in fails([1], {"a": 1})


def test_shape_mismatch_names_both_shapes():
    message = fails(torch.zeros(3, 2), torch.zeros(2, 3))
    assert "shape mismatch" in message and "(3, 2)" in message and "(2, 3)" in message


def test_dtype_mismatch_fails_unless_dtype_is_not_checked():
    message = fails(torch.ones(2, dtype=torch.float32), torch.ones(2, dtype=torch.float64))
    assert "dtype mismatch" in message and "torch.float32" in message and "torch.float64" in message
    assert "dtype mismatch" in fails(np.ones(2, np.float32), np.ones(2))
    assert_close(torch.ones(2, dtype=torch.float32), torch.ones(2, dtype=torch.float64), check_dtype=False)
    assert_close(np.arange(3, dtype=np.int32), np.arange(3, dtype=np.int64), check_dtype=False)


def test_complex_against_real_without_dtype_check_is_compared_not_crashed():
    assert_close(torch.tensor([1.0 + 0j]), torch.tensor([1.0]), check_dtype=False)
    assert "differ" in fails(torch.tensor([1.0 + 1j]), torch.tensor([1.0]), check_dtype=False)


def test_non_finite_values_are_reported_with_their_index():
    message = fails(torch.tensor([1.0, 2.0, math.nan, math.inf]), torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert "2 non-finite values" in message and "index (2,)" in message


def test_nan_against_nan_needs_equal_nan():
    values = torch.tensor([1.0, math.nan])
    assert "differ" in fails(values, values.clone())
    assert_close(values, values.clone(), equal_nan=True)
    assert_close(math.nan, math.nan, equal_nan=True)
    assert "got nan" in fails(math.nan, math.nan)


def test_value_difference_names_count_index_got_and_expected():
    expected = torch.zeros(3, 4)
    got = expected.clone()
    got[2, 1] = 0.75
    message = fails(got, expected)
    assert "1 of 12 values differ" in message
    assert "index (2, 1)" in message and "got 0.75" in message and "expected 0" in message


def test_the_reported_index_is_a_failing_value():
    """A large but tolerated error (big magnitude) must not hide the small failing one."""
    message = fails(torch.tensor([1e6 + 0.5, 1.1], dtype=torch.float64), torch.tensor([1e6, 1.0], dtype=torch.float64))
    assert "1 of 2 values differ" in message and "index (1,)" in message and "got 1.1" in message


def test_zero_dim_tensor_difference():
    message = fails(torch.tensor(1.0), torch.tensor(2.0))
    assert "index ()" in message and "got 1" in message and "expected 2" in message


def test_numbers_fail_with_got_and_expected():
    message = fails(1.5, 2.5)
    assert "got 1.5" in message and "expected 2.5" in message
    assert "non-finite" in fails(math.inf, 2.0)


def test_ints_and_bools_are_exact():
    assert "got 3, expected 4" in fails(3, 4)
    assert "expected a bool, got a int" in fails(1, True)
    assert "expected a int, got a bool" in fails(True, 1)
    assert_close(True, True)
    assert "differ" in fails(torch.tensor([1, 2]), torch.tensor([1, 3]), atol=10)
    assert "differ" in fails(torch.tensor([True]), torch.tensor([False]))


def test_int64_tensors_are_exact_beyond_float64_precision():
    assert "differ" in fails(torch.tensor([2**53 + 1]), torch.tensor([2**53]))
    assert "differ" in fails(np.array([2**62 + 1]), np.array([2**62]))


def test_complex_tensors_use_the_tolerance():
    expected = np.array([1 + 1j, 2 - 3j])
    assert_close(expected + 1e-12, expected)
    assert "differ" in fails(expected + 1e-3j, expected)


def test_numpy_scalars_compare_as_numbers():
    assert_close(0.1 + 0.2, np.float64(0.3))
    assert_close(np.float64(0.1) + np.float64(0.2), np.float64(0.3))
    assert_close(np.float32(0.5), 0.5)
    assert_close(np.int64(3), 3)
    assert "got 2.0" in fails(np.float32(2.0), np.float32(1.0))
    assert "got 4, expected 3" in fails(np.int64(4), np.int64(3))


def test_zero_dim_tensor_is_accepted_for_a_number():
    assert_close(torch.tensor(2.0), 2.0)
    assert "got 3.0" in fails(torch.tensor(3.0), 2.0)


def test_containers_name_the_path_of_the_failing_item():
    assert fails((torch.ones(2), torch.zeros(2)), (torch.ones(2), torch.ones(2))).startswith("output[1]: ")
    message = fails({"mu": torch.ones(2), "logvar": [1.0, 5.0]}, {"mu": torch.ones(2), "logvar": [1.0, 2.0]})
    assert message.startswith("output['logvar'][1]: ")
    assert fails([1, 2], [1, 2, 3]).startswith("output: expected 3 items, got 2")
    assert "missing ['b'], unexpected ['c']" in fails({"a": 1, "c": 2}, {"a": 1, "b": 2})
    assert fails((1.0, 2.0), (1.0, 3.0), name="sample").startswith("sample[1]: ")


def test_a_student_object_that_always_says_equal_fails():
    class Yes:
        def __eq__(self, other):
            return True

        def __ne__(self, other):
            return False

        def __bool__(self):
            return True

    for expected in (torch.ones(2), np.ones(2), 1.0, 3, "text", (1, 2), {"a": 1}, None):
        with pytest.raises(GradingFailure):
            assert_close(Yes(), expected)


def test_number_subclasses_cannot_lie_about_equality():
    class YesFloat(float):
        def __eq__(self, other):
            return True

        def __ne__(self, other):
            return False

        __hash__ = float.__hash__

    class YesInt(int):
        __eq__ = YesFloat.__eq__
        __ne__ = YesFloat.__ne__
        __hash__ = int.__hash__

    assert "got 5.0" in fails(YesFloat(5.0), 1.0)
    assert "got 5" in fails(YesInt(5), 1)


def test_a_huge_int_for_a_float_fails_cleanly():
    assert "too large" in fails(10**400, 1.0)


def test_explicit_tolerances_override():
    got, expected = torch.tensor([1.001]), torch.tensor([1.0])
    assert "rtol=1e-06" in fails(got, expected)
    assert_close(got, expected, rtol=1e-2)
    assert_close(got, expected, atol=1e-2)
    assert "rtol=0.0001, atol=0" in fails(got, expected, rtol=1e-4, atol=0.0)
    assert_close(1.001, 1.0, rtol=1e-2)


def test_the_context_tolerance_is_the_default(context):
    got, expected = torch.tensor([1.001]), torch.tensor([1.0])
    context(rtol=1e-2, atol=0.0)
    assert_close(got, expected)
    assert_close(1.001, 1.0)
    context(rtol=1e-5, atol=0.0)
    assert "rtol=1e-05, atol=0" in fails(got, expected)
    assert_close(got, expected, atol=1e-2)  # an explicit argument still wins


HIDDEN_VALUE = 0.123456789


def assert_hides(message: str, value: float) -> None:
    for text in (repr(value), f"{value:.6g}", f"{value:.3g}", f"{value:.4f}", str(round(value, 2))):
        assert text not in message, f"{text!r} leaked in {message!r}"


def test_hidden_mode_never_prints_an_expected_tensor_value(context):
    context(hidden=True)
    expected = torch.full((2, 3), HIDDEN_VALUE, dtype=torch.float64)
    got = expected.clone()
    got[1, 2] = 0.9
    message = fails(got, expected)
    assert_hides(message, HIDDEN_VALUE)
    assert "index (1, 2)" in message and "got 0.9" in message
    assert re.search(r"error about 8e-01", message)


def test_hidden_mode_never_prints_an_expected_number(context):
    context(hidden=True)
    message = fails(0.9, HIDDEN_VALUE)
    assert_hides(message, HIDDEN_VALUE)
    assert "got 0.9" in message and "error about 8e-01" in message
    assert "41" not in fails(40, 41)
    secret = fails("guess", "the secret answer")
    assert "secret" not in secret and "guess" in secret
    assert "expected" not in fails(np.array([1, 2]), np.array([1, 7]))


def test_hidden_mode_still_reports_shapes_and_dtypes(context):
    context(hidden=True)
    assert "(2, 3)" in fails(torch.zeros(3, 2), torch.zeros(2, 3))
    assert "dtype mismatch" in fails(torch.zeros(2), torch.zeros(2, dtype=torch.float64))


def test_the_context_is_reset_between_tests():
    assert compare.current.get() == compare.DEFAULT_CONTEXT
    assert "expected 2.5" in fails(1.5, 2.5)


def test_requires_grad_and_non_contiguous_values_compare_by_value():
    expected = torch.arange(6.0).reshape(2, 3)
    assert_close(expected.clone().requires_grad_(True), expected)
    assert_close(expected.t().contiguous().t(), expected)
    assert_close(torch.arange(6.0).reshape(3, 2).t(), torch.arange(6.0).reshape(3, 2).t().contiguous())
