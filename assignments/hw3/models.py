"""HW3 networks (given, nothing to write here): generators and critics for MNIST, CIFAR-10 and 2-D toy data.

Conventions for every network in this file:
- a generator maps noise z (B, nz) to samples; the image generators end in tanh, so images
  lie in [-1, 1] (scale real images the same way: x / 127.5 - 1 for uint8 pixels);
  the toy generator has no output nonlinearity (2-D points can lie anywhere);
- a critic (the "discriminator" of a GAN) maps a batch of samples to one real number per
  sample, shape (B,): a logit for the GAN losses, a score for the Wasserstein losses.
  No sigmoid at the end: the losses in gan.py take logits. The critics use no batch
  normalisation, because the gradient penalty of WGAN-GP is defined per sample and batch
  norm mixes samples;
- every size is a constructor argument, so tests can build tiny networks;
- nothing calls .cuda(): move a network with .to(device). Save and load state_dicts
  (torch.save(model.state_dict(), path); torch.load(path) is weights_only by default).

MNIST (1 x 28 x 28) and CIFAR-10 (3 x 32 x 32) get separate classes, so the CIFAR-10 part
does not change the MNIST one. Both follow the residual architecture of Gulrajani et al.
(2017), "Improved Training of Wasserstein GANs", with bilinear upsampling in the generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


# -----------------------------------------------------------------------------
# Residual blocks

def upsample(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, 2H, 2W) by bilinear interpolation (smoother than nearest, no checkerboard)."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class ResBlockUp(nn.Module):
    """BN-ReLU-upsample(x2, bilinear)-conv3x3-BN-ReLU-conv3x3, plus an upsampled 1x1-conv shortcut.

    (B, in_ch, H, W) -> (B, out_ch, 2H, 2W).
    """

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(upsample(F.relu(self.bn1(x))))  # (B, out_ch, 2H, 2W)
        h = self.conv2(F.relu(self.bn2(h)))
        return h + self.shortcut(upsample(x))


class ResBlockDown(nn.Module):
    """ReLU-conv3x3-ReLU-conv3x3-avgpool(2), plus an avgpooled 1x1-conv shortcut. No normalisation.

    (B, in_ch, H, W) -> (B, out_ch, H/2, W/2).
    """

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        return F.avg_pool2d(h, 2) + self.shortcut(F.avg_pool2d(x, 2))


class ResBlock(nn.Module):
    """ReLU-conv3x3-ReLU-conv3x3 plus the identity: (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


# -----------------------------------------------------------------------------
# MNIST: 1 x 28 x 28

class MNISTGenerator(nn.Module):
    """z (B, nz) -> images (B, 1, 28, 28) in [-1, 1]: 7x7 -> 14x14 -> 28x28 with two ResBlockUp."""

    def __init__(self, nz: int = 128, channels: int = 64):
        super().__init__()
        self.nz, self.channels = nz, channels
        self.fc = nn.Linear(nz, channels * 7 * 7)
        self.blocks = nn.Sequential(ResBlockUp(channels, channels), ResBlockUp(channels, channels))
        self.bn = nn.BatchNorm2d(channels)
        self.out = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, self.channels, 7, 7)  # (B, C, 7, 7)
        h = self.blocks(h)  # (B, C, 28, 28)
        return torch.tanh(self.out(F.relu(self.bn(h))))  # (B, 1, 28, 28)


class MNISTCritic(nn.Module):
    """images (B, 1, 28, 28) -> scores (B,): 28x28 -> 14x14 -> 7x7, ReLU, mean over space, linear."""

    def __init__(self, channels: int = 64):
        super().__init__()
        self.inp = nn.Conv2d(1, channels, 3, padding=1)
        self.blocks = nn.Sequential(ResBlockDown(channels, channels), ResBlockDown(channels, channels))
        self.fc = nn.Linear(channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.inp(x))  # (B, C, 7, 7)
        h = F.relu(h).mean(dim=(2, 3))  # (B, C)
        return self.fc(h).squeeze(-1)  # (B,)


# -----------------------------------------------------------------------------
# CIFAR-10: 3 x 32 x 32 (separate classes: the MNIST ones stay as they are)

class CIFARGenerator(nn.Module):
    """z (B, nz) -> images (B, 3, 32, 32) in [-1, 1]: 4x4 -> 8 -> 16 -> 32 with three ResBlockUp."""

    def __init__(self, nz: int = 128, channels: int = 128):
        super().__init__()
        self.nz, self.channels = nz, channels
        self.fc = nn.Linear(nz, channels * 4 * 4)
        self.blocks = nn.Sequential(*[ResBlockUp(channels, channels) for _ in range(3)])
        self.bn = nn.BatchNorm2d(channels)
        self.out = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, self.channels, 4, 4)  # (B, C, 4, 4)
        h = self.blocks(h)  # (B, C, 32, 32)
        return torch.tanh(self.out(F.relu(self.bn(h))))  # (B, 3, 32, 32)


class CIFARCritic(nn.Module):
    """images (B, 3, 32, 32) -> scores (B,): 32 -> 16 -> 8, two plain residual blocks, mean, linear."""

    def __init__(self, channels: int = 128):
        super().__init__()
        self.inp = nn.Conv2d(3, channels, 3, padding=1)
        self.blocks = nn.Sequential(ResBlockDown(channels, channels), ResBlockDown(channels, channels),
                                    ResBlock(channels), ResBlock(channels))
        self.fc = nn.Linear(channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.inp(x))  # (B, C, 8, 8)
        h = F.relu(h).mean(dim=(2, 3))  # (B, C)
        return self.fc(h).squeeze(-1)  # (B,)


# -----------------------------------------------------------------------------
# 2-D toy data: small MLPs

def _mlp(in_dim: int, hidden: int, out_dim: int, depth: int) -> nn.Sequential:
    """Linear-ReLU `depth` times, then Linear to out_dim; depth 0 is one Linear layer.

    Parameter names: net.0.weight, net.0.bias, net.2.weight, ... (the Linear layers are the
    even indices of the Sequential).
    """
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z (B, nz) -> points (B, out_dim), no output nonlinearity. depth 0: a single Linear(nz, out_dim)."""

    def __init__(self, nz: int = 2, hidden: int = 128, out_dim: int = 2, depth: int = 3):
        super().__init__()
        self.nz = nz
        self.net = _mlp(nz, hidden, out_dim, depth)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (B, out_dim)


class MLPCritic(nn.Module):
    """samples (B, *shape) with prod(shape) = in_dim -> scores (B,); the input is flattened first.

    depth 0 is a linear critic f(x) = w . x + b (net.0.weight is w, of shape (1, in_dim)).
    """

    def __init__(self, in_dim: int = 2, hidden: int = 128, depth: int = 3):
        super().__init__()
        self.net = _mlp(in_dim, hidden, 1, depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(-1)  # (B,)
