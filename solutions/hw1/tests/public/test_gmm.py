"""Public tests for HW1 part 2 (gmm.py): small inputs whose answers were worked out by hand.

The hidden tests compare every function with the solution on random inputs, far from
every mean, in float32, and run EM on data from a known mixture, so passing these is
necessary but not sufficient. Each is worth half a point:
answers memorised for these inputs earn no more, and the hidden tests, which re-check
every function on other inputs, carry the points.
"""

import math

import pytest
import torch

from autograder.testing import assert_close

LOG_2PI = math.log(2 * math.pi)


def f64(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def parts(result, name: str, n: int) -> tuple:
    """A function's n results as a tuple, or a failure that says what came back instead."""
    assert isinstance(result, (tuple, list)) and len(result) == n, \
        f"{name} must return a tuple of {n} tensors, got {type(result).__name__}"
    return tuple(result)


def normal_log_pdf(x: float, mean: float, var: float) -> float:
    """log N(x; mean, var) in one dimension."""
    return -0.5 * (LOG_2PI + math.log(var) + (x - mean) ** 2 / var)


# A 2-D Gaussian worked out by hand: det = 3, inverse = [[2, -1], [-1, 2]] / 3.
MEAN_2D = f64([1.0, -1.0])
COV_2D = f64([[2.0, 1.0], [1.0, 2.0]])
X_2D = f64([[1.0, -1.0], [2.0, 0.0], [2.0, -2.0]])  # x - mean = (0, 0), (1, 1), (1, -1)
MAHALANOBIS_2D = (0.0, 2.0 / 3.0, 2.0)


@pytest.mark.points(0.5)
def test_gmm_log_gaussian(student):
    """log_gaussian gives -1/2 (D log 2 pi + log det Sigma + (x - mu)^T Sigma^-1 (x - mu)) in 1-D and 2-D."""
    x = f64([[0.0], [1.0], [-2.0]])
    got = student.gmm.log_gaussian(x, f64([0.0]), f64([[4.0]]))
    assert_close(got, f64([normal_log_pdf(v, 0.0, 4.0) for v in (0.0, 1.0, -2.0)]), name="1-D log densities")
    got = student.gmm.log_gaussian(X_2D, MEAN_2D, COV_2D)
    expected = f64([-0.5 * (2 * LOG_2PI + math.log(3.0) + m) for m in MAHALANOBIS_2D])
    assert_close(got, expected, name="2-D log densities")


@pytest.mark.points(0.5)
def test_gmm_log_gaussian_batched(student):
    """log_gaussian with means (K, D) and covs (K, D, D) returns (K, N): row k for component k."""
    means = torch.stack([MEAN_2D, f64([0.0, 0.0])])  # (2, 2)
    covs = torch.stack([COV_2D, torch.eye(2, dtype=torch.float64)])  # (2, 2, 2)
    got = student.gmm.log_gaussian(X_2D, means, covs)
    expected = f64([
        [-0.5 * (2 * LOG_2PI + math.log(3.0) + m) for m in MAHALANOBIS_2D],
        [-0.5 * (2 * LOG_2PI + sq) for sq in (2.0, 4.0, 8.0)],  # N(0, I): ||x||^2 / 2
    ])  # fmt: skip
    assert_close(got, expected, name="log densities (K, N)")


@pytest.mark.points(0.5)
def test_gmm_log_density(student):
    """gmm_log_density is log(sum_k pi_k N(x; mu_k, Sigma_k)) for a 1-D mixture of two components."""
    weights, means, variances = (0.25, 0.75), (-1.0, 2.0), (1.0, 4.0)
    points = (-1.0, 0.0, 2.0, 5.0)
    got = student.gmm.gmm_log_density(
        f64([[p] for p in points]), f64(weights), f64([[m] for m in means]), f64([[[v]] for v in variances])
    )
    expected = [
        math.log(sum(w * math.exp(normal_log_pdf(p, m, v)) for w, m, v in zip(weights, means, variances)))
        for p in points
    ]
    assert_close(got, f64(expected), name="log p(x)")


@pytest.mark.points(0.5)
def test_gmm_e_step(student):
    """e_step returns responsibilities (N, K) whose rows sum to 1 and the mean log-likelihood (a 0-d tensor)."""
    # Equal weights, means -1 and 1, unit variances: r[n, 1] = N(x; 1) / (N(x; -1) + N(x; 1)) = sigmoid(2 x).
    points = (0.0, 1.0, -1.0, 3.0)
    x = f64([[p] for p in points])
    result = student.gmm.e_step(x, f64([0.5, 0.5]), f64([[-1.0], [1.0]]), f64([[[1.0]], [[1.0]]]))
    responsibilities, log_likelihood = parts(result, "e_step", 2)
    sigmoid = [1 / (1 + math.exp(-2 * p)) for p in points]
    assert_close(responsibilities, f64([[1 - s, s] for s in sigmoid]), name="responsibilities")
    log_px = [math.log(0.5 * math.exp(normal_log_pdf(p, -1.0, 1.0)) + 0.5 * math.exp(normal_log_pdf(p, 1.0, 1.0)))
              for p in points]
    assert_close(log_likelihood, torch.tensor(sum(log_px) / len(points), dtype=torch.float64),
                 name="mean log-likelihood")

    # Three components in 2-D: only the shape and the normalisation are checked here.
    x = f64([[0.0, 0.0], [1.0, 2.0], [-3.0, 1.0], [4.0, -1.0], [0.5, 0.5]])
    covs = f64([[[1.0, 0.3], [0.3, 2.0]], [[0.5, 0.0], [0.0, 0.5]], [[3.0, -1.0], [-1.0, 1.0]]])
    result = student.gmm.e_step(x, f64([0.2, 0.3, 0.5]), f64([[0.0, 1.0], [2.0, -1.0], [-1.0, 0.0]]), covs)
    responsibilities, _ = parts(result, "e_step", 2)
    assert_close(responsibilities.sum(dim=1), torch.ones(5, dtype=torch.float64), name="row sums of responsibilities")


@pytest.mark.points(0.5)
def test_gmm_m_step(student):
    """m_step gives pi_k = N_k / N, the weighted means, and the weighted covariances about them plus ridge * I."""
    # Hard assignments: four corners of a square, and two points on a line (a singular covariance without the ridge).
    x = f64([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0], [10.0, 10.0], [12.0, 14.0]])
    responsibilities = f64([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 2)
    weights, means, covs = parts(student.gmm.m_step(x, responsibilities, 0.5), "m_step", 3)
    assert_close(weights, f64([4 / 6, 2 / 6]), name="weights")
    assert_close(means, f64([[1.0, 1.0], [11.0, 12.0]]), name="means")
    assert_close(covs, f64([[[1.5, 0.0], [0.0, 1.5]], [[1.5, 2.0], [2.0, 4.5]]]), name="covariances (ridge 0.5)")

    # Soft assignments in 1-D: N_k = 1.5 each, means 1/3 and 5/3, variances 2/9, plus the default ridge 1e-6.
    x = f64([[0.0], [1.0], [2.0]])
    responsibilities = f64([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    weights, means, covs = parts(student.gmm.m_step(x, responsibilities), "m_step", 3)
    assert_close(weights, f64([0.5, 0.5]), name="weights")
    assert_close(means, f64([[1 / 3], [5 / 3]]), name="means")
    assert_close(covs, f64([[[2 / 9 + 1e-6]], [[2 / 9 + 1e-6]]]), name="covariances (default ridge 1e-6)")


@pytest.mark.points(0.5)
def test_gmm_fit(student):
    """fit_gmm returns (weights, means, covs, log_likelihoods); one component converges in one step."""
    # K = 1: the first M-step lands on the sample mean 3 and variance 3.5 (+ ridge); the second changes
    # nothing, so EM stops there with 3 log-likelihoods: initial, after step 1, after step 2.
    x = f64([[1.0], [2.0], [3.0], [6.0]])
    result = student.gmm.fit_gmm(x, f64([1.0]), f64([[0.0]]), f64([[[1.0]]]), n_iter=10, tol=1e-9)
    weights, means, covs, log_likelihoods = parts(result, "fit_gmm", 4)
    variance = 3.5 + 1e-6
    assert_close(weights, f64([1.0]), name="weights")
    assert_close(means, f64([[3.0]]), name="means")
    assert_close(covs, f64([[[variance]]]), name="covariances")
    initial = -0.5 * LOG_2PI - (1 + 4 + 9 + 36) / 8  # mean of log N(x; 0, 1)
    fitted = -0.5 * (LOG_2PI + math.log(variance) + 3.5 / variance)
    assert_close(log_likelihoods, f64([initial, fitted, fitted]), name="log_likelihoods")

    # K = 2 in 1-D: the log-likelihood never decreases, and the last one is that of the returned parameters.
    x = f64([[-2.1], [-1.7], [-1.2], [-0.4], [0.3], [1.1], [1.6], [2.4], [2.9], [3.3]])
    result = student.gmm.fit_gmm(x, f64([0.5, 0.5]), f64([[-0.5], [0.5]]), f64([[[1.0]], [[1.0]]]), n_iter=30, tol=0.0)
    weights, means, covs, log_likelihoods = parts(result, "fit_gmm", 4)
    assert isinstance(log_likelihoods, torch.Tensor) and log_likelihoods.ndim == 1, \
        "log_likelihoods must be a 1-D tensor"
    assert 2 <= len(log_likelihoods) <= 31, f"expected 2 to n_iter + 1 = 31 log-likelihoods, got {len(log_likelihoods)}"
    worst = log_likelihoods.diff().min().item()
    assert worst >= -1e-8, f"the log-likelihood decreased by {-worst:.3g} in one EM step"
    _, last = parts(student.gmm.e_step(x, weights, means, covs), "e_step", 2)
    assert_close(log_likelihoods[-1], last, name="last log-likelihood vs e_step of the returned parameters")
