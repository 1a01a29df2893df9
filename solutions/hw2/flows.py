"""HW2 part 3: normalizing flows on images: RealNVP affine couplings, dequantisation, the logit transform, bits/dim.

A flow is an invertible map f from data x to a latent z with a simple density (here N(0, I)).
The change of variables formula gives the exact log-density of the data,

    log p(x) = log N(f(x); 0, I) + log |det df/dx|,

so a flow is trained by maximum likelihood, and built from layers whose inverse and log-determinant
are cheap. An affine coupling layer (Dinh et al., 2017, RealNVP) keeps half of its input as it is
and scales and shifts the other half by amounts computed from the kept half only:

    y = b * x + (1 - b) * (x * exp(s(b * x)) + t(b * x))       (b: a 0/1 mask, 1 on the kept half)

Its Jacobian is triangular (the kept half does not move; each transformed value depends on itself
only through exp(s)), so log |det| = sum of s over the transformed half, and the inverse is
x = b * y + (1 - b) * (y - t(b * y)) * exp(-s(b * y)): s and t see only b * y = b * x.

Images are discrete (0..n_levels - 1 per pixel), a flow is a density on real numbers: adding
uniform noise (dequantisation) turns the data into a continuous density on [0, 1)^D whose
log-likelihood bounds that of the discrete data from below, and the logit transform maps [0, 1)
onto the real line where the Gaussian base density lives. Results are reported in bits per
dimension: -log2 p(x) / D. Tensors are (B, C, H, W); log-determinants are per example, (B,).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


# -----------------------------------------------------------------------------
# From discrete pixels to real numbers

def dequantize(x: torch.Tensor, u: torch.Tensor, n_levels: int = 256) -> torch.Tensor:
    """Uniform dequantisation: y = (x + u) / n_levels, in the dtype of `u`.

    x holds integers 0..n_levels - 1 (any dtype; n_levels = 256 for 8-bit images, 2 for binary
    ones) and u uniform noise in [0, 1) of the same shape. y lies in [0, 1): each discrete value
    x owns the cube [x, x + 1) / n_levels. If p is a density on [0, 1)^D, then
    P(x) = integral of p over x's cube = E_u[p((x + u) / n)] / n^D, and by Jensen

        log P(x) >= E_u[ log p((x + u) / n) ] - D log n_levels,

    so the term -D log n_levels belongs to the discrete log-likelihood (the log-determinant of
    the map x + u -> (x + u) / n_levels).
    """
    return (x.to(u.dtype) + u) / n_levels


def logit_transform(y: torch.Tensor, alpha: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """(v, log_det): v = logit(alpha + (1 - 2 alpha) y) for y in [0, 1) (B, C, H, W), log_det (B,).

    Squashing y into [alpha, 1 - alpha] first keeps v finite at y = 0 (RealNVP uses alpha = 0.05;
    alpha = 0 is the plain logit, for y strictly inside (0, 1)). With p = alpha + (1 - 2 alpha) y,

        dv/dy = (1 - 2 alpha) / (p (1 - p)),
        log_det = sum over C, H, W of [ log(1 - 2 alpha) - log p - log(1 - p) ].

    Use torch.log(p) - torch.log1p(-p) for the logit. With alpha > 0, [0, 1) maps onto
    [logit(alpha), logit(1 - alpha)) only: the base density's mass outside it is lost, so the
    probabilities of all images sum to a little less than 1 (exactly 1 with alpha = 0).
    """
    p = alpha + (1 - 2 * alpha) * y  # in [alpha, 1 - alpha)
    v = torch.log(p) - torch.log1p(-p)
    log_det = (math.log(1 - 2 * alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)  # (B,)
    return v, log_det


def logit_inverse(v: torch.Tensor, alpha: float = 0.05) -> torch.Tensor:
    """The inverse of `logit_transform`: y = (sigmoid(v) - alpha) / (1 - 2 alpha)."""
    return (torch.sigmoid(v) - alpha) / (1 - 2 * alpha)


# -----------------------------------------------------------------------------
# The affine coupling layer

def coupling_mask(x: torch.Tensor, kind: str, parity: int) -> torch.Tensor:
    """The 0/1 mask b of a coupling layer for inputs like x (B, C, H, W), in x's dtype and device.

    b is 1 on the half that the layer keeps (and computes s and t from), 0 on the half it transforms:
      "checkerboard": b[c, i, j] = 1 where (i + j) % 2 == parity, shape (1, 1, H, W);
      "channel":      b[c] = 1 for the first C // 2 channels if parity == 0, for the others if
                      parity == 1, shape (1, C, 1, 1) (C must be even).
    """
    C, H, W = x.shape[1:]
    if kind == "checkerboard":
        i = torch.arange(H, device=x.device).view(H, 1)
        j = torch.arange(W, device=x.device).view(1, W)
        return ((i + j) % 2 == parity).to(x.dtype).view(1, 1, H, W)
    if kind == "channel":
        if C % 2:
            raise ValueError(f"a channel mask needs an even number of channels, got {C}")
        first = torch.arange(C, device=x.device) < C // 2
        return (first if parity == 0 else ~first).to(x.dtype).view(1, C, 1, 1)
    raise ValueError(f"unknown mask {kind!r} (use 'checkerboard' or 'channel')")


class AffineCoupling(nn.Module):
    """RealNVP's affine coupling layer with a checkerboard or channel mask (see the top of this file).

    With b = coupling_mask(x, mask, parity), the network reads the kept half only:

        raw_s, t = net(b * x).chunk(2, dim=1)     # each (B, C, H, W): the first C channels are raw_s
        s = tanh(raw_s) * (1 - b),  t = t * (1 - b)      # bounded log-scales; nothing moves where b = 1
        y = x * exp(s) + t,         log_det = sum of s over C, H, W      (B,)

    tanh keeps every scale within [1/e, e]: an unbounded exp(raw_s) can overflow early in training.
    The network (given: the grader loads weights into it by these names) is
    net = Sequential(Conv2d(C, hidden, 3, padding=1), ReLU, Conv2d(hidden, hidden, 1), ReLU,
    Conv2d(hidden, 2C, 3, padding=1)). No other parameters.
    """

    def __init__(self, channels: int, mask: str = "checkerboard", parity: int = 0, hidden: int = 32):
        super().__init__()
        if mask not in ("checkerboard", "channel") or parity not in (0, 1):
            raise ValueError(f"mask must be 'checkerboard' or 'channel' and parity 0 or 1, got {mask!r}, {parity!r}")
        self.mask, self.parity = mask, parity
        self.net = nn.Sequential(
            nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
            nn.Conv2d(hidden, 2 * channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, C, H, W) -> (y (B, C, H, W), log_det (B,))."""
        b = coupling_mask(x, self.mask, self.parity)
        raw_s, t = self.net(b * x).chunk(2, dim=1)  # computed from the kept half only
        s = torch.tanh(raw_s) * (1 - b)  # log-scales, 0 on the kept half
        t = t * (1 - b)
        return x * torch.exp(s) + t, s.flatten(1).sum(1)  # kept half: x * 1 + 0 = x

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """y (B, C, H, W) -> x with forward(x)[0] == y."""
        b = coupling_mask(y, self.mask, self.parity)
        raw_s, t = self.net(b * y).chunk(2, dim=1)  # b * y == b * x: the same s and t as forward
        s = torch.tanh(raw_s) * (1 - b)
        t = t * (1 - b)
        return (y - t) * torch.exp(-s)


# -----------------------------------------------------------------------------
# A small RealNVP and its likelihood

def squeeze(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 4C, H/2, W/2): each 2x2 block of pixels becomes 4 channels (a permutation: log_det 0)."""
    return F.pixel_unshuffle(x, 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    """The inverse of `squeeze`: (B, 4C, H/2, W/2) -> (B, C, H, W)."""
    return F.pixel_shuffle(x, 2)


class RealNVP(nn.Module):
    """One scale of RealNVP: checkerboard couplings, a squeeze, channel couplings, an unsqueeze.

        x (B, C, H, W) -> checkerboard[0], checkerboard[1], ... (parities 0, 1, 0, ...)
                       -> squeeze to (B, 4C, H/2, W/2) -> channel[0], channel[1], ... (parities 0, 1, ...)
                       -> unsqueeze: z (B, C, H, W), with log_det the sum of the layers' (B,)

    Alternating parities let every pixel be transformed by some layer. H and W must be even.
    Parameters (given): checkerboard = ModuleList of AffineCoupling(C, "checkerboard", i % 2, hidden),
    channel = ModuleList of AffineCoupling(4C, "channel", i % 2, hidden).
    """

    def __init__(self, channels: int = 1, hidden: int = 32, n_checkerboard: int = 3, n_channel: int = 3):
        super().__init__()
        self.checkerboard = nn.ModuleList(
            [AffineCoupling(channels, "checkerboard", i % 2, hidden) for i in range(n_checkerboard)])
        self.channel = nn.ModuleList(
            [AffineCoupling(4 * channels, "channel", i % 2, hidden) for i in range(n_channel)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, C, H, W) -> (z (B, C, H, W), log_det (B,)) = (f(x), log |det df/dx|)."""
        log_det = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for layer in self.checkerboard:
            x, ld = layer(x)
            log_det = log_det + ld
        x = squeeze(x)
        for layer in self.channel:
            x, ld = layer(x)
            log_det = log_det + ld
        return unsqueeze(x), log_det

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, C, H, W) -> x = f^{-1}(z): the layers' inverses in reverse order."""
        z = squeeze(z)
        for layer in reversed(self.channel):
            z = layer.inverse(z)
        z = unsqueeze(z)
        for layer in reversed(self.checkerboard):
            z = layer.inverse(z)
        return z

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) (B,) = log N(f(x); 0, I) + log |det df/dx|, with N's constant -0.5 log(2 pi) per dimension."""
        z, log_det = self(x)
        log_base = (-0.5 * z.pow(2) - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)  # (B,)
        return log_base + log_det

    @torch.no_grad()
    def sample(self, noise: torch.Tensor, alpha: float = 0.05) -> torch.Tensor:
        """Images in [0, 1) from standard normal `noise` (B, C, H, W): the inverse of the whole pipeline."""
        return logit_inverse(self.inverse(noise), alpha).clamp(0.0, 1.0)


def bits_per_dim(flow: nn.Module, x: torch.Tensor, u: torch.Tensor, n_levels: int = 256,
                 alpha: float = 0.05) -> torch.Tensor:
    """The negative log-likelihood of discrete images x (B, C, H, W) in bits per dimension, (B,).

    With y = dequantize(x, u, n_levels) and (v, ld_logit) = logit_transform(y, alpha):

        log p(x) = flow.log_prob(v) + ld_logit - D log(n_levels)      (nats; D = C * H * W)
        bits_per_dim = -log p(x) / (D log 2)

    so that it measures the discrete data: each term is the log-determinant of one step from x to
    the flow's input. Averaged over u ~ Uniform[0, 1)^D it bounds -log2 P(x) / D from above.
    """
    D = x[0].numel()
    v, ld_logit = logit_transform(dequantize(x, u, n_levels), alpha)
    log_px = flow.log_prob(v) + ld_logit - D * math.log(n_levels)  # (B,) nats
    return -log_px / (D * math.log(2))
