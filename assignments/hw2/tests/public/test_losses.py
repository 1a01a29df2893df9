"""Public tests for HW2 part 2 (losses.py): tiny inputs whose answers were worked out by hand.

The hidden tests compare the same functions with the solution key on many random inputs
(float32 and float64), check the closed-form KL against Monte Carlo estimates, and check the
bounds in a linear-Gaussian model whose log p(x) is known exactly; passing these is
necessary but not sufficient.
"""

import math

import pytest
import torch

from autograder.testing import assert_close

F64 = torch.float64
LOG2 = math.log(2)


def f64(values) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def scalar(value, name: str) -> torch.Tensor:
    """A one-element floating tensor, as a float64 0-d tensor (float32 answers are accepted)."""
    assert isinstance(value, torch.Tensor), f"{name}: expected a tensor, got {type(value).__name__}"
    assert value.numel() == 1, f"{name}: expected a scalar (mean over the batch), got shape {tuple(value.shape)}"
    assert value.dtype.is_floating_point, f"{name}: expected a floating-point tensor, got {value.dtype}"
    return value.detach().reshape(()).to(F64)


def pair(result, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        f"{name} must return (reconstruction, divergence), got {type(result).__name__}"
    return scalar(result[0], f"{name} reconstruction"), scalar(result[1], f"{name} divergence")


def assert_reconstruction(got: torch.Tensor, without_constant: float, constant: float, name: str) -> None:
    """A Gaussian reconstruction term, with or without its constant 0.5 log(2 pi sigma^2) per pixel."""
    if abs(got.item() - without_constant) <= 1e-6 * (1 + abs(without_constant)):
        return
    assert_close(got, f64(without_constant + constant), name=f"{name} (with or without its constant)")


# Two examples of 3 pixels, 2 latents. Squared errors sum to 2 and 4; sigma = 2 gives 2/8 and 4/8.
X1 = f64([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
X2 = f64([[1.0, 1.0, 0.0], [0.0, 2.0, 0.0]])
SIGMA = 2.0
MU = f64([[1.0, 0.0], [0.0, 0.0]])
LOGVAR = f64([[0.0, 0.0], [LOG2, 0.0]])
Z = f64([[1.0, 0.0], [0.0, 1.0]])
RECONSTRUCTION = (0.25 + 0.5) / 2
CONSTANT = 1.5 * math.log(2 * math.pi * SIGMA**2)  # 0.5 log(2 pi sigma^2) for each of the 3 pixels


@pytest.mark.points(2)
def test_gaussian_elbo_by_hand(student):
    """gaussian_elbo: per-example mean of the summed squared error / (2 sigma^2), and the closed-form KL."""
    reconstruction, divergence = pair(student.losses.gaussian_elbo(X1, X2, Z, SIGMA, MU, LOGVAR), "gaussian_elbo")
    assert_reconstruction(reconstruction, RECONSTRUCTION, CONSTANT, "reconstruction")
    # KL row 1: 0.5 (1 + 1 - 1 - 0) = 0.5; row 2: 0.5 (0 + 2 - 1 - log 2)
    assert_close(divergence, f64(0.5 - 0.25 * LOG2), name="divergence")


@pytest.mark.points(2)
def test_mc_gaussian_elbo_by_hand(student):
    """mc_gaussian_elbo: log q(z|x) - log p(z) at the given z, averaged over the batch."""
    reconstruction, divergence = pair(student.losses.mc_gaussian_elbo(X1, X2, Z, SIGMA, MU, LOGVAR),
                                      "mc_gaussian_elbo")
    assert_reconstruction(reconstruction, RECONSTRUCTION, CONSTANT, "reconstruction")
    # row 1: z = mu, var 1: 0.5 z^2 = 0.5; row 2: -0.5 log 2 (latent 1) + (-0.5 + 0.5) (latent 2)
    assert_close(divergence, f64(0.25 - 0.25 * LOG2), name="divergence")


@pytest.mark.points(2)
def test_discrete_output_elbo_by_hand(student):
    """discrete_output_elbo: logits 0 cost log 2 a pixel; the KL is mean(0.5 |z|^2 - logqzx) (logqzx is MINUS log q)."""
    x1 = torch.zeros(2, 1, 2, 2, dtype=F64)
    x2 = f64([[[[1.0, 0.0], [0.0, 1.0]]], [[[1.0, 1.0], [1.0, 1.0]]]])
    z = f64([[1.0, 2.0], [0.0, 0.0]])
    logqzx = f64([1.0, 0.5])
    reconstruction, divergence = pair(student.losses.discrete_output_elbo(x1, x2, z, logqzx), "discrete_output_elbo")
    assert_close(reconstruction, f64(4 * LOG2), name="reconstruction")
    assert_close(divergence, f64(((2.5 - 1.0) + (0.0 - 0.5)) / 2), name="divergence")


@pytest.mark.points(1)
def test_discrete_output_elbo_stable(student):
    """Float32 logits of +-100: right predictions cost ~0, wrong ones 100 nats each (log(sigmoid) gives inf/NaN)."""
    x1 = torch.tensor([[100.0, -100.0], [100.0, -100.0]])
    x2 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z = torch.zeros(2, 3)
    reconstruction, divergence = pair(student.losses.discrete_output_elbo(x1, x2, z, torch.zeros(2)),
                                      "discrete_output_elbo")
    assert_close(reconstruction, f64(100.0), rtol=1e-5, name="reconstruction")
    assert_close(divergence, f64(0.0), name="divergence")


@pytest.mark.points(2)
def test_importance_weighted_bound_by_hand(student):
    """importance_weighted_bound: logsumexp of log w = log p(x|z) - 0.5 |z|^2 + logqzx over k, minus log k."""
    log_px_given_z = f64([[-1.0, -2.0], [-3.0, -2.0], [-2.0, -4.0]])  # (k = 3, B = 2)
    z = torch.zeros(3, 2, 1, dtype=F64)
    z[0, 1, 0] = 2.0
    logqzx = f64([[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])  # log w = [[-1, -2 - 2 + 1], [-3, -2], [-2, -4]]
    got = student.losses.importance_weighted_bound(log_px_given_z, z, logqzx)
    assert isinstance(got, torch.Tensor), f"expected a tensor, got {type(got).__name__}"
    e = math.exp
    expected = f64([math.log((e(-1) + e(-3) + e(-2)) / 3), math.log((e(-3) + e(-2) + e(-4)) / 3)])
    assert_close(got.to(F64) if got.dtype.is_floating_point else got, expected, name="IWAE_3 per example")
