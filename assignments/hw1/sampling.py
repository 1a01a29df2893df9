"""HW1 part 1: sampling transformations that turn uniform random numbers into samples of other distributions.

Every sampler here takes its randomness as arguments (uniforms `u`, standard normals `z`),
so its output is an exact function of its inputs: the same `u` always gives the same sample.
Only `sample_normal` draws random numbers itself, from the generator it is given.

All functions take and return torch tensors, keep the dtype and device of their inputs,
and work on whole batches at once (no Python loops over samples).
"""

import math

import torch


# -----------------------------------------------------------------------------
# Inverse transform sampling: if U ~ Uniform[0, 1) then F^{-1}(U) has CDF F.

def inverse_cdf_exponential(u: torch.Tensor, rate: float) -> torch.Tensor:
    """Exponential(rate) samples from uniforms `u` in [0, 1) by inverting the CDF.

    F(x) = 1 - exp(-rate * x), so x = F^{-1}(u) = -log(1 - u) / rate.
    Compute log(1 - u) with `torch.log1p(-u)`: for small u, `1 - u` rounds away most of
    u's digits before the log sees them, while log1p keeps them.
    """
    # BEGIN SOLUTION
    return -torch.log1p(-u) / rate
    # END SOLUTION


def inverse_cdf_discrete(u: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """Indices k ~ Categorical(probs) from uniforms `u` in [0, 1) by inverting the CDF.

    With cdf[k] = probs[0] + ... + probs[k], sample k is the one with
        cdf[k-1] <= u < cdf[k]        (cdf[-1] taken as 0),
    so a component with probs[k] == 0 is never chosen. `probs` has shape (K,); the result
    has the shape of `u` and dtype int64. Floating-point round-off can leave cdf[K-1] a
    hair below 1: a u above it must still give the last index K - 1, never K.
    """
    # BEGIN SOLUTION
    cdf = torch.cumsum(probs, dim=0)  # (K,), non-decreasing
    # searchsorted(right=True) counts the entries of cdf that are <= u, which is exactly k
    k = torch.searchsorted(cdf, u, right=True)  # same shape as u
    return k.clamp(max=probs.shape[0] - 1)  # round-off guard for u >= cdf[K-1]
    # END SOLUTION


# -----------------------------------------------------------------------------
# Change of variables: two uniforms -> two independent standard normals.

def box_muller(u1: torch.Tensor, u2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Box-Muller transform of uniforms u1 in (0, 1] and u2 in [0, 1) (same shape).

        r = sqrt(-2 log u1),   theta = 2 pi u2,
        z1 = r cos(theta),     z2 = r sin(theta)

    are independent N(0, 1): r^2 = -2 log u1 is Exponential(1/2), the squared radius of a
    standard 2-D Gaussian, and theta is its angle, uniform on [0, 2 pi). Returns (z1, z2).
    """
    # BEGIN SOLUTION
    r = torch.sqrt(-2.0 * torch.log(u1))  # radius, same shape as u1
    theta = 2.0 * math.pi * u2  # angle
    return r * torch.cos(theta), r * torch.sin(theta)
    # END SOLUTION


def sample_normal(n: int, generator: torch.Generator) -> torch.Tensor:
    """n independent N(0, 1) samples, shape (n,), float64, made with `box_muller`.

    Draw the uniforms yourself with
    `torch.rand(..., generator=generator, dtype=torch.float64)`, in any order you like.
    torch.rand returns values in [0, 1), and log(0) = -inf, so turn it into u1 in (0, 1]
    first. Each Box-Muller call gives two normals: draw enough pairs for odd n too.
    """
    # BEGIN SOLUTION
    m = (n + 1) // 2  # number of pairs
    u1 = 1.0 - torch.rand(m, generator=generator, dtype=torch.float64)  # (m,) in (0, 1]
    u2 = torch.rand(m, generator=generator, dtype=torch.float64)  # (m,) in [0, 1)
    z1, z2 = box_muller(u1, u2)
    return torch.cat([z1, z2])[:n]  # (n,)
    # END SOLUTION


# -----------------------------------------------------------------------------
# Rejection sampling: propose x ~ Uniform[0, 1], keep it with probability p(x) / M.

def beta_log_density(x: torch.Tensor, a: float, b: float) -> torch.Tensor:
    """log p(x) of Beta(a, b) at x in [0, 1]:

        p(x) = x^(a-1) (1-x)^(b-1) / B(a, b),   B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b).

    Compute log B(a, b) with `math.lgamma`: Gamma itself overflows for large arguments.
    """
    # BEGIN SOLUTION
    log_normaliser = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)  # log B(a, b)
    return (a - 1) * torch.log(x) + (b - 1) * torch.log1p(-x) - log_normaliser
    # END SOLUTION


def beta_envelope(a: float, b: float) -> float:
    """M = max_x p(x) for Beta(a, b) with a, b > 1, as a Python float.

    The density peaks at its mode, (a - 1) / (a + b - 2). M * Uniform[0, 1] is then an
    envelope of p, and rejection sampling with it accepts a fraction 1 / M of proposals.
    """
    # BEGIN SOLUTION
    mode = (a - 1) / (a + b - 2)
    return math.exp(beta_log_density(torch.tensor(mode, dtype=torch.float64), a, b).item())
    # END SOLUTION


def rejection_sample_beta(x: torch.Tensor, u: torch.Tensor, a: float, b: float) -> torch.Tensor:
    """The accepted proposals of a Beta(a, b) rejection sampler, for a, b > 1.

    `x` holds proposals from Uniform[0, 1] (density 1) and `u` one uniform per proposal
    (same shape). Proposal x[i] is accepted when u[i] * M <= p(x[i]), with M from
    `beta_envelope`. Returns the accepted x, 1-D, in their original order.
    """
    # BEGIN SOLUTION
    M = beta_envelope(a, b)
    accept = u * M <= torch.exp(beta_log_density(x, a, b))  # boolean, shape of x
    return x[accept]  # (number accepted,)
    # END SOLUTION


# -----------------------------------------------------------------------------
# Ancestral sampling: first the component, then the sample given the component.

def sample_gaussian_mixture(
    weights: torch.Tensor, means: torch.Tensor, stds: torch.Tensor, u: torch.Tensor, z: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples of the 1-D mixture sum_k weights[k] N(means[k], stds[k]^2).

    `weights`, `means`, `stds` have shape (K,); `u` (uniforms) and `z` (standard normals)
    have shape (N,). Sample n picks its component with `inverse_cdf_discrete(u[n], weights)`
    and is then x[n] = means[k] + stds[k] * z[n]. Returns (x, k): x of the dtype of `z`,
    k int64.
    """
    # BEGIN SOLUTION
    k = inverse_cdf_discrete(u, weights)  # (N,) component of each sample
    x = means[k] + stds[k] * z  # (N,) reparameterised: N(mu, sigma^2) = mu + sigma * N(0, 1)
    return x, k
    # END SOLUTION
