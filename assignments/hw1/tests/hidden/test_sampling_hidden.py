"""Hidden tests for HW1 part 1 (sampling.py): exact checks against the solution key and
distribution checks of the samples.

Exact checks feed both implementations the same uniforms and compare outputs. Distribution
checks (Kolmogorov-Smirnov, chi-square at ALPHA, standard errors) give readable failures, and
each one ends on an exact check of the same samples, so that no shortcut with the right
distribution (a library sampler instead of the transform) earns their points; sample_normal,
free to consume its random numbers in any order, is checked against the generator's own
uniforms instead. Every seed below was fixed in advance and the solution key passes under
it; the catalogue of wrong implementations these tests catch is
tests/assignments/hw1/sampling_variants.py.
"""

import math

import pytest
import torch

from autograder.stats import chi_square_test, ks_test, normal_cdf
from autograder.testing import assert_close

ALPHA = 1e-4  # significance level of every distribution check
N = 100_000  # samples per distribution check
F64 = torch.float64


def f64(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def uniforms(seed: int, *shape: int) -> torch.Tensor:
    """Uniform[0, 1) float64 values from a fixed seed."""
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def normals(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def pair(result, name: str) -> tuple:
    """A function's (first, second) result, or a failure a student can read."""
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        f"{name} must return a tuple of two tensors, got {type(result).__name__}"
    return tuple(result)


def checked(value, name: str, shape: tuple[int, ...] | None = None, dtype: torch.dtype | None = F64) -> torch.Tensor:
    """``value`` if it is a finite tensor of the given shape and dtype; else a readable failure."""
    assert isinstance(value, torch.Tensor), f"{name}: expected a tensor, got {type(value).__name__}"
    assert shape is None or tuple(value.shape) == shape, f"{name}: expected shape {shape}, got {tuple(value.shape)}"
    assert dtype is None or value.dtype == dtype, f"{name}: expected dtype {dtype}, got {value.dtype}"
    assert not value.is_floating_point() or bool(torch.isfinite(value).all()), f"{name}: contains NaN or inf"
    return value


def assert_box_muller_of_stream(z: torch.Tensor, seed: int) -> None:
    """Every sample but at most one pairs with another into the squared radius -2 log u1 of a uniform
    of the generator seeded ``seed``: Box-Muller of its own numbers, whatever their order.

    u1 may be 1 - u or u itself, and its log computed as log(1 - u) or log1p(-u). The one sample
    left alone is an odd n's, whose partner was dropped. Of a library sampler's samples, about 1 in
    500 pairs so by chance (measured: 2 of 1001).
    """
    n = z.numel()
    u = uniforms(seed, 2 * n + 2)  # the first uniforms the generator gives, more than enough for n samples
    radii = torch.cat([-2 * torch.log(u), -2 * torch.log(1 - u), -2 * torch.log1p(-u)]).sort().values
    squared = z.double() ** 2
    pair_sums = squared.view(-1, 1) + squared.view(1, -1)  # (n, n)
    above = torch.searchsorted(radii, pair_sums).clamp(1, len(radii) - 1)
    gap = torch.minimum((radii[above] - pair_sums).abs(), (radii[above - 1] - pair_sums).abs())
    pairs = gap <= 1e-9 * pair_sums
    pairs.fill_diagonal_(False)
    alone = int((~pairs.any(dim=1)).sum())
    assert alone <= 1, (f"{alone} of {n} samples pair with no other sample into a radius sqrt(-2 log u1) of "
                        "the generator's uniforms: are they made by box_muller from the generator's torch.rand?")


def assert_fits(samples: torch.Tensor, cdf, what: str) -> None:
    statistic, p_value = ks_test(samples, cdf)
    assert p_value > ALPHA, f"{what}: Kolmogorov-Smirnov D = {statistic:.4f}, p = {p_value:.2e} < {ALPHA}"


def beta_cdf(x: torch.Tensor, a: int, b: int) -> torch.Tensor:
    """CDF of Beta(a, b) for integer a, b: P(at least a of a + b - 1 Uniforms are <= x)."""
    n = a + b - 1
    return sum(math.comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(a, n + 1))


# --- inverse_cdf_exponential -------------------------------------------------------------


@pytest.mark.points(2)
def test_exponential_exact(student, solution):
    """inverse_cdf_exponential matches the solution on a (50, 20) batch of uniforms and two rates."""
    u = uniforms(101, 50, 20)
    for rate in (0.5, 3.0):
        got = student.sampling.inverse_cdf_exponential(u, rate)
        assert_close(got, solution.sampling.inverse_cdf_exponential(u, rate), name=f"x for rate {rate}")


@pytest.mark.points(1)
@pytest.mark.tolerance(rtol=1e-6, atol=0.0)
def test_exponential_small_u(student, solution):
    """inverse_cdf_exponential keeps full relative precision for tiny u (log1p) and u near 1."""
    u = f64(0.0, 1e-300, 1e-20, 1e-12, 1e-8, 1e-4, 0.5, 1 - 2**-53)
    got = student.sampling.inverse_cdf_exponential(u, 1.5)
    assert_close(got, solution.sampling.inverse_cdf_exponential(u, 1.5))


# --- inverse_cdf_discrete ----------------------------------------------------------------


@pytest.mark.points(1)
def test_discrete_exact(student, solution):
    """inverse_cdf_discrete matches the solution on a (40, 50) batch of uniforms over 7 categories."""
    probs = torch.softmax(normals(102, 7), dim=0)
    u = uniforms(103, 40, 50)
    got = student.sampling.inverse_cdf_discrete(u, probs)
    assert_close(got, solution.sampling.inverse_cdf_discrete(u, probs), name="indices (int64)")


@pytest.mark.points(1)
def test_discrete_zero_probs(student):
    """inverse_cdf_discrete never picks a category of probability 0, even for u on a boundary."""
    probs = f64(0.0, 0.25, 0.0, 0.5, 0.25, 0.0)  # cdf = [0, 0.25, 0.25, 0.75, 1, 1]
    u = f64(0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1 - 2**-53)
    got = student.sampling.inverse_cdf_discrete(u, probs)
    assert_close(got, torch.tensor([1, 1, 3, 3, 4, 4, 4]), name="indices (int64)")
    picked = student.sampling.inverse_cdf_discrete(uniforms(104, 10_000), probs)
    picked = checked(picked, "indices", (10_000,), torch.int64)
    assert not torch.isin(picked, torch.tensor([0, 2, 5])).any(), "picked a category of probability 0"


@pytest.mark.points(1)
def test_discrete_u_near_one(student):
    """inverse_cdf_discrete returns the last index, never K, when round-off leaves cdf[K-1] < u < 1."""
    u = f64(1 - 2**-53, 1 - 2**-52, 1 - 1e-12)
    for K in (7, 10):  # float64 cumulative sums of 1/7 and 1/10 end just below 1
        probs = torch.full((K,), 1.0 / K, dtype=F64)
        got = student.sampling.inverse_cdf_discrete(u, probs)
        assert_close(got, torch.full((3,), K - 1), name=f"indices for {K} equal probabilities")


# --- box_muller and sample_normal --------------------------------------------------------


@pytest.mark.points(2)
def test_box_muller_exact(student, solution):
    """box_muller matches the solution on 1000 pairs of uniforms, including u1 = 1 (radius 0)."""
    u1 = torch.cat([f64(1.0, 0.5), 1.0 - uniforms(105, 998)])  # in (0, 1]
    u2 = torch.cat([f64(0.7, 0.0), uniforms(106, 998)])
    z1, z2 = pair(student.sampling.box_muller(u1, u2), "box_muller")
    e1, e2 = solution.sampling.box_muller(u1, u2)
    assert_close(z1, e1, name="z1")
    assert_close(z2, e2, name="z2")


@pytest.mark.points(1)
def test_box_muller_distribution(student, solution):
    """box_muller's z1, z2 are each N(0, 1) and jointly so, and are the transform of the given uniforms."""
    u1, u2 = 1.0 - uniforms(107, N), uniforms(108, N)
    z1, z2 = pair(student.sampling.box_muller(u1, u2), "box_muller")
    z1, z2 = checked(z1, "z1", (N,)), checked(z2, "z2", (N,))
    assert_fits(z1, normal_cdf, "z1")
    assert_fits(z2, normal_cdf, "z2")
    assert_fits((z1 + z2) / math.sqrt(2), normal_cdf, "(z1 + z2) / sqrt 2")
    assert_fits((z1 - z2) / math.sqrt(2), normal_cdf, "(z1 - z2) / sqrt 2")
    e1, e2 = solution.sampling.box_muller(u1, u2)
    assert_close(z1, e1, name="z1 of these uniforms")
    assert_close(z2, e2, name="z2 of these uniforms")


@pytest.mark.points(2)
def test_sample_normal_distribution(student):
    """sample_normal returns n distinct float64 values that pass a Kolmogorov-Smirnov test for N(0, 1),
    made by Box-Muller from the generator's uniforms."""
    n = N + 1  # odd on purpose
    z = checked(student.sampling.sample_normal(n, torch.Generator().manual_seed(109)), "samples", (n,))
    assert_fits(z, normal_cdf, "samples")
    assert torch.unique(z).numel() == n, "some samples repeat: are z1 and z2 both used, and different?"
    few = checked(student.sampling.sample_normal(1001, torch.Generator().manual_seed(120)), "samples", (1001,))
    assert_box_muller_of_stream(few, 120)


@pytest.mark.points(1)
def test_sample_normal_uses_generator(student):
    """sample_normal draws from the generator it is given: same seed, same samples; new seed, new ones."""
    first, again, other = (
        checked(student.sampling.sample_normal(1000, torch.Generator().manual_seed(seed)), "samples", (1000,), None)
        for seed in (110, 110, 111)
    )
    assert torch.equal(first, again), "two generators with the same seed gave different samples"
    assert not torch.equal(first, other), "generators with different seeds gave the same samples"


# --- rejection sampling ------------------------------------------------------------------


@pytest.mark.points(1)
def test_rejection_beta_exact(student, solution):
    """beta_envelope and rejection_sample_beta match the solution, also for large a and b."""
    for a, b in ((2.0, 5.0), (3.5, 1.5), (1.2, 1.2), (120.0, 180.0)):
        got = student.sampling.beta_envelope(a, b)
        assert_close(got, solution.sampling.beta_envelope(a, b), name=f"M for Beta({a}, {b})")
    # a few proposals far from the mode (M must not be estimated from them), then many
    few_x, few_u = f64(0.9, 0.6, 0.7, 0.3), f64(0.2, 0.99, 0.86, 0.5)
    many_x = torch.cat([f64(0.0, 1.0), uniforms(112, 9_998)])
    many_u = torch.cat([f64(0.5, 0.5), uniforms(113, 9_998)])
    cases = [(few_x, few_u, 2.0, 2.0)] + [(many_x, many_u, a, b) for a, b in ((2.0, 5.0), (3.5, 1.5), (120.0, 180.0))]
    for x, u, a, b in cases:
        got = student.sampling.rejection_sample_beta(x, u, a, b)
        expected = solution.sampling.rejection_sample_beta(x, u, a, b)
        assert_close(got, expected, name=f"accepted samples for Beta({a}, {b}) from {x.numel()} proposals")


@pytest.mark.points(1)
def test_rejection_beta_acceptance(student, solution):
    """rejection_sample_beta for Beta(2, 5) accepts a fraction 1/M of proposals, its samples fit the Beta CDF,
    and they are the proposals the rule keeps."""
    a, b = 2, 5
    M = 30 * 0.2 * 0.8**4  # p(x) = 30 x (1 - x)^4 peaks at the mode 0.2: M = 2.4576
    x, u = uniforms(114, N), uniforms(115, N)
    kept = student.sampling.rejection_sample_beta(x, u, float(a), float(b))
    kept = checked(kept, "accepted samples")
    assert kept.ndim == 1, f"accepted samples: expected a 1-D tensor, got shape {tuple(kept.shape)}"
    rate = kept.numel() / N
    standard_error = math.sqrt((1 / M) * (1 - 1 / M) / N)
    assert abs(rate - 1 / M) < 5 * standard_error, f"acceptance rate {rate:.4f}, expected 1/M = {1 / M:.4f}"
    assert_fits(kept, lambda x: beta_cdf(x, a, b), "accepted samples")
    assert_close(kept, solution.sampling.rejection_sample_beta(x, u, float(a), float(b)), name="accepted samples")


# --- Gaussian mixture --------------------------------------------------------------------


@pytest.mark.points(2)
def test_mixture_exact(student, solution):
    """sample_gaussian_mixture matches the solution's (x, k) on 1000 samples of a 4-component mixture."""
    weights, means, stds = f64(0.2, 0.0, 0.5, 0.3), f64(-3.0, 10.0, 0.0, 4.0), f64(0.5, 1.0, 1.0, 2.0)
    u, z = uniforms(116, 1000), normals(117, 1000)
    x, k = pair(student.sampling.sample_gaussian_mixture(weights, means, stds, u, z), "sample_gaussian_mixture")
    ex, ek = solution.sampling.sample_gaussian_mixture(weights, means, stds, u, z)
    assert_close(k, ek, name="components k (int64)")
    assert_close(x, ex, name="samples x")


@pytest.mark.points(1)
def test_mixture_distribution(student, solution):
    """sample_gaussian_mixture's components have the right frequencies and its samples the mixture CDF,
    and both are those of the given uniforms and normals."""
    weights, means, stds = f64(0.2, 0.0, 0.5, 0.3), f64(-3.0, 10.0, 0.0, 4.0), f64(0.5, 1.0, 1.0, 2.0)
    u, z = uniforms(118, N), normals(119, N)
    result = student.sampling.sample_gaussian_mixture(weights, means, stds, u, z)
    x, k = pair(result, "sample_gaussian_mixture")
    x, k = checked(x, "samples x", (N,)), checked(k, "components k", (N,), torch.int64)
    assert bool(((k >= 0) & (k < 4)).all()), "components k: indices out of range [0, 4)"
    counts = torch.bincount(k, minlength=4)
    statistic, p_value = chi_square_test(counts, weights)
    assert p_value > ALPHA, f"component counts {counts.tolist()}: chi-square {statistic:.1f}, p = {p_value:.2e}"

    def mixture_cdf(t: torch.Tensor) -> torch.Tensor:
        return sum(w * normal_cdf(t, m, s) for w, m, s in zip(weights.tolist(), means.tolist(), stds.tolist()))

    assert_fits(x, mixture_cdf, "samples x")
    ex, ek = solution.sampling.sample_gaussian_mixture(weights, means, stds, u, z)
    assert_close(k, ek, name="components k of these uniforms")
    assert_close(x, ex, name="samples x of these uniforms and normals")
