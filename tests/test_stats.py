"""Tests of autograder.stats against published table values and closed forms."""

import math

import numpy as np
import pytest
import torch

from autograder.stats import StatResult, chi_square_test, kolmogorov_sf, ks_test, normal_cdf


def randn(seed: int, n: int) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --- normal_cdf ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (0.0, 0.5),
        (1.959963984540054, 0.975),  # the two-sided 5% quantile
        (-1.0, 0.15865525393145707),
        (2.5758293035489004, 0.995),
        (-10.0, 7.619853024160527e-24),  # far tail: needs erfc, 1 + erf(.) would give 0
    ],
)
def test_normal_cdf_table_values(x, expected):
    assert normal_cdf(torch.tensor(x, dtype=torch.float64)).item() == pytest.approx(expected, rel=1e-12)


def test_normal_cdf_location_scale_and_inputs():
    x = np.array([1.0, 3.0, 5.0])  # numpy arrays and lists are accepted too
    got = normal_cdf(x, mean=3.0, std=2.0)
    assert got.dtype == torch.float64
    assert torch.allclose(got, torch.tensor([0.15865525393145707, 0.5, 0.8413447460685429], dtype=torch.float64))
    assert normal_cdf([0.0]).tolist() == [0.5]


# --- kolmogorov_sf and ks_test -------------------------------------------------------------


@pytest.mark.parametrize(
    ("lam", "p"),
    # asymptotic critical values of sqrt(n) D (Smirnov 1948; every KS table's last row)
    [(1.2238, 0.10), (1.3581, 0.05), (1.6276, 0.01), (1.9495, 0.001), (1.0, 0.26999967167735456)],
)
def test_kolmogorov_sf_critical_values(lam, p):
    assert kolmogorov_sf(lam) == pytest.approx(p, rel=5e-4)  # tables give 4 digits


def test_kolmogorov_sf_is_a_survival_function():
    lams = [0.0, 0.1, 0.3, 0.5, 0.8, 0.99, 1.0, 1.01, 1.5, 2.0, 3.0, 10.0]
    values = [kolmogorov_sf(lam) for lam in lams]
    assert values[0] == 1.0 and values[-1] < 1e-80
    assert all(a >= b for a, b in zip(values, values[1:]))
    # the two series meet at lam = 1 without a jump
    assert kolmogorov_sf(1.0 - 1e-12) == pytest.approx(kolmogorov_sf(1.0), abs=1e-10)


def test_ks_statistic_by_hand():
    # Uniform CDF at [0.1, 0.4, 0.7]: D+ = max(1/3 - 0.1, 2/3 - 0.4, 1 - 0.7) = 0.3, D- = 0.1
    statistic, p_value = ks_test(torch.tensor([0.7, 0.1, 0.4]), lambda x: x)
    assert statistic == pytest.approx(0.3)
    assert 0.0 < p_value <= 1.0


@pytest.mark.parametrize(
    ("n", "d", "p"),
    # D at which the exact finite-n distribution (Marsaglia, Tsang and Wang 2003) has tail p
    [(1000, 0.042776500461245, 0.05), (1000, 0.07017128659015608, 1e-4), (100_000, 0.007035165419230842, 1e-4)],
)
def test_ks_p_value_matches_exact_distribution(n, d, p):
    # samples whose empirical CDF sits exactly D above the uniform CDF at the last point
    samples = (torch.arange(1, n + 1, dtype=torch.float64) / n) - d
    statistic, p_value = ks_test(samples.clamp(min=0.0), lambda x: x)
    assert statistic == pytest.approx(d, rel=1e-9)
    assert p_value == pytest.approx(p, rel=0.03)


def test_ks_accepts_correct_samples():
    for seed in range(5):
        assert ks_test(randn(seed, 100_000), normal_cdf).p_value > 1e-4


@pytest.mark.parametrize(
    ("transform", "what"),
    [
        (lambda z: z / math.sqrt(2.0), "Box-Muller without the factor 2 (std 0.707)"),
        (lambda z: z + 0.05, "mean shifted by 0.05"),
        (lambda z: z.abs(), "half-normal"),
    ],
)
def test_ks_rejects_wrong_distributions(transform, what):
    result = ks_test(transform(randn(0, 100_000)), normal_cdf)
    assert isinstance(result, StatResult)
    assert result.p_value < 1e-6, what


def test_ks_rejects_non_finite_samples():
    z = randn(0, 1000)
    z[3] = float("nan")
    assert ks_test(z, normal_cdf) == (1.0, 0.0)


def test_ks_checks_its_inputs():
    with pytest.raises(ValueError):
        ks_test(torch.tensor([]), normal_cdf)
    with pytest.raises(ValueError):
        ks_test(torch.tensor([0.1, 0.2]), lambda x: x[:1])


# --- chi_square_test -----------------------------------------------------------------------


def test_chi_square_closed_forms():
    # 2 degrees of freedom: P(X > s) = exp(-s / 2); here s = (100 + 0 + 100) / 20 = 10
    statistic, p_value = chi_square_test([10, 20, 30], [1 / 3, 1 / 3, 1 / 3])
    assert statistic == pytest.approx(10.0)
    assert p_value == pytest.approx(math.exp(-5.0), rel=1e-12)
    # 4 degrees of freedom: P(X > s) = exp(-s / 2) (1 + s / 2); s = (100 + 100) / 20 = 10
    statistic, p_value = chi_square_test(torch.tensor([30, 10, 20, 20, 20]), torch.full((5,), 0.2))
    assert statistic == pytest.approx(10.0)
    assert p_value == pytest.approx(6.0 * math.exp(-5.0), rel=1e-12)


@pytest.mark.parametrize(
    ("dof", "quantile", "p"),
    # upper quantiles from the chi-square table (e.g. NIST/SEMATECH e-Handbook, 1.3.6.7.4)
    [(1, 3.841, 0.05), (3, 11.345, 0.01), (9, 16.919, 0.05), (9, 27.877, 0.001)],
)
def test_chi_square_table_quantiles(dof, quantile, p):
    # dof + 1 equally likely categories; all the excess in the first, shared out by the rest
    k = dof + 1
    n = 1000.0
    # counts n/k + d, then n/k - d/dof each, give statistic d^2 (1 + 1/dof) / (n/k)
    d = math.sqrt(quantile * (n / k) / (1 + 1 / dof))
    counts = [n / k + d] + [n / k - d / dof] * dof
    statistic, p_value = chi_square_test(counts, [1.0] * k)  # unnormalised probabilities are fine
    assert statistic == pytest.approx(quantile, rel=1e-9)
    assert p_value == pytest.approx(p, rel=2e-3)


def test_chi_square_accepts_and_rejects_samples():
    g = torch.Generator().manual_seed(0)
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    counts = torch.bincount(torch.multinomial(probs, 100_000, replacement=True, generator=g), minlength=4)
    assert chi_square_test(counts, probs).p_value > 1e-4
    assert chi_square_test(counts, torch.tensor([0.1, 0.2, 0.32, 0.38])).p_value < 1e-10


def test_chi_square_zero_probability_categories():
    # an empty category of probability 0 is left out (1 degree of freedom remains) ...
    assert chi_square_test([50, 0, 50], [0.5, 0.0, 0.5]) == (0.0, 1.0)
    # ... and a count where the probability is 0 is impossible
    assert chi_square_test([49, 1, 50], [0.5, 0.0, 0.5]) == (math.inf, 0.0)


def test_chi_square_checks_its_inputs():
    with pytest.raises(ValueError):
        chi_square_test([1, 2], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError):
        chi_square_test([1, 2], [-0.5, 1.5])
    with pytest.raises(ValueError):
        chi_square_test([3, 0], [1.0, 0.0])  # one possible category: no degrees of freedom
