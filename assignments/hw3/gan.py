"""HW3 part 1: training steps of a GAN, a Wasserstein GAN with weight clipping, and WGAN-GP.

A generator G maps noise z ~ N(0, I) to samples; a critic D maps a sample to one number (its
"discriminator" in a GAN, where the number is a logit). They are trained in turns:

    GAN (Goodfellow et al. 2014):  D minimises  -E log sigmoid(D(x)) - E log(1 - sigmoid(D(G(z))))
                                   G minimises  -E log sigmoid(D(G(z)))   (the non-saturating loss)
    WGAN (Arjovsky et al. 2017):   D minimises  E D(G(z)) - E D(x), its weights clipped to [-c, c]
                                   G minimises  -E D(G(z))
    WGAN-GP (Gulrajani et al. 2017): the WGAN losses, with lambda E (||grad D(x_hat)||_2 - 1)^2
                                   added to D's loss instead of clipping.

Conventions (the tests rely on them):
- every random number is an argument: the real batch, the noise z (B, nz), the interpolation
  weights alpha. A step is then an exact function of its inputs and the networks' weights;
- the optimisers are arguments too (each over one network's parameters); a step calls its
  optimiser's zero_grad() before its own backward, so gradients left behind by earlier steps
  or by the other network's loss never enter an update. Which .grad a step leaves behind is
  not specified, except that a critic step must leave none in the generator (G's output is
  detached there: G is not part of the critic's loss);
- the loss functions take the critic's raw outputs (logits, any shape) and return a scalar
  tensor: means over the batch, the real and the fake terms averaged separately;
- steps return their loss as a Python float (loss.item()), computed before the update;
- nothing here calls .cuda(); tensors stay on the device and in the dtype they come in.
The networks are in models.py; `train` (given, at the end) runs any of the three methods.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


# -----------------------------------------------------------------------------
# GAN: losses from logits, one step for each network

def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-E log sigmoid(r) - E log(1 - sigmoid(f)) for the logits r = D(x) and f = D(G(z)).

    Each expectation is the mean over its logits. Stable for any logit: write
    -log sigmoid(t) = softplus(-t) and -log(1 - sigmoid(t)) = softplus(t) (or use
    F.binary_cross_entropy_with_logits). log(1 - torch.sigmoid(100.)) is log(0) = -inf.
    """
    # BEGIN SOLUTION
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    # END SOLUTION


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss -E log sigmoid(f), f = D(G(z)) the logits of fakes.

    The saturating loss E log(1 - sigmoid(f)) (the minimax game's own) has almost no gradient
    where D rejects the fakes confidently (f << 0), which is exactly where G starts.
    At f = 100 the loss is 0, at f = -100 it is 100: stable, like discriminator_loss.
    """
    # BEGIN SOLUTION
    return F.softplus(-fake_logits).mean()
    # END SOLUTION


def discriminator_step(generator: nn.Module, discriminator: nn.Module, d_opt: torch.optim.Optimizer,
                       real: torch.Tensor, noise: torch.Tensor) -> float:
    """One update of the discriminator with d_opt on the real batch and the fakes G(noise).

    The fakes are detached (or made under torch.no_grad()): the generator is a constant here,
    it gets no gradient and does not move. Returns the discriminator loss before the update.
    """
    # BEGIN SOLUTION
    fake = generator(noise).detach()  # G is not trained here
    loss = discriminator_loss(discriminator(real), discriminator(fake))
    d_opt.zero_grad()
    loss.backward()
    d_opt.step()
    return loss.item()
    # END SOLUTION


def generator_step(generator: nn.Module, discriminator: nn.Module, g_opt: torch.optim.Optimizer,
                   noise: torch.Tensor) -> float:
    """One update of the generator with g_opt on the non-saturating loss of D(G(noise)).

    The gradient flows through the discriminator into the generator; the discriminator's
    weights do not change (there is no d_opt here). Returns the generator loss before the update.
    """
    # BEGIN SOLUTION
    loss = generator_loss(discriminator(generator(noise)))
    g_opt.zero_grad()
    loss.backward()  # also fills D's .grad; discriminator_step zeroes it before its own backward
    g_opt.step()
    return loss.item()
    # END SOLUTION


def gan_step(generator: nn.Module, discriminator: nn.Module, g_opt: torch.optim.Optimizer,
             d_opt: torch.optim.Optimizer, real: torch.Tensor, noise_d: torch.Tensor,
             noise_g: torch.Tensor) -> tuple[float, float]:
    """A discriminator step on (real, G(noise_d)), then a generator step on noise_g.

    Returns (discriminator loss, generator loss), each computed before its update.
    """
    # BEGIN SOLUTION
    d_loss = discriminator_step(generator, discriminator, d_opt, real, noise_d)
    g_loss = generator_step(generator, discriminator, g_opt, noise_g)
    return d_loss, g_loss
    # END SOLUTION


# -----------------------------------------------------------------------------
# WGAN with weight clipping

def critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """E D(G(z)) - E D(x): the critic minimises it, i.e. scores real samples high, fakes low.

    Minus this loss estimates the Wasserstein-1 distance between the data and the generator
    (when D is 1-Lipschitz), so -loss is the curve to watch during training.
    """
    # BEGIN SOLUTION
    return fake_scores.mean() - real_scores.mean()
    # END SOLUTION


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """-E D(G(z)): the generator wants its samples scored like real ones."""
    # BEGIN SOLUTION
    return -fake_scores.mean()
    # END SOLUTION


def clip_weights(critic: nn.Module, clip: float) -> None:
    """Clamp every parameter of the critic (weights and biases) to [-clip, clip], in place.

    This is WGAN's crude way to keep D Lipschitz. Done without recording it for autograd.
    """
    # BEGIN SOLUTION
    with torch.no_grad():
        for p in critic.parameters():
            p.clamp_(-clip, clip)
    # END SOLUTION


def critic_step(generator: nn.Module, critic: nn.Module, c_opt: torch.optim.Optimizer, real: torch.Tensor,
                noise: torch.Tensor, clip: float = 0.01) -> float:
    """One WGAN critic update with c_opt, then clip_weights(critic, clip).

    The clipping comes after the optimiser step: the weights the critic keeps lie in
    [-clip, clip]. Fakes are detached as in discriminator_step. Returns the loss before the update.
    """
    # BEGIN SOLUTION
    fake = generator(noise).detach()
    loss = critic_loss(critic(real), critic(fake))
    c_opt.zero_grad()
    loss.backward()
    c_opt.step()
    clip_weights(critic, clip)  # after the step, so that the weights kept are clipped
    return loss.item()
    # END SOLUTION


def wgan_generator_step(generator: nn.Module, critic: nn.Module, g_opt: torch.optim.Optimizer,
                        noise: torch.Tensor) -> float:
    """One update of the generator with g_opt on wgan_generator_loss(critic(G(noise))).

    Used by WGAN and WGAN-GP alike. Returns the loss before the update.
    """
    # BEGIN SOLUTION
    loss = wgan_generator_loss(critic(generator(noise)))
    g_opt.zero_grad()
    loss.backward()
    g_opt.step()
    return loss.item()
    # END SOLUTION


def wgan_step(generator: nn.Module, critic: nn.Module, g_opt: torch.optim.Optimizer,
              c_opt: torch.optim.Optimizer, reals: Sequence[torch.Tensor], noises: Sequence[torch.Tensor],
              noise_g: torch.Tensor, clip: float = 0.01) -> tuple[float, float]:
    """n_critic = len(reals) critic steps, step i on (reals[i], noises[i]), then one generator step on noise_g.

    reals and noises have the same length (a ValueError otherwise). Returns (the last critic
    step's loss, the generator loss).
    """
    # BEGIN SOLUTION
    if len(reals) != len(noises):
        raise ValueError(f"{len(reals)} real batches but {len(noises)} noise batches")
    for real, noise in zip(reals, noises):
        c_loss = critic_step(generator, critic, c_opt, real, noise, clip)
    g_loss = wgan_generator_step(generator, critic, g_opt, noise_g)
    return c_loss, g_loss
    # END SOLUTION


# -----------------------------------------------------------------------------
# WGAN-GP: a gradient penalty instead of clipping

def gradient_penalty(f: nn.Module, real_data: torch.Tensor, fake_data: torch.Tensor,
                     alpha: torch.Tensor) -> torch.Tensor:
    """E (||grad_x f(x_hat)||_2 - 1)^2 at x_hat = alpha * real_data + (1 - alpha) * fake_data.

    real_data, fake_data: (B, ...) of one shape; alpha: (B, 1, ..., 1), one weight in [0, 1]
    per sample, broadcast over the rest ((B, 1) for points, (B, 1, 1, 1) for images). The
    norm of each sample's gradient is over all its coordinates (every pixel of every channel);
    the mean is over the batch. The result must be differentiable with respect to f's
    parameters (the critic minimises it): take the gradient with create_graph=True.
    """
    # BEGIN SOLUTION
    x_hat = (alpha * real_data + (1 - alpha) * fake_data).detach().requires_grad_(True)  # (B, ...)
    (grad,) = torch.autograd.grad(f(x_hat).sum(), x_hat, create_graph=True)  # rows are independent
    norms = grad.flatten(1).norm(2, dim=1)  # (B,)
    return ((norms - 1) ** 2).mean()
    # END SOLUTION


def critic_gp_step(generator: nn.Module, critic: nn.Module, c_opt: torch.optim.Optimizer, real: torch.Tensor,
                   noise: torch.Tensor, alpha: torch.Tensor, lam: float = 10.0) -> float:
    """One WGAN-GP critic update with c_opt on critic_loss + lam * gradient_penalty.

    The penalty is at the interpolates of `real` and the (detached) fakes G(noise) with
    weights alpha. No clipping. Returns the whole loss (with the penalty) before the update.
    """
    # BEGIN SOLUTION
    fake = generator(noise).detach()
    loss = critic_loss(critic(real), critic(fake)) + lam * gradient_penalty(critic, real, fake, alpha)
    c_opt.zero_grad()
    loss.backward()
    c_opt.step()
    return loss.item()
    # END SOLUTION


def wgan_gp_step(generator: nn.Module, critic: nn.Module, g_opt: torch.optim.Optimizer,
                 c_opt: torch.optim.Optimizer, reals: Sequence[torch.Tensor], noises: Sequence[torch.Tensor],
                 alphas: Sequence[torch.Tensor], noise_g: torch.Tensor, lam: float = 10.0) -> tuple[float, float]:
    """n_critic = len(reals) critic_gp_steps on (reals[i], noises[i], alphas[i]), then wgan_generator_step.

    The three lists have one length (a ValueError otherwise). Returns (the last critic step's
    loss, the generator loss).
    """
    # BEGIN SOLUTION
    if not len(reals) == len(noises) == len(alphas):
        raise ValueError(f"{len(reals)} real batches, {len(noises)} noise batches, {len(alphas)} alphas")
    for real, noise, alpha in zip(reals, noises, alphas):
        c_loss = critic_gp_step(generator, critic, c_opt, real, noise, alpha, lam)
    g_loss = wgan_generator_step(generator, critic, g_opt, noise_g)
    return c_loss, g_loss
    # END SOLUTION


# -----------------------------------------------------------------------------
# Given: toy data, a mode-coverage measure, and the training loop

def ring_of_gaussians(n: int, generator: torch.Generator, n_modes: int = 8, radius: float = 2.0,
                      std: float = 0.05) -> torch.Tensor:
    """n points (n, 2) from an equal mixture of n_modes Gaussians centred on a circle."""
    k = torch.randint(n_modes, (n,), generator=generator)
    angle = 2 * math.pi * k.double() / n_modes
    centres = radius * torch.stack([angle.cos(), angle.sin()], dim=1)  # (n, 2)
    return (centres + std * torch.randn(n, 2, generator=generator, dtype=torch.float64)).float()


def mode_coverage(samples: torch.Tensor, n_modes: int = 8, radius: float = 2.0, within: float = 0.25,
                  min_share: float = 0.25) -> tuple[int, float]:
    """(modes covered, share of good samples) of 2-D samples against the ring of Gaussians.

    A sample is good if it lies within `within` of its nearest mode's centre; a mode is covered
    if it holds at least min_share / n_modes of all samples as good ones (a quarter of its fair
    share by default).
    """
    angle = 2 * math.pi * torch.arange(n_modes, dtype=torch.float64) / n_modes
    centres = radius * torch.stack([angle.cos(), angle.sin()], dim=1)  # (K, 2)
    distance, nearest = torch.cdist(samples.double().cpu(), centres).min(dim=1)  # (n,) each
    good = distance < within
    counts = torch.bincount(nearest[good], minlength=n_modes)  # (K,)
    covered = int((counts >= min_share * len(samples) / n_modes).sum())
    return covered, good.double().mean().item()


def train(method: str, generator: nn.Module, critic: nn.Module, g_opt: torch.optim.Optimizer,
          c_opt: torch.optim.Optimizer, data: torch.Tensor, *, steps: int, batch_size: int, seed: int = 0,
          n_critic: int = 1, clip: float = 0.01, lam: float = 10.0,
          callback=None) -> dict[str, list[float]]:
    """Train with method "gan", "wgan" or "wgan_gp" for `steps` generator steps on batches of `data`.

    Batches, noise and interpolation weights come from a torch.Generator seeded with `seed`
    (on the CPU, then moved to data's device), so a run is reproducible. n_critic must be 1
    for "gan". callback(step, generator, critic), if given, runs after every step (for
    sample grids and scores). Returns {"critic": [...], "generator": [...]}, one loss per step.
    """
    if method not in ("gan", "wgan", "wgan_gp"):
        raise ValueError(f"unknown method {method!r}: use 'gan', 'wgan' or 'wgan_gp'")
    if method == "gan" and n_critic != 1:
        raise ValueError("a GAN takes one discriminator step per generator step (n_critic = 1)")
    rng = torch.Generator().manual_seed(seed)  # on the CPU: the same numbers on every device
    device, dtype = data.device, data.dtype

    def batch() -> torch.Tensor:  # (B, ...) rows of data, drawn with replacement
        return data[torch.randint(len(data), (batch_size,), generator=rng).to(device)]

    def noise() -> torch.Tensor:  # (B, nz)
        return torch.randn(batch_size, generator.nz, generator=rng, dtype=dtype).to(device)

    def alpha() -> torch.Tensor:  # (B, 1, ..., 1): one interpolation weight per sample
        return torch.rand(batch_size, *[1] * (data.dim() - 1), generator=rng, dtype=dtype).to(device)

    losses: dict[str, list[float]] = {"critic": [], "generator": []}
    for step in range(steps):
        if method == "gan":
            c_loss, g_loss = gan_step(generator, critic, g_opt, c_opt, batch(), noise(), noise())
        elif method == "wgan":
            reals, noises = [batch() for _ in range(n_critic)], [noise() for _ in range(n_critic)]
            c_loss, g_loss = wgan_step(generator, critic, g_opt, c_opt, reals, noises, noise(), clip)
        else:
            reals, noises = [batch() for _ in range(n_critic)], [noise() for _ in range(n_critic)]
            alphas = [alpha() for _ in range(n_critic)]
            c_loss, g_loss = wgan_gp_step(generator, critic, g_opt, c_opt, reals, noises, alphas, noise(), lam)
        losses["critic"].append(c_loss)
        losses["generator"].append(g_loss)
        if callback is not None:
            callback(step, generator, critic)
    return losses
