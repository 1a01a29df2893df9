"""HW3 part 3: scoring image generators (Inception score, Fréchet distance) and showing their samples.

Both scores are computed from the outputs of a fixed image classifier: `classifier.py` gives a
small CIFAR-10 network whose `probabilities_and_features(model, images)` returns, for a batch
of images in [-1, 1], its class probabilities p(y|x) (N, 10) and its penultimate features
(N, d). That network is not Inception-v3, so the numbers are on their own scale (the Inception
score here is at most 10, the number of classes) and are not comparable with published ones.

- Inception score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))), with p(y) the mean of
  p(y|x) over the samples. High when every sample is classified confidently (p(y|x) peaked)
  and the samples cover every class (p(y) flat).
- Fréchet distance (Heusel et al. 2017, "FID"): fit a Gaussian N(mu, Sigma) to the features of
  real images and one to the features of generated images; their Fréchet (2-Wasserstein)
  distance is  ||mu1 - mu2||^2 + Tr(Sigma1 + Sigma2 - 2 (Sigma1 Sigma2)^(1/2)).

Conventions, which the tests hold you to:
- inputs may be float32 or float64, on any device; compute in float64 (the trace term is a
  difference of large, nearly equal numbers) and return scores as Python floats;
- natural logarithms everywhere;
- covariances are unbiased: divide by N - 1, as numpy.cov, torch.cov and the reference FID code do;
- no scipy: the matrix square root comes from `torch.linalg.eigh` (`sqrtm_psd`, yours to write).
"""

import math

import torch

F64 = torch.float64


# -----------------------------------------------------------------------------
# Inception score: from the classifier's class probabilities of generated images.

def inception_score(probs: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))) for class probabilities `probs` (N, K), as a Python float.

    Row n of `probs` is p(y|x_n) (non-negative, summing to 1); the marginal p(y) is the mean of
    the rows (the classifier's label distribution over these samples, not the uniform one), and

        KL(p(y|x) || p(y)) = sum_y p(y|x) (log p(y|x) - log p(y)).

    Confident classifiers give exact zeros, and 0 log 0 = 0 by convention: `torch.xlogy(a, b)`
    computes a log b with that convention (a naive `p * log(p)` gives 0 * -inf = NaN).
    N samples that are one-hot and spread evenly over K classes score exactly K; N identical
    rows score exactly 1.
    """
    # BEGIN SOLUTION
    p = probs.to(F64)  # (N, K) p(y|x)
    marginal = p.mean(dim=0, keepdim=True)  # (1, K) p(y)
    kl = (torch.xlogy(p, p) - torch.xlogy(p, marginal)).sum(dim=1)  # (N,) KL(p(y|x) || p(y))
    return math.exp(kl.mean().item())
    # END SOLUTION


def inception_score_splits(probs: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """(mean, standard deviation) of the Inception score over `splits` consecutive blocks of rows.

    As in the original code: rows 0 .. N/splits - 1 form the first block, the next N/splits
    rows the second, and so on; each block gets its own `inception_score` (its own marginal);
    the standard deviation is the population one (divide by `splits`, like numpy.std). N must
    be a multiple of `splits`. Returns two Python floats.
    """
    if probs.shape[0] % splits:
        raise ValueError(f"{probs.shape[0]} samples cannot be split into {splits} equal blocks")
    # BEGIN SOLUTION
    size = probs.shape[0] // splits
    scores = torch.tensor([inception_score(block) for block in probs.split(size)], dtype=F64)  # (splits,)
    return scores.mean().item(), scores.std(correction=0).item()
    # END SOLUTION


# -----------------------------------------------------------------------------
# Fréchet distance: between Gaussians fitted to the classifier's features of two image sets.

def sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    """The square root R of a symmetric positive semi-definite matrix A (d, d), float64 (d, d).

    R is the unique symmetric PSD matrix with R @ R = A. With the eigendecomposition
    A = V diag(w) V^T (`torch.linalg.eigh`: real w, orthonormal V),  R = V diag(sqrt(w)) V^T.
    A singular A (a covariance of fewer samples than dimensions) has eigenvalues 0, which
    round-off turns into tiny negative numbers (-1e-16) whose square root is NaN: clamp the
    eigenvalues at 0 first.
    """
    # BEGIN SOLUTION
    w, V = torch.linalg.eigh(matrix.to(F64))  # w (d,) ascending, V (d, d) eigenvectors in columns
    return (V * w.clamp(min=0).sqrt()) @ V.mT  # V diag(sqrt w) V^T: scaling column j by sqrt(w_j)
    # END SOLUTION


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """||mu1 - mu2||^2 + Tr(Sigma1 + Sigma2 - 2 (Sigma1 Sigma2)^(1/2)), as a Python float.

    Means have shape (d,), covariances (d, d) (symmetric PSD, possibly singular).
    Sigma1 Sigma2 is not symmetric, so `sqrtm_psd` cannot take its square root directly, but
    only the trace of that root is needed, and it is the sum of the square roots of the
    eigenvalues of Sigma1 Sigma2. With R = Sigma1^(1/2) those are also the eigenvalues of the
    symmetric PSD matrix R Sigma2 R (AB and BA have the same eigenvalues: take A = R,
    B = R Sigma2), which `torch.linalg.eigvalsh` computes stably; clamp them at 0 as in
    `sqrtm_psd`. Note that Tr((Sigma1 Sigma2)^(1/2)) is not the trace of the elementwise
    square root of Sigma1 * Sigma2 (the two agree only for diagonal matrices).
    """
    # BEGIN SOLUTION
    mu1, sigma1, mu2, sigma2 = mu1.to(F64), sigma1.to(F64), mu2.to(F64), sigma2.to(F64)
    root1 = sqrtm_psd(sigma1)  # (d, d) Sigma1^(1/2)
    product = root1 @ sigma2 @ root1  # (d, d) symmetric PSD, the eigenvalues of Sigma1 Sigma2
    product = (product + product.mT) / 2  # symmetric to the last bit despite round-off
    trace_sqrt = torch.linalg.eigvalsh(product).clamp(min=0).sqrt().sum()  # Tr (Sigma1 Sigma2)^(1/2)
    diff = mu1 - mu2  # (d,)
    return (diff @ diff + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt).item()
    # END SOLUTION


def feature_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, Sigma) of features (N, d): the mean (d,) and the unbiased covariance (d, d), float64.

    Sigma = sum_n (x_n - mu)(x_n - mu)^T / (N - 1), the convention of numpy.cov and of the
    reference FID code (`torch.cov(features.T)` computes the same).
    """
    # BEGIN SOLUTION
    x = features.to(F64)  # (N, d)
    mu = x.mean(dim=0)  # (d,)
    centred = x - mu  # (N, d)
    sigma = centred.mT @ centred / (x.shape[0] - 1)  # (d, d)
    return mu, sigma
    # END SOLUTION


def fid_from_features(features1: torch.Tensor, features2: torch.Tensor) -> float:
    """The Fréchet distance between Gaussians fitted (`feature_statistics`) to two feature sets (N1, d), (N2, d)."""
    # BEGIN SOLUTION
    mu1, sigma1 = feature_statistics(features1)
    mu2, sigma2 = feature_statistics(features2)
    return frechet_distance(mu1, sigma1, mu2, sigma2)
    # END SOLUTION


# -----------------------------------------------------------------------------
# Sample grids: many generated images as one picture.

def make_grid(images: torch.Tensor, nrow: int = 8, padding: int = 2, pad_value: float = 0.0) -> torch.Tensor:
    """Tile images (B, C, H, W) with values in [-1, 1] into one picture (C, H_grid, W_grid) in [0, 1].

    Like torchvision.utils.make_grid (which this course does not use): `nrow` is the number of
    images in each row, so the grid has  cols = min(nrow, B)  columns and
    rows = ceil(B / cols)  rows, and image k goes to row k // cols, column k % cols (filled
    row by row). Every image is framed by `padding` pixels of `pad_value` on all sides, with
    `padding` pixels (not 2 * padding) between neighbours:

        H_grid = rows * (H + padding) + padding,    W_grid = cols * (W + padding) + padding,

    and image k's top-left pixel is at (padding + r * (H + padding), padding + c * (W + padding)).
    Pixels are mapped from [-1, 1] (the generator's tanh range) to [0, 1] by (x + 1) / 2 and
    clamped to [0, 1]; `pad_value` is already on the [0, 1] scale, and so are empty cells of
    the last row. The result has the dtype and device of `images`; plot it with
    `plt.imshow(grid.permute(1, 2, 0).cpu())` (or `grid[0]` with cmap="gray" when C == 1).
    """
    # BEGIN SOLUTION
    B, C, H, W = images.shape
    cols = min(nrow, B)
    rows = math.ceil(B / cols)
    grid = images.new_full((C, rows * (H + padding) + padding, cols * (W + padding) + padding), pad_value)
    pictures = ((images + 1) / 2).clamp(0, 1)  # (B, C, H, W) in [0, 1]
    for k in range(B):
        r, c = divmod(k, cols)
        top, left = padding + r * (H + padding), padding + c * (W + padding)
        grid[:, top : top + H, left : left + W] = pictures[k]
    return grid
    # END SOLUTION
