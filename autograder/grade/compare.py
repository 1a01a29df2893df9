"""The one comparison helper for tensors, arrays, numbers and containers of them.

Checks run in the order a student can act on: type, then shape, then dtype, then
finiteness, then values. Messages say what was got and expected and where the largest
error is; in hidden tests they never print an expected value (only shapes, dtypes and
the size of the error). Tolerances default to the running test's, from ``grading.toml``
and its ``@pytest.mark.tolerance`` marker.
"""

from __future__ import annotations

import contextvars
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from autograder.config import Tolerance


@dataclass(frozen=True)
class CompareContext:
    tolerance: Tolerance
    hidden: bool  # hidden tests: messages leave out expected values


DEFAULT_CONTEXT = CompareContext(Tolerance(rtol=1e-6, atol=1e-8), hidden=False)
current: contextvars.ContextVar[CompareContext] = contextvars.ContextVar("compare", default=DEFAULT_CONTEXT)


class GradingFailure(AssertionError):
    """A check failed; the message is written for the student."""


def assert_close(got: Any, expected: Any, *, rtol: float | None = None, atol: float | None = None,
                 check_dtype: bool = True, equal_nan: bool = False, name: str = "output") -> None:
    context = current.get()
    rtol = context.tolerance.rtol if rtol is None else rtol
    atol = context.tolerance.atol if atol is None else atol
    _Comparer(rtol, atol, check_dtype, equal_nan, context.hidden).compare(got, expected, name)


def _kind(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return "a tensor"
    if isinstance(value, np.ndarray):
        return "a numpy array"
    if value is None:
        return "None"
    return f"a {type(value).__name__}" if not hasattr(value, "_remote_type") else f"an object ({value._remote_type})"


@dataclass(frozen=True)
class _Comparer:
    rtol: float
    atol: float
    check_dtype: bool
    equal_nan: bool
    hidden: bool

    def fail(self, name: str, message: str) -> None:
        raise GradingFailure(f"{name}: {message}")

    def compare(self, got: Any, expected: Any, name: str) -> None:
        if isinstance(expected, (torch.Tensor, np.ndarray)):
            self.array(got, expected, name)
        elif isinstance(expected, (tuple, list)):
            if not isinstance(got, (tuple, list)):
                self.fail(name, f"expected a {type(expected).__name__} of {len(expected)}, got {_kind(got)}")
            if len(got) != len(expected):
                self.fail(name, f"expected {len(expected)} items, got {len(got)}")
            for i, (g, e) in enumerate(zip(got, expected)):
                self.compare(g, e, f"{name}[{i}]")
        elif isinstance(expected, dict):
            if not isinstance(got, dict):
                self.fail(name, f"expected a dict, got {_kind(got)}")
            if set(got) != set(expected):
                missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
                self.fail(name, f"keys differ: missing {missing}, unexpected {extra}")
            for key in expected:
                self.compare(got[key], expected[key], f"{name}[{key!r}]")
        elif isinstance(expected, (bool, int, float, np.bool_, np.integer, np.floating)):
            self.number(got, expected.item() if isinstance(expected, np.generic) else expected, name)
        elif got != expected or type(got) is not type(expected):
            self.fail(name, f"expected {expected!r}, got {got!r}" if not self.hidden else f"got {got!r}, which is wrong")

    def number(self, got: Any, expected: float, name: str) -> None:
        if isinstance(got, (torch.Tensor, np.ndarray, np.generic)) and got.ndim == 0:
            got = got.item()
        if isinstance(expected, bool) != isinstance(got, bool) or not isinstance(got, (int, float)):
            self.fail(name, f"expected a {type(expected).__name__}, got {_kind(got)}")
        if isinstance(expected, bool) or isinstance(expected, int) and isinstance(got, int):
            if int(got) != expected:  # int(), float(): plain values, so a subclass's __eq__ is not asked
                self.fail(name, f"got {got}" + ("" if self.hidden else f", expected {expected}"))
            return
        try:
            value = float(got)
        except OverflowError:
            self.fail(name, f"got {got}, too large for a float")
        if math.isnan(expected) and math.isnan(value) and self.equal_nan:
            return
        if not math.isfinite(value) and math.isfinite(expected):
            self.fail(name, f"got {got}, a non-finite value")
        if not math.isclose(value, expected, rel_tol=self.rtol, abs_tol=self.atol) and value != expected:
            detail = f"error about {_rough(abs(value - expected))}" if self.hidden else f"expected {expected!r}"
            self.fail(name, f"got {got!r}, {detail} (rtol={self.rtol:g}, atol={self.atol:g})")

    def array(self, got: Any, expected: torch.Tensor | np.ndarray, name: str) -> None:
        want_tensor = isinstance(expected, torch.Tensor)
        if want_tensor and not isinstance(got, torch.Tensor) or not want_tensor and not isinstance(got, np.ndarray):
            self.fail(name, f"expected {_kind(expected)}, got {_kind(got)}")
        if tuple(got.shape) != tuple(expected.shape):
            self.fail(name, f"shape mismatch: got {tuple(got.shape)}, expected {tuple(expected.shape)}")
        if self.check_dtype and got.dtype != expected.dtype:
            self.fail(name, f"dtype mismatch: got {got.dtype}, expected {expected.dtype}")
        g = _as_float64(got)
        e = _as_float64(expected)
        if g.is_complex() != e.is_complex():  # only with check_dtype=False
            g, e = g.to(torch.complex128), e.to(torch.complex128)
        bad_finite = ~torch.isfinite(g) & torch.isfinite(e)
        if bad_finite.any():
            index = _index(bad_finite.nonzero()[0])
            self.fail(name, f"{int(bad_finite.sum())} non-finite values (NaN or inf), the first at index {index}")
        inexact = (expected.dtype.is_floating_point or expected.dtype.is_complex) if want_tensor \
            else expected.dtype.kind in "fc"
        if inexact:
            close = torch.isclose(g, e, rtol=self.rtol, atol=self.atol, equal_nan=self.equal_nan)
        else:  # integers and booleans: exact, in their own dtypes (float64 cannot hold every int64)
            close = _as_tensor(got) == _as_tensor(expected)
        if bool(close.all()):
            return
        error = (g - e).abs().nan_to_num(nan=math.inf).masked_fill(close, -1.0)  # report a failing value
        flat = int(error.reshape(-1).argmax())
        index = _index(torch.tensor(np.unravel_index(flat, tuple(g.shape))) if g.ndim else torch.tensor([]))
        at = g.reshape(-1)[flat].item()
        where = f"the largest error is at index {index}: got {at:.6g}"
        where += f", error about {_rough(error.reshape(-1)[flat].item())}" if self.hidden else \
            f", expected {e.reshape(-1)[flat].item():.6g} (error {error.reshape(-1)[flat].item():.3g})"
        count = int((~close).sum())
        self.fail(name, f"{count} of {close.numel()} values differ beyond rtol={self.rtol:g}, atol={self.atol:g}; {where}")


def _as_tensor(value: torch.Tensor | np.ndarray) -> torch.Tensor:
    return torch.as_tensor(value).detach().to("cpu")


def _as_float64(value: torch.Tensor | np.ndarray) -> torch.Tensor:
    tensor = _as_tensor(value)
    if tensor.is_complex():
        return tensor.to(torch.complex128)
    return tensor.to(torch.float64)


def _index(index: torch.Tensor) -> tuple[int, ...]:
    return tuple(int(i) for i in index)


def _rough(error: float) -> str:
    """One significant figure: enough to act on, not enough to recover a hidden value."""
    return "inf" if not math.isfinite(error) else f"{error:.0e}"
