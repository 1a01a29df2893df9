"""Hidden tests for HW3 part 3 (evaluation.py): exact checks against the solution key and
properties every correct implementation has.

Inputs are random but fixed (seeded here), and differ from the public tests' inputs. Exact
checks compare in float64 with the default tolerance; tests on float32 inputs allow the
rounding of float32 itself, so an implementation that keeps float32 throughout still passes.
Singular covariances (fewer samples than dimensions) are checked with a tolerance set by
measurement: the square root of an eigenvalue that round-off moved from 0 to 1e-14 is 1e-7,
whichever stable method computes it. The catalogue of wrong implementations these tests
catch is tests/assignments/hw3/evaluation_variants.py.
"""

import pytest
import torch

from autograder.testing import assert_close

F64 = torch.float64


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def softmax_probs(seed: int, n: int, k: int, temperature: float = 1.0) -> torch.Tensor:
    """(n, k) float64 class probabilities: a softmax of Gaussian logits / temperature."""
    logits = torch.randn(n, k, generator=generator(seed), dtype=F64) / temperature
    return torch.softmax(logits, dim=1)


def covariance(seed: int, d: int, rank: int) -> torch.Tensor:
    """A random (d, d) float64 covariance of the given rank: A A^T / rank with A (d, rank)."""
    a = torch.randn(d, rank, generator=generator(seed), dtype=F64)
    return a @ a.mT / rank


def gaussian(seed: int, d: int, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    mu = torch.randn(d, generator=generator(seed + 1000), dtype=F64)
    return mu, covariance(seed, d, rank)


def features(seed: int, n: int, d: int, shift: float = 0.0) -> torch.Tensor:
    """(n, d) correlated float64 features: Gaussian noise through a random linear map, plus `shift`."""
    g = generator(seed)
    mixing = torch.randn(d, d, generator=g, dtype=F64) / d**0.5
    return torch.randn(n, d, generator=g, dtype=F64) @ mixing + shift


def pair(result, name: str) -> tuple:
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        f"{name} must return a tuple of two values, got {type(result).__name__}"
    return tuple(result)


def number(value, name: str) -> float:
    """`value` as a float if it is a real number (a Python float or a 0-dim tensor); else a readable failure.

    The docstrings ask for Python floats; a 0-dim tensor is accepted too, since it holds the same answer.
    """
    if isinstance(value, torch.Tensor) and value.ndim == 0 and value.is_floating_point():
        value = value.item()
    assert isinstance(value, (int, float)) and not isinstance(value, bool), \
        f"{name}: expected a number, got {type(value).__name__}"
    return float(value)


# --- Inception score ---------------------------------------------------------------------


@pytest.mark.points(2)
def test_is_extremes(student):
    """IS is K for one-hot predictions spread evenly over K classes (in any order) and 1 for identical rows."""
    for k, copies, seed in ((7, 5, 1), (10, 3, 2)):
        order = torch.randperm(k * copies, generator=generator(seed))
        balanced = torch.eye(k, dtype=F64).repeat(copies, 1)[order]  # (k * copies, k), shuffled
        got = student.evaluation.inception_score(balanced)
        assert_close(got, float(k), name=f"IS of balanced one-hot predictions, {k} classes")
    row = softmax_probs(3, 1, 9)
    assert_close(student.evaluation.inception_score(row.repeat(40, 1)), 1.0, name="IS of 40 identical soft rows")
    one_hot = torch.zeros(25, 6, dtype=F64)
    one_hot[:, 4] = 1.0
    assert_close(student.evaluation.inception_score(one_hot), 1.0, name="IS of 25 identical one-hot rows")


@pytest.mark.points(3)
def test_is_exact(student, solution):
    """inception_score matches the solution on 500 softmax outputs over 10 classes, peaked to flat."""
    for temperature, seed in ((0.3, 11), (1.0, 12), (4.0, 13)):
        probs = softmax_probs(seed, 500, 10, temperature)
        assert_close(student.evaluation.inception_score(probs), solution.evaluation.inception_score(probs),
                     name=f"IS at temperature {temperature}")


@pytest.mark.points(1)
def test_is_zero_probabilities(student, solution):
    """inception_score handles exact zeros (0 log 0 = 0) in rows that are neither one-hot nor uniform."""
    probs = softmax_probs(14, 60, 8)
    probs[::3, :3] = 0.0  # a third of the rows never predict classes 0-2
    probs = probs / probs.sum(dim=1, keepdim=True)
    probs[1::7] = torch.eye(8, dtype=F64)[5]  # and some are one-hot
    got = number(student.evaluation.inception_score(probs), "IS")
    assert_close(got, solution.evaluation.inception_score(probs), name="IS of rows with zeros")


@pytest.mark.points(1)
@pytest.mark.tolerance(rtol=1e-5, atol=0.0)
def test_is_float32(student, solution, device):
    """inception_score takes float32 probabilities (on the grading device) and returns a number."""
    probs = softmax_probs(15, 400, 10, 0.7).float()
    got = number(student.evaluation.inception_score(probs.to(device)), "IS of float32 probabilities")
    assert_close(got, solution.evaluation.inception_score(probs), name="IS of float32 probabilities")


@pytest.mark.points(2)
def test_is_splits_exact(student, solution):
    """inception_score_splits matches the solution's (mean, std) for 1, 3 and 10 splits of 600 rows."""
    probs = torch.cat([softmax_probs(16, 300, 10, 0.5), softmax_probs(17, 300, 10, 2.0)])  # blocks differ
    for splits in (1, 3, 10):
        got = pair(student.evaluation.inception_score_splits(probs, splits), "inception_score_splits")
        expected = solution.evaluation.inception_score_splits(probs, splits)
        assert_close(number(got[0], "mean"), expected[0], name=f"mean over {splits} splits")
        assert_close(number(got[1], "std"), expected[1], name=f"standard deviation over {splits} splits")


# --- matrix square root ------------------------------------------------------------------


@pytest.mark.points(2)
def test_sqrtm_psd_squares_back(student, solution):
    """sqrtm_psd returns a symmetric PSD R with R @ R = A, equal to the solution's, also for singular A."""
    for d, rank, seed in ((12, 12, 21), (20, 5, 22)):
        a = covariance(seed, d, rank)
        r = student.evaluation.sqrtm_psd(a)
        assert_close(r, solution.evaluation.sqrtm_psd(a), atol=1e-6, name=f"sqrt of a rank-{rank} {d} x {d} matrix")
        r = r.to(F64)
        assert_close(r @ r, a, atol=1e-10, name=f"R @ R for the rank-{rank} matrix")
        assert_close(r, r.mT, atol=1e-12, name=f"R^T for the rank-{rank} matrix")
        assert torch.linalg.eigvalsh(r).min().item() > -1e-6, f"the root of the rank-{rank} matrix is not PSD"


# --- Fréchet distance --------------------------------------------------------------------


@pytest.mark.points(2)
def test_fid_identical(student, solution):
    """FID of a Gaussian with itself is 0 (to 1e-10 of its scale when full rank), and positive otherwise."""
    for d, seed in ((16, 31), (48, 32)):
        mu, sigma = gaussian(seed, d, d)
        got = number(student.evaluation.frechet_distance(mu, sigma, mu, sigma), "FID")
        assert abs(got) <= 1e-10 * sigma.trace().item(), f"FID(X, X) = {got:.1e} for a full-rank {d}-D Gaussian"
    mu, sigma = gaussian(33, 40, 12)  # singular: measured |FID(X, X)| ~ 1e-8 of its scale
    got = number(student.evaluation.frechet_distance(mu, sigma, mu, sigma), "FID")
    assert abs(got) <= 1e-6 * sigma.trace().item(), f"FID(X, X) = {got:.1e} for a rank-12 40-D Gaussian"
    # a distance that is 0 everywhere is no distance: the same mean, a different covariance
    got = student.evaluation.frechet_distance(mu, sigma, mu, 2 * sigma)
    assert_close(got, solution.evaluation.frechet_distance(mu, sigma, mu, 2 * sigma), name="FID(N(mu, S), N(mu, 2 S))")


@pytest.mark.points(2)
@pytest.mark.tolerance(rtol=0.0, atol=1e-10)
def test_fid_shift(student):
    """Moving every one of 16 coordinates by +-0.5 adds 16 / 4 = 4 to the FID, whatever the (full) covariance."""
    mu, sigma = gaussian(41, 16, 16)
    signs = torch.tensor([1.0, -1.0] * 8, dtype=F64)
    assert_close(student.evaluation.frechet_distance(mu, sigma, mu + 0.5, sigma), 4.0, name="FID after a shift by 0.5")
    assert_close(student.evaluation.frechet_distance(mu, sigma, mu + 0.5 * signs, sigma), 4.0,
                 name="FID after a shift by +-0.5")


@pytest.mark.points(2)
def test_fid_exact_full_rank(student, solution):
    """frechet_distance matches the solution on random full-rank covariances in 8 and 32 dimensions."""
    for d, seed in ((8, 51), (32, 52)):
        mu1, sigma1 = gaussian(seed, d, d)
        mu2, sigma2 = gaussian(seed + 100, d, 2 * d)
        got = student.evaluation.frechet_distance(mu1, sigma1, mu2, sigma2)
        assert_close(got, solution.evaluation.frechet_distance(mu1, sigma1, mu2, sigma2), name=f"FID in {d} dimensions")


@pytest.mark.points(2)
def test_fid_exact_rank_deficient(student, solution):
    """frechet_distance matches the solution when one or both covariances are singular."""
    cases = ((32, 10, 20, 61), (32, 32, 7, 62), (24, 3, 3, 63))  # (d, rank1, rank2, seed)
    for d, rank1, rank2, seed in cases:
        mu1, sigma1 = gaussian(seed, d, rank1)
        mu2, sigma2 = gaussian(seed + 100, d, rank2)
        got = number(student.evaluation.frechet_distance(mu1, sigma1, mu2, sigma2), "FID")
        assert_close(got, solution.evaluation.frechet_distance(mu1, sigma1, mu2, sigma2),
                     name=f"FID with ranks {rank1} and {rank2} in {d} dimensions")


@pytest.mark.points(1)
def test_fid_symmetric(student, solution):
    """FID(1, 2) = FID(2, 1), and both equal the solution's, for full-rank and singular pairs."""
    for d, rank1, rank2, seed in ((10, 10, 10, 71), (16, 16, 5, 72)):
        mu1, sigma1 = gaussian(seed, d, rank1)
        mu2, sigma2 = gaussian(seed + 100, d, rank2)
        forward = number(student.evaluation.frechet_distance(mu1, sigma1, mu2, sigma2), "FID(1, 2)")
        backward = number(student.evaluation.frechet_distance(mu2, sigma2, mu1, sigma1), "FID(2, 1)")
        # measured: 1e-15 apart when full rank, 1e-9 (relative) when singular
        assert_close(backward, forward, rtol=1e-7, atol=0.0, name=f"FID(2, 1) against FID(1, 2) in {d} dimensions")
        assert_close(forward, solution.evaluation.frechet_distance(mu1, sigma1, mu2, sigma2), name="FID(1, 2)")


@pytest.mark.points(1)
@pytest.mark.tolerance(rtol=1e-4, atol=0.0)
def test_fid_float32(student, solution, device):
    """frechet_distance takes float32 statistics (on the grading device) and returns a number."""
    mu1, sigma1 = gaussian(81, 24, 24)
    mu2, sigma2 = gaussian(82, 24, 48)
    args = [t.float() for t in (mu1, sigma1, mu2, sigma2)]
    got = number(student.evaluation.frechet_distance(*(t.to(device) for t in args)), "FID of float32 statistics")
    assert_close(got, solution.evaluation.frechet_distance(*args), name="FID of float32 statistics")


# --- feature statistics ------------------------------------------------------------------


@pytest.mark.points(2)
def test_feature_statistics_exact(student, solution):
    """feature_statistics matches the solution's float64 (mean, unbiased covariance), also for N < d."""
    for n, d, seed in ((257, 10, 91), (6, 9, 92)):
        x = features(seed, n, d, shift=3.0)
        mu, sigma = pair(student.evaluation.feature_statistics(x), "feature_statistics")
        expected_mu, expected_sigma = solution.evaluation.feature_statistics(x)
        assert_close(mu, expected_mu, name=f"mu of {n} features in {d} dimensions")
        assert_close(sigma, expected_sigma, name=f"sigma of {n} features in {d} dimensions")


@pytest.mark.points(2)
def test_fid_from_features_exact(student, solution):
    """fid_from_features matches the solution on two feature sets, is 0 for a set with itself, takes float32."""
    real, fake = features(101, 400, 16), features(102, 300, 16, shift=0.3)
    got = student.evaluation.fid_from_features(real, fake)
    assert_close(got, solution.evaluation.fid_from_features(real, fake), name="FID of two feature sets")
    same = number(student.evaluation.fid_from_features(real, real), "FID of a set with itself")
    assert abs(same) <= 1e-10 * real.var(dim=0).sum().item(), f"FID of a feature set with itself = {same:.1e}"
    got = number(student.evaluation.fid_from_features(real.float(), fake.float()), "FID of float32 features")
    expected = solution.evaluation.fid_from_features(real.float(), fake.float())
    assert_close(got, expected, rtol=1e-4, atol=0.0, name="FID of float32 features")


# --- sample grid -------------------------------------------------------------------------


@pytest.mark.points(3)
def test_make_grid_exact(student, solution):
    """make_grid matches the solution for full and partial last rows, fewer images than nrow, no padding."""
    g = generator(111)
    cases = [  # (B, C, H, W, arguments)
        (6, 3, 4, 5, dict(nrow=3, padding=2, pad_value=1.0)),
        (7, 1, 3, 3, dict(nrow=3, padding=1, pad_value=0.25)),
        (2, 3, 2, 4, dict(nrow=5, padding=3, pad_value=0.0)),
        (4, 2, 3, 2, dict(nrow=2, padding=0, pad_value=0.5)),
        (10, 3, 5, 5, dict()),  # the defaults: nrow=8, padding=2, pad_value=0
    ]
    for B, C, H, W, kwargs in cases:
        images = 1.2 * (2 * torch.rand(B, C, H, W, generator=g, dtype=F64) - 1)  # a little outside [-1, 1]
        got = student.evaluation.make_grid(images, **kwargs)
        assert_close(got, solution.evaluation.make_grid(images, **kwargs), name=f"grid of {B} images with {kwargs}")
    images = torch.rand(5, 3, 4, 4, generator=g) * 2 - 1  # float32 stays float32
    assert_close(student.evaluation.make_grid(images, nrow=2), solution.evaluation.make_grid(images, nrow=2),
                 name="grid of float32 images")
