"""Public tests for HW3 part 3 (evaluation.py): small inputs whose answers were worked out by hand.

The hidden tests check the same functions against the solution key on many random inputs
(full-rank and singular covariances, float32 inputs, other grid shapes), so passing these
is necessary but not sufficient.
"""

import math

import pytest
import torch

from autograder.testing import assert_close

F64 = torch.float64


def f64(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=F64)


def pair(result, name: str) -> tuple:
    """A function's (first, second) result, or a failure that says what came back instead."""
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        f"{name} must return a tuple of two values, got {type(result).__name__}"
    return tuple(result)


# --- Inception score ---------------------------------------------------------------------


@pytest.mark.points(2)
def test_inception_score_extremes(student):
    """Confident predictions spread evenly over 10 classes score 10; identical predictions score 1."""
    balanced = torch.eye(10, dtype=F64).repeat(2, 1)  # (20, 10): each class twice, one-hot
    assert_close(student.evaluation.inception_score(balanced), 10.0, name="IS of balanced one-hot predictions")
    same = f64([[0.5, 0.25, 0.125, 0.125]] * 6)  # (6, 4): p(y|x) = p(y) for every x, so every KL is 0
    assert_close(student.evaluation.inception_score(same), 1.0, name="IS of identical predictions")


@pytest.mark.points(1)
def test_inception_score_two_classes(student):
    """IS of [[1, 0], [1/2, 1/2]] is (4/3)^(3/4), worked out in the comments."""
    probs = f64([[1.0, 0.0], [0.5, 0.5]])
    # p(y) = (3/4, 1/4); KL_1 = log(4/3); KL_2 = 1/2 log(2/3) + 1/2 log 2 = 1/2 log(4/3)
    # mean KL = 3/4 log(4/3), so IS = (4/3)^(3/4)
    assert_close(student.evaluation.inception_score(probs), (4 / 3) ** 0.75, name="IS")


@pytest.mark.points(1)
def test_inception_score_splits(student):
    """Two blocks scoring 2 and 1 give a mean of 1.5 and a (population) standard deviation of 0.5."""
    probs = f64([[1.0, 0.0], [0.0, 1.0],  # first block: balanced one-hot over 2 classes, IS 2
                 [0.3, 0.7], [0.3, 0.7]])  # second block: identical rows, IS 1
    mean, std = pair(student.evaluation.inception_score_splits(probs, 2), "inception_score_splits")
    assert_close(mean, 1.5, name="mean over splits")
    assert_close(std, 0.5, name="standard deviation over splits")


# --- matrix square root and Fréchet distance ---------------------------------------------


@pytest.mark.points(1)
def test_sqrtm_psd(student):
    """sqrtm_psd of [[2, 1], [1, 2]] (eigenvalues 3 and 1) and of the singular [[1, 1], [1, 1]]."""
    r3 = math.sqrt(3)
    got = student.evaluation.sqrtm_psd(f64([[2.0, 1.0], [1.0, 2.0]]))
    expected = f64([[(r3 + 1) / 2, (r3 - 1) / 2], [(r3 - 1) / 2, (r3 + 1) / 2]])  # V diag(sqrt 3, 1) V^T
    assert_close(got, expected, name="sqrt of [[2, 1], [1, 2]]")
    h = 1 / math.sqrt(2)  # [[1, 1], [1, 1]] = 2 v v^T with v = (1, 1) / sqrt 2, so its root is sqrt(2) v v^T
    got = student.evaluation.sqrtm_psd(f64([[1.0, 1.0], [1.0, 1.0]]))
    assert_close(got, f64([[h, h], [h, h]]), name="sqrt of the singular [[1, 1], [1, 1]]")


@pytest.mark.points(2)
def test_frechet_distance_shift(student):
    """Two Gaussians with the same covariance, means 0.5 apart in each of 16 coordinates: FID = 16 / 4 = 4."""
    mu = torch.linspace(-1.0, 1.0, 16, dtype=F64)
    sigma = torch.diag(torch.linspace(0.5, 2.0, 16, dtype=F64))
    got = student.evaluation.frechet_distance(mu, sigma, mu + 0.5, sigma)
    assert_close(got, 4.0, rtol=0.0, atol=1e-10, name="FID")


@pytest.mark.points(1)
def test_frechet_distance_by_hand(student):
    """FID of two hand-worked pairs: diagonal covariances, and a non-diagonal one against the identity."""
    # diagonal: ||(1, 2)||^2 + (1 + 4 - 2 sqrt(1 * 4)) + (4 + 9 - 2 sqrt(4 * 9)) = 5 + 1 + 1
    got = student.evaluation.frechet_distance(f64([0.0, 0.0]), f64([[1.0, 0.0], [0.0, 4.0]]),
                                              f64([1.0, 2.0]), f64([[4.0, 0.0], [0.0, 9.0]]))
    assert_close(got, 7.0, name="FID of the diagonal pair")
    # Sigma1 = [[2, 1], [1, 2]], Sigma2 = I: Tr(Sigma1^(1/2)) = sqrt 3 + 1, so FID = 4 + 2 - 2 (sqrt 3 + 1)
    got = student.evaluation.frechet_distance(f64([1.0, -1.0]), f64([[2.0, 1.0], [1.0, 2.0]]),
                                              f64([1.0, -1.0]), torch.eye(2, dtype=F64))
    assert_close(got, 4.0 - 2.0 * math.sqrt(3), name="FID of [[2, 1], [1, 2]] against the identity")


@pytest.mark.points(1)
def test_feature_statistics(student):
    """The mean and the unbiased (N - 1) covariance of three 2-D feature vectors."""
    features = f64([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]])
    # mean (3, 4); deviations (-2, -2), (0, 2), (2, 0); sum of outer products [[8, 4], [4, 8]]; / (3 - 1)
    mu, sigma = pair(student.evaluation.feature_statistics(features), "feature_statistics")
    assert_close(mu, f64([3.0, 4.0]), name="mu")
    assert_close(sigma, f64([[4.0, 2.0], [2.0, 4.0]]), name="sigma")


@pytest.mark.points(1)
def test_fid_from_features(student):
    """Shifting every feature vector by (1, 0) leaves the covariance alone and adds 1 to the FID."""
    features = f64([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0], [0.0, 1.0]])
    got = student.evaluation.fid_from_features(features, features + f64([1.0, 0.0]))
    assert_close(got, 1.0, name="FID")


# --- sample grid -------------------------------------------------------------------------


@pytest.mark.points(2)
def test_make_grid(student):
    """Three 1 x 1 x 2 images, padding 1 of value 0.5: two per row make a 5 x 7 picture, three per row 3 x 10."""
    images = f64([[[[-1.0, 1.0]]], [[[0.0, 0.5]]], [[[-0.5, 3.0]]]])  # (3, 1, 1, 2); 3.0 is clamped
    grid = student.evaluation.make_grid(images, nrow=2, padding=1, pad_value=0.5)
    p = 0.5
    expected = f64([[[p, p, p, p, p, p, p],
                     [p, 0.0, 1.0, p, 0.5, 0.75, p],  # images 0 and 1, mapped by (x + 1) / 2
                     [p, p, p, p, p, p, p],
                     [p, 0.25, 1.0, p, p, p, p],  # image 2; the empty cell stays pad_value
                     [p, p, p, p, p, p, p]]])  # fmt: skip
    assert_close(grid, expected, name="grid with nrow=2")
    grid = student.evaluation.make_grid(images, nrow=3, padding=1, pad_value=0.5)  # all three in one row
    expected = f64([[[p, p, p, p, p, p, p, p, p, p],
                     [p, 0.0, 1.0, p, 0.5, 0.75, p, 0.25, 1.0, p],
                     [p, p, p, p, p, p, p, p, p, p]]])  # fmt: skip
    assert_close(grid, expected, name="grid with nrow=3")
