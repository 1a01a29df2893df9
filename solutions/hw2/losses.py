"""HW2 part 2: the losses of variational autoencoders: ELBOs with Gaussian and Bernoulli decoders, and IWAE.

A VAE with encoder q(z|x) and decoder p(x|z) is trained by maximising the evidence lower bound

    log p(x) >= ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)),      p(z) = N(0, I),

so the loss minimised is -ELBO = reconstruction + divergence. Every ELBO function here returns
that pair, `(reconstruction, divergence)`, as two scalar tensors:

    reconstruction = mean over the batch of  -log p(x|z), summed over every pixel,
    divergence     = mean over the batch of  KL (closed form) or its one-sample estimate,
                     summed over every latent dimension,

so reconstruction + divergence is -ELBO in nats per example (about 100 on binarized MNIST).
Sums over pixels and latents, means over the batch: averaging over pixels instead would weigh
the KL 784 times too much.

The encoder of models.py returns `(z, logqzx, mu, logvar)` with z = mu + exp(logvar / 2) * epsilon
and the course's convention

    logqzx = 0.5 * sum_j (logvar_j + (z_j - mu_j)^2 / exp(logvar_j)) = -log q(z|x) - (d / 2) log(2 pi),

that is MINUS log q(z|x) without its constant (d = number of latents). The prior's constant,
-(d / 2) log(2 pi) in log p(z), is the same, so the two cancel in log p(z) - log q(z|x):

    log p(z) - log q(z|x) = -0.5 * sum_j z_j^2 + logqzx.

Every function keeps the dtype and device of its inputs; randomness (epsilon, z) is passed in.
"""

import math

import torch
import torch.nn.functional as F


# -----------------------------------------------------------------------------
# Gaussian decoder: p(x|z) = N(x; x1, sigma^2 I)

def gaussian_elbo(x1: torch.Tensor, x2: torch.Tensor, z: torch.Tensor, sigma: float,
                  mu: torch.Tensor, logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(reconstruction, divergence) of a VAE with a Gaussian decoder and the closed-form KL.

    x1: the decoder's mean for each example, x2: the data, both (B, ...) (e.g. (B, 1, 28, 28));
    sigma: the decoder's standard deviation, a float; mu, logvar: (B, d), the encoder's
    q(z|x) = N(mu, diag(exp(logvar))); z (B, d) is the sample x1 was decoded from (unused here).

        reconstruction = mean_b sum_pixels [ (x2 - x1)^2 / (2 sigma^2) + 0.5 log(2 pi sigma^2) ]
        divergence     = mean_b sum_j 0.5 (mu_j^2 + exp(logvar_j) - 1 - logvar_j)

    The divergence is KL(N(mu, diag(exp(logvar))) || N(0, I)) in closed form. The constant
    0.5 log(2 pi sigma^2) per pixel does not depend on any parameter, so it changes the loss but
    not its gradients: the grader accepts the reconstruction with it or without it (the
    literature's -ELBO values include it).
    """
    B = x1.shape[0]
    squared = (x2 - x1).pow(2).reshape(B, -1)  # (B, D) per-pixel squared errors
    D = squared.shape[1]
    nll = squared.sum(1) / (2 * sigma**2) + 0.5 * D * math.log(2 * math.pi * sigma**2)  # (B,) -log p(x|z)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)  # (B,)
    return nll.mean(), kl.mean()


def mc_gaussian_elbo(x1: torch.Tensor, x2: torch.Tensor, z: torch.Tensor, sigma: float,
                     mu: torch.Tensor, logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`gaussian_elbo` with a one-sample Monte Carlo estimate of the KL at the given z (B, d):

        divergence = mean_b [ log q(z_b | x_b) - log p(z_b) ]
                   = mean_b sum_j [ -0.5 logvar_j - (z_j - mu_j)^2 / (2 exp(logvar_j)) + 0.5 z_j^2 ]

    (both densities' -0.5 log(2 pi) per latent cancel: keep both or neither). Its expectation
    over z ~ q(z|x) is the closed-form KL. The reconstruction is that of `gaussian_elbo`
    (with or without the constant 0.5 log(2 pi sigma^2) per pixel).
    """
    reconstruction, _ = gaussian_elbo(x1, x2, z, sigma, mu, logvar)
    log_q = -0.5 * (logvar + (z - mu).pow(2) / logvar.exp()).sum(1)  # (B,) log q(z|x) + const
    log_p = -0.5 * z.pow(2).sum(1)  # (B,) log p(z) + the same const
    return reconstruction, (log_q - log_p).mean()


# -----------------------------------------------------------------------------
# Bernoulli decoder: p(x|z) = prod_pixels Bernoulli(x; sigmoid(x1))

def cross_entropy(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """-log p(x2 | logits x1) of a Bernoulli decoder, summed over pixels, averaged over the batch.

    binary_cross_entropy_with_logits computes log(1 + e^-x) without forming sigmoid(x), so it
    stays finite for logits of any size, while log(1 - sigmoid(x)) is log(0) = -inf once
    sigmoid(x) rounds to 1 (from x of about 17 in float32, 37 in float64).
    """
    return F.binary_cross_entropy_with_logits(x1, x2, reduction="sum") / x1.shape[0]


def discrete_output_elbo(x1: torch.Tensor, x2: torch.Tensor, z: torch.Tensor,
                         logqzx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(reconstruction, divergence) of a VAE with a Bernoulli decoder and a one-sample Monte Carlo KL.

    x1: the decoder's logits, x2: binary data, both (B, 1, 28, 28) (any (B, ...) works);
    z (B, d) and logqzx (B,) come from the encoder (`z, logqzx, mu, logvar = encoder(x, epsilon)`),
    with the course's convention logqzx = -log q(z|x) - (d / 2) log(2 pi) (see the top of this file).

        reconstruction = cross_entropy(x1, x2)
        divergence     = mean_b [ log q(z_b | x_b) - log p(z_b) ] = mean_b [ 0.5 sum_j z_j^2 - logqzx_b ]

    Mind the sign: logqzx is MINUS log q. Must stay finite for logits of +-100.
    """
    reconstruction = cross_entropy(x1, x2)
    minus_log_p = 0.5 * z.pow(2).sum(1)  # (B,) -log p(z) without its constant
    return reconstruction, (minus_log_p - logqzx).mean()  # log q - log p = -logqzx - (-minus_log_p)


# -----------------------------------------------------------------------------
# Importance weighting: a tighter bound, and the test log-likelihood of a VAE

def importance_weighted_bound(log_px_given_z: torch.Tensor, z: torch.Tensor,
                              logqzx: torch.Tensor) -> torch.Tensor:
    """The k-sample importance-weighted estimate of log p(x) for each example, (B,).

    Inputs hold k samples z_1..z_k ~ q(z|x) of each of B examples: log_px_given_z (k, B) is
    log p(x|z_i) (summed over pixels), z (k, B, d), and logqzx (k, B) the encoder's value for each
    sample, in the course's convention (MINUS log q(z|x) without its constant). The log-weights

        log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x) = log_px_given_z_i - 0.5 sum_j z_ij^2 + logqzx_i

    (the constants -(d / 2) log(2 pi) cancel) give

        IWAE_k = log (1/k) sum_i w_i = logsumexp_i(log w_i) - log k      (per example).

    IWAE_1 is the one-sample ELBO; E[IWAE_k] rises with k towards log p(x) (Burda et al., 2016).
    log w is about -100 on MNIST: exp() of it underflows, so use torch.logsumexp over dim 0.
    """
    k = log_px_given_z.shape[0]
    log_w = log_px_given_z - 0.5 * z.pow(2).sum(-1) + logqzx  # (k, B)
    return torch.logsumexp(log_w, dim=0) - math.log(k)  # (B,)


@torch.no_grad()
def importance_weighted_log_likelihood(encoder, decoder, x: torch.Tensor, epsilon: torch.Tensor) -> torch.Tensor:
    """IWAE_k estimate of log p(x) (B,) of binary images x (B, 1, 28, 28) under a VAE, in nats.

    `encoder(x, eps)` returns (z, logqzx, mu, logvar) as models.VAEEncoder does; `decoder(z)`
    returns the logits of p(x|z), shape of x (for an autoregressive decoder pass
    `lambda z: g(z, x)`). epsilon (k, B, d) holds the standard normal noise of the k samples.
    The test NLL of a model is -mean(...) over the test set, with k = 1000 in the literature.
    """
    log_px_given_z, zs, logqzxs = [], [], []
    for eps in epsilon:  # one sample of z per example at a time: k forward passes of (B, ...)
        z, logqzx, _, _ = encoder(x, eps)
        logits = decoder(z)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        log_px_given_z.append(-bce.reshape(x.shape[0], -1).sum(1))  # (B,)
        zs.append(z)
        logqzxs.append(logqzx)
    return importance_weighted_bound(torch.stack(log_px_given_z), torch.stack(zs), torch.stack(logqzxs))
