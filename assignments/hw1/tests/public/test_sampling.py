"""Public tests for HW1 part 1 (sampling.py): small inputs whose answers were worked out by hand.

The hidden tests check the same functions on many random inputs and check the
distributions of their samples, so passing these is necessary but not sufficient. Each is
worth half a point: answers memorised for these inputs earn no more, and the hidden tests,
which re-check every function on other inputs, carry the points.
"""

import math

import pytest
import torch

from autograder.testing import assert_close


def f64(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def pair(result, name: str) -> tuple:
    """A function's (first, second) result, or a failure that says what came back instead."""
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        f"{name} must return a tuple of two tensors, got {type(result).__name__}"
    return tuple(result)


@pytest.mark.points(0.5)
def test_inverse_cdf_exponential(student):
    """inverse_cdf_exponential returns -log(1 - u) / rate for a few hand-picked u."""
    u = f64(0.0, 0.5, 0.75, 0.9)
    x = student.sampling.inverse_cdf_exponential(u, 2.0)
    assert_close(x, f64(0.0, math.log(2) / 2, math.log(4) / 2, math.log(10) / 2))


@pytest.mark.points(0.5)
def test_inverse_cdf_discrete(student):
    """inverse_cdf_discrete picks k with cdf[k-1] <= u < cdf[k] (a u on a boundary goes up)."""
    probs = f64(0.25, 0.5, 0.25)  # cdf = [0.25, 0.75, 1.0]
    u = f64(0.0, 0.1, 0.25, 0.5, 0.75, 0.99)
    k = student.sampling.inverse_cdf_discrete(u, probs)
    assert_close(k, torch.tensor([0, 0, 1, 1, 2, 2]), name="indices (int64)")


@pytest.mark.points(0.5)
def test_box_muller(student):
    """box_muller maps (u1, u2) to (r cos 2 pi u2, r sin 2 pi u2) with r = sqrt(-2 log u1)."""
    # radii r = 0, 1, 2, sqrt(2 log 2); angles 0.6 pi, pi / 2, pi, pi / 4
    u1 = f64(1.0, math.exp(-0.5), math.exp(-2.0), 0.5)
    u2 = f64(0.3, 0.25, 0.5, 0.125)
    z1, z2 = pair(student.sampling.box_muller(u1, u2), "box_muller")
    assert_close(z1, f64(0.0, 0.0, -2.0, math.sqrt(math.log(2))), name="z1")
    assert_close(z2, f64(0.0, 1.0, 0.0, math.sqrt(math.log(2))), name="z2")


@pytest.mark.points(0.5)
def test_sample_normal_moments(student):
    """sample_normal returns n float64 values with mean near 0 and standard deviation near 1."""
    n = 10_001  # odd on purpose
    z = student.sampling.sample_normal(n, torch.Generator().manual_seed(0))
    assert isinstance(z, torch.Tensor), f"expected a tensor, got {type(z).__name__}"
    assert tuple(z.shape) == (n,), f"expected shape ({n},), got {tuple(z.shape)}"
    assert z.dtype == torch.float64, f"expected dtype torch.float64, got {z.dtype}"
    assert bool(torch.isfinite(z).all()), "samples contain NaN or inf"
    # 5 standard errors: the mean's is 1 / sqrt(n) = 0.01, the standard deviation's 0.007
    assert abs(z.mean().item()) < 0.05, f"mean {z.mean().item():.4f}, expected about 0"
    assert abs(z.std().item() - 1.0) < 0.05, f"standard deviation {z.std().item():.4f}, expected about 1"


@pytest.mark.points(0.5)
def test_rejection_sample_beta(student):
    """beta_envelope(2, 2) is 1.5, and rejection_sample_beta keeps x where u * M <= p(x)."""
    assert_close(student.sampling.beta_envelope(2.0, 2.0), 1.5, name="M for Beta(2, 2)")
    # Beta(2, 2) has p(x) = 6 x (1 - x): p = [1.5, 0.54, 0.54, 1.26] and u * M = [1.485, 0.75, 0.3, 1.35]
    x = f64(0.5, 0.1, 0.9, 0.3)
    u = f64(0.99, 0.5, 0.2, 0.9)
    kept = student.sampling.rejection_sample_beta(x, u, 2.0, 2.0)
    assert_close(kept, f64(0.5, 0.9), name="accepted samples")


@pytest.mark.points(0.5)
def test_sample_gaussian_mixture(student):
    """sample_gaussian_mixture picks k from u, then returns means[k] + stds[k] * z."""
    weights, means, stds = f64(0.25, 0.75), f64(-2.0, 3.0), f64(0.5, 2.0)
    u = f64(0.1, 0.4, 0.9)  # cdf = [0.25, 1.0]
    z = f64(1.0, -1.0, 0.5)
    x, k = pair(student.sampling.sample_gaussian_mixture(weights, means, stds, u, z), "sample_gaussian_mixture")
    assert_close(k, torch.tensor([0, 1, 1]), name="components k (int64)")
    assert_close(x, f64(-1.5, 1.0, 4.0), name="samples x")
