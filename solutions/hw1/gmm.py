"""HW1 part 2: Gaussian mixture models with full covariances, fitted by expectation-maximisation (EM).

A mixture of K Gaussians in D dimensions has the density

    p(x) = sum_k pi_k N(x; mu_k, Sigma_k)

with weights pi (K,) (non-negative, summing to 1), means mu (K, D) and covariances
Sigma (K, D, D) (symmetric positive definite). EM fits them to data x (N, D) by repeating
two steps, each of which never lowers the log-likelihood sum_n log p(x_n):

    E-step: the responsibilities r[n, k] = p(component k | x_n), from the current parameters;
    M-step: the parameters that maximise the expected log-likelihood under those r.

Every function works on whole batches with tensor operations (no Python loops over data
points), keeps the dtype and device of its inputs (float64 and float32 must both work),
and computes densities in log space: a density far from every mean underflows to 0 in
float64 (exp(-800) == 0), while its logarithm is an ordinary number.
"""

import math

import torch


# -----------------------------------------------------------------------------
# Provided: draw data from a known mixture, for your own experiments.

def sample_gmm(
    n: int, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """n samples of the mixture (weights (K,), means (K, D), covs (K, D, D)) by ancestral sampling.

    Returns (x, k): x (n, D) in the dtype of `means`, k (n,) int64 the component of each
    sample. All randomness comes from `generator`, so a seed gives the same data every time.
    """
    k = torch.multinomial(weights, n, replacement=True, generator=generator)  # (n,)
    z = torch.randn(n, means.shape[1], generator=generator, dtype=means.dtype, device=means.device)  # (n, D)
    scale = torch.linalg.cholesky(covs)  # (K, D, D): Sigma_k = L_k L_k^T
    x = means[k] + (scale[k] @ z.unsqueeze(-1)).squeeze(-1)  # (n, D): mu + L z ~ N(mu, L L^T)
    return x, k


# -----------------------------------------------------------------------------
# Densities.

def log_gaussian(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """log N(x_n; mean, cov) for every row x_n of x (N, D).

        log N(x; mu, Sigma) = -1/2 [ D log(2 pi) + log det Sigma + (x - mu)^T Sigma^{-1} (x - mu) ]

    With mean (D,) and cov (D, D) the result has shape (N,). With a batch of components,
    mean (K, D) and cov (K, D, D), it has shape (K, N): row k holds log N(x_n; mean[k], cov[k]).
    (torch.linalg functions treat leading dimensions as a batch, so one code path does both.)

    Use the Cholesky factor L of Sigma = L L^T (`torch.linalg.cholesky`) instead of an
    explicit inverse and determinant:
      - log det Sigma = 2 sum_i log L_ii (det Sigma itself can under- or overflow);
      - (x - mu)^T Sigma^{-1} (x - mu) = ||z||^2 with z = L^{-1} (x - mu), found by
        `torch.linalg.solve_triangular`, which is cheaper and more accurate than inverting.
    """
    D = x.shape[-1]
    chol = torch.linalg.cholesky(cov)  # (..., D, D), lower triangular
    diff = x - mean.unsqueeze(-2)  # (..., N, D): every point minus every mean
    z = torch.linalg.solve_triangular(chol, diff.mT, upper=False)  # (..., D, N): L z = x - mu
    mahalanobis = z.pow(2).sum(dim=-2)  # (..., N)
    log_det = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(dim=-1)  # (...,)
    return -0.5 * (D * math.log(2.0 * math.pi) + log_det.unsqueeze(-1) + mahalanobis)


def gmm_log_density(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> torch.Tensor:
    """log p(x_n) of the mixture for every row of x (N, D); shape (N,).

        log p(x) = log sum_k exp( log pi_k + log N(x; mu_k, Sigma_k) )

    Use `torch.logsumexp`, which subtracts the largest term before exponentiating: far from
    every mean (say 1e3 standard deviations) each exp(...) is 0 in floating point and the
    plain log of their sum is -inf, while log p(x) is an ordinary (very negative) number.
    """
    log_joint = torch.log(weights) + log_gaussian(x, means, covs).mT  # (N, K): log pi_k N(x_n; ...)
    return torch.logsumexp(log_joint, dim=1)  # (N,)


# -----------------------------------------------------------------------------
# EM.

def e_step(
    x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The E-step: (responsibilities (N, K), mean log-likelihood (0-d tensor)).

        r[n, k] = pi_k N(x_n; mu_k, Sigma_k) / p(x_n)         (Bayes' rule; each row sums to 1)
        mean log-likelihood = (1/N) sum_n log p(x_n)           (the mean, not the sum)

    Work in log space: log r[n, k] = log pi_k + log N(x_n; mu_k, Sigma_k) - log p(x_n),
    and exponentiate at the end. That is exact where the naive ratio of two densities is
    0 / 0 = nan (far from every mean).
    """
    log_joint = torch.log(weights) + log_gaussian(x, means, covs).mT  # (N, K)
    log_px = torch.logsumexp(log_joint, dim=1, keepdim=True)  # (N, 1): log p(x_n)
    responsibilities = torch.exp(log_joint - log_px)  # (N, K), normalised over components
    return responsibilities, log_px.mean()


def m_step(
    x: torch.Tensor, responsibilities: torch.Tensor, ridge: float = 1e-6
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The M-step: the (weights (K,), means (K, D), covs (K, D, D)) that maximise the expected
    log-likelihood under the responsibilities r (N, K):

        N_k      = sum_n r[n, k]                                 (soft count of component k)
        pi_k     = N_k / N
        mu_k     = (1 / N_k) sum_n r[n, k] x_n
        Sigma_k  = (1 / N_k) sum_n r[n, k] (x_n - mu_k)(x_n - mu_k)^T  +  ridge * I

    Sigma_k is centred on the new mean mu_k and divided by N_k (not N_k - 1: this is the
    maximum-likelihood estimate). The ridge keeps Sigma_k positive definite when a component
    collapses onto a single point (or onto points on a line), where the sum alone is singular
    and the next Cholesky factorisation would fail. You may assume every N_k > 0.
    """
    N, D = x.shape
    counts = responsibilities.sum(dim=0)  # (K,): N_k
    weights = counts / N  # (K,)
    means = responsibilities.mT @ x / counts.unsqueeze(1)  # (K, D)
    diff = x - means.unsqueeze(1)  # (K, N, D): x_n - mu_k
    weighted = responsibilities.mT.unsqueeze(-1) * diff  # (K, N, D): r[n, k] (x_n - mu_k)
    covs = weighted.mT @ diff / counts.view(-1, 1, 1)  # (K, D, D)
    covs = covs + ridge * torch.eye(D, dtype=x.dtype, device=x.device)
    return weights, means, covs


def fit_gmm(
    x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor,
    n_iter: int = 100, tol: float = 1e-6, ridge: float = 1e-6,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """EM from the given initial parameters; returns (weights, means, covs, log_likelihoods).

    log_likelihoods[t] is the mean log-likelihood (from `e_step`) of the parameters after t
    M-steps: log_likelihoods[0] is that of the initial parameters. The loop is

        E-step on the initial parameters, record its mean log-likelihood
        repeat at most n_iter times:
            M-step (with `ridge`) on the latest responsibilities, then E-step; record
            stop early if this log-likelihood exceeds the one before by less than `tol`

    and the returned parameters are the last ones, whose mean log-likelihood is
    log_likelihoods[-1]. log_likelihoods is a 1-D tensor of 2 to n_iter + 1 entries (1 if
    n_iter == 0) and never decreases (up to round-off). No randomness: the result is a
    function of the inputs alone.
    """
    responsibilities, log_likelihood = e_step(x, weights, means, covs)
    log_likelihoods = [log_likelihood]
    for _ in range(n_iter):
        weights, means, covs = m_step(x, responsibilities, ridge)
        responsibilities, log_likelihood = e_step(x, weights, means, covs)
        log_likelihoods.append(log_likelihood)
        if log_likelihoods[-1] - log_likelihoods[-2] < tol:
            break
    return weights, means, covs, torch.stack(log_likelihoods)
