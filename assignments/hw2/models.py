"""HW2 models: masked convolutions, residual blocks, a PixelCNN, and a VAE (encoder with IAF flows, two decoders).

Every model reads or writes 28x28 single-channel images, shaped (B, 1, 28, 28), and the
VAE's latent code is one 7x7 map, 49 numbers per image, shaped (B, 49) outside the models.
You write three things (marked *student*): the residual block `ConvnetBlock`, its causal
twin `MaskedConvnetBlock`, and the loop over the inverse autoregressive flows in
`VAEEncoder.forward`. Everything else is given; read it, since the tests call it around
your code.

Raster order. PixelCNN and IAF are autoregressive over pixels in raster order: position
(i, j) comes before (i', j') when i < i', or i == i' and j < j'. Their outputs at (i, j)
may only depend on inputs strictly before (i, j); masked convolutions enforce this.

Conventions: devices come from the inputs (or a `device` argument): nothing here calls
.cuda(). Randomness is passed in (the encoder's `epsilon`) or drawn from the `generator`
you give, so every output is a function of its inputs. Parameter names of the given
classes are part of the interface: the grader loads weights into them by name.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LATENT = 49  # 7 x 7 latent variables per image


def init_parameters(module: nn.Module) -> None:
    """The course's initialisation: parameters named *weight ~ N(0, 0.01^2), *bias = 0.

    Small weights keep every residual block close to the identity at the start, so that a
    deep stack of them trains (the signal passes through the skip connections).
    """
    for name, parameter in module.named_parameters():
        if name.endswith("weight"):
            nn.init.normal_(parameter, 0.0, 0.01)
        elif name.endswith("bias"):
            nn.init.zeros_(parameter)


# -----------------------------------------------------------------------------
# Masked convolutions and residual blocks

class MaskedConv2d(nn.Conv2d):
    """A Conv2d whose kernel sees only the pixels before its centre in raster order.

    MaskedConv2d(mask_type, in_channels, out_channels, kernel_size, ...) takes nn.Conv2d's
    arguments after `mask_type`. For a k x k kernel (k odd) with centre (c, c), c = k // 2:

        type 'A': keeps rows < c, and row c left of the centre      (the centre excluded)
        type 'B': the same plus the centre itself                   (the centre included)

    so the 3x3 masks are [[1, 1, 1], [1, 0, 0], [0, 0, 0]] (A) and
    [[1, 1, 1], [1, 1, 0], [0, 0, 0]] (B), for every pair of channels. Type A goes first (the
    output at (i, j) must not see the input pixel (i, j) it predicts); type B follows, since
    feature (i, j) of a type-A layer already depends only on pixels before (i, j).

    The mask is a buffer (saved in state_dict, moved by .to(), never trained), and the
    weight is multiplied by it in every forward: masked weights keep a gradient of exactly
    0, so nothing can leak through them however the weights change.
    """

    def __init__(self, mask_type: str, *conv_args, **conv_kwargs):
        super().__init__(*conv_args, **conv_kwargs)
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
        self.mask_type = mask_type
        _, _, kh, kw = self.weight.shape
        mask = torch.ones_like(self.weight)  # (out, in, kh, kw)
        mask[:, :, kh // 2, kw // 2 + (mask_type == "B"):] = 0  # the centre row, from the centre (A) or after it (B)
        mask[:, :, kh // 2 + 1:] = 0  # every row below the centre
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


class ConvnetBlock(nn.Module):
    """*student* A residual block of 3x3 convolutions: (B, filters, H, W) -> (B, filters, H, W).

    Write the layers in __init__ (their names are yours) and the computation in forward:

        out = x + F(x)        or        out = relu(x + F(x))

    where F is a small stack of nn.Conv2d(filters, filters, 3, padding=1) layers with ReLUs
    between them (two convolutions is the usual choice; biases allowed). Rules the grader
    checks: kernel size 3 for every convolution and no 1x1 convolutions (no nn.Linear either),
    no normalisation layers (each image of a batch is processed on its own), the output has
    the input's shape, every parameter you create is used, and the block is residual: with
    every parameter set to 0 it returns its input unchanged (the models here feed their
    blocks the output of a ReLU, so inputs are >= 0 and either form above qualifies).
    """

    def __init__(self, filters: int):
        super().__init__()
        # BEGIN SOLUTION
        self.conv1 = nn.Conv2d(filters, filters, 3, padding=1)
        self.conv2 = nn.Conv2d(filters, filters, 3, padding=1)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        # pre-activation (He et al. 2016): the skip path carries x untouched, F reads relu(x)
        h = self.conv1(F.relu(x))  # (B, filters, H, W)
        h = self.conv2(F.relu(h))
        return x + h  # the skip connection: with F's weights at 0 the block is the identity
        # END SOLUTION


class MaskedConvnetBlock(nn.Module):
    """*student* ConvnetBlock with MaskedConv2d('B', filters, filters, 3, padding=1) convolutions.

    The same rules as ConvnetBlock (3x3 kernels, no 1x1, no normalisation, residual, every
    parameter used), and causal: output (i, j) depends on input pixels (i', j') <= (i, j) in
    raster order only, the centre (i, j) included (type B). Type A here would be wrong: the
    block's input at (i, j) already depends only on image pixels before (i, j), and cutting
    the centre would throw away the features nearest to the pixel being predicted.
    """

    def __init__(self, filters: int):
        super().__init__()
        # BEGIN SOLUTION
        self.conv1 = MaskedConv2d("B", filters, filters, 3, padding=1)
        self.conv2 = MaskedConv2d("B", filters, filters, 3, padding=1)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        h = self.conv1(F.relu(x))  # (B, filters, H, W), causal in raster order
        h = self.conv2(F.relu(h))  # still causal: type B after type B
        return x + h  # x at (i, j) is allowed at (i, j): the model's first layer was type A
        # END SOLUTION


# -----------------------------------------------------------------------------
# PixelCNN: p(x) = prod_(i,j) p(x_ij | pixels before (i, j))

class PixelCNN(nn.Module):
    """An autoregressive model of binary 28x28 images (van den Oord et al. 2016).

    Parameters: embed = MaskedConv2d('A', 1, capacity, 9, padding=4, bias=False);
    resnet = `depth` MaskedConvnetBlock(capacity); image = MaskedConv2d('B', capacity, 1, 3,
    padding=1); bias, a learned (28, 28) map added to the logits.
    forward(x) -> logits (B, 1, 28, 28): logit (i, j) is log p(x_ij = 1) - log p(x_ij = 0)
    given the pixels of x before (i, j), for every (i, j) at once (training is one pass).
    """

    def __init__(self, capacity: int = 32, depth: int = 9):
        super().__init__()
        self.capacity = capacity
        self.embed = MaskedConv2d("A", 1, capacity, 9, padding=4, bias=False)
        self.resnet = nn.ModuleList([MaskedConvnetBlock(capacity) for _ in range(depth)])
        self.image = MaskedConv2d("B", capacity, 1, 3, padding=1, bias=True)
        self.bias = nn.Parameter(torch.zeros(28, 28))
        init_parameters(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.embed(x))  # (B, capacity, 28, 28); h at (i, j) sees x before (i, j)
        for block in self.resnet:
            h = block(h)
        return self.image(h) + self.bias  # (B, 1, 28, 28) logits

    @torch.no_grad()
    def sample(self, n: int, device: str | torch.device | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """n images (n, 1, 28, 28) of 0.0/1.0, drawn pixel by pixel in raster order.

        Pixel (i, j) ~ Bernoulli(sigmoid(logit (i, j))) given the pixels drawn before it, with
        `torch.bernoulli(p, generator=generator)` (the same generator state gives the same
        images). `device` defaults to the model's; the dtype is the model's. 784 forward
        passes: call .eval() first if your blocks behave differently in training.
        """
        device = self.bias.device if device is None else device
        x = torch.zeros(n, 1, 28, 28, device=device, dtype=self.bias.dtype)
        for i in range(28):
            for j in range(28):
                p = torch.sigmoid(self(x)[:, :, i, j])  # (n, 1): depends only on pixels already drawn
                x[:, :, i, j] = torch.bernoulli(p, generator=generator)
        return x


# -----------------------------------------------------------------------------
# The VAE: an encoder q(z | x) with optional inverse autoregressive flows, two decoders p(x | z)

class IAF(nn.Module):
    """One inverse autoregressive flow step's network (Kingma et al. 2016): (z, h) -> (m, s).

    z (B, 1, 7, 7) is the current latent sample, h (B, filters, 7, 7) the encoder's context.
    Parameters: embedz = MaskedConv2d('A', 1, filters, 3, padding=1, bias=False); embedh =
    nn.Conv2d(filters, filters, 3, padding=1, bias=False); resnet = `depth`
    MaskedConvnetBlock(filters); m, s = MaskedConv2d('B', filters, 1, 3, padding=1).
    Returns m and s = 1 + (masked conv output), both (B, 1, 7, 7): m and s at position k
    (raster order over the 7x7 grid) depend on z at positions before k only (and on all of
    h). So dm/dz and ds/dz are strictly lower triangular in raster order. The ordering is
    raster order in every flow: nothing reverses it between flows (see VAEEncoder).
    """

    def __init__(self, filters: int, depth: int = 9):
        super().__init__()
        self.embedz = MaskedConv2d("A", 1, filters, 3, padding=1, bias=False)
        self.embedh = nn.Conv2d(filters, filters, 3, padding=1, bias=False)
        self.resnet = nn.ModuleList([MaskedConvnetBlock(filters) for _ in range(depth)])
        self.m = MaskedConv2d("B", filters, 1, 3, padding=1, bias=True)
        self.s = MaskedConv2d("B", filters, 1, 3, padding=1, bias=True)

    def forward(self, z: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = F.relu(self.embedz(z) + self.embedh(h))  # (B, filters, 7, 7); u at k sees z before k
        for block in self.resnet:
            u = block(u)
        return self.m(u), 1 + self.s(u)  # (B, 1, 7, 7) each; s starts near 1


class VAEEncoder(nn.Module):
    """q(z | x): a diagonal Gaussian over 49 latents, optionally refined by `flows` IAF steps.

    Parameters: embed = nn.Conv2d(1, capacity, 7, padding=3, stride=4, bias=False) (28x28 ->
    7x7); resnet = `depth` ConvnetBlock(capacity); mu, var = nn.Conv2d(capacity, 1, 3,
    padding=1) (var gives the log-variance); flows = `flows` IAF(capacity, flow_depth), each
    with `flow_depth` masked blocks (9 in the course, whatever the encoder's depth).

    forward(x, epsilon) with x (B, 1, 28, 28) and epsilon (B, 49) standard normal noise
    returns (z, logqzx, mu, logvar): z, mu, logvar of shape (B, 49), logqzx of shape (B,):

        h = features of x after the blocks                       (B, capacity, 7, 7)
        z = mu + exp(logvar / 2) * epsilon                       the reparameterised sample
        logqzx = 0.5 * sum_k (logvar_k + (z_k - mu_k)^2 / exp(logvar_k))

    SIGN CONVENTION: despite its name, logqzx is MINUS log q(z | x), without the constant
    (49 / 2) log(2 pi): log q(z | x) = -logqzx - 24.5 log(2 pi). So a one-sample estimate of
    KL(q || N(0, I)) is 0.5 * (z^2).sum(1) - logqzx, not logqzx - 0.5 * (z^2).sum(1).

    Flows (*student*, the loop in forward): for each flow in self.flows, in order,
    (m, s) = flow(z, h) with z as a (B, 1, 7, 7) map and h the features above, then update z
    with either of the two IAF updates (both are accepted; use one for every flow):

        affine:  z' = m + s * z                              log|dz'/dz| = sum_k log|s_k|
        gated:   sigma = sigmoid(s);  z' = sigma * z + (1 - sigma) * m
                                                             log|dz'/dz| = sum_k log sigma_k

    dz'/dz is triangular (m and s at k depend on z before k only), so its log-determinant is
    the sum of the log-diagonal above. By the change of variables log q(z') = log q(z) -
    log|det dz'/dz|, and logqzx is MINUS log q: logqzx' = logqzx + log|det dz'/dz|. Each
    flow reads the current z and the same h; the ordering is raster order in every flow
    (no reversal between flows), so dz/d epsilon of the whole encoder is lower triangular
    in raster order. mu and logvar are returned as computed before the flows.
    """

    def __init__(self, capacity: int = 32, depth: int = 9, flows: int = 0, flow_depth: int = 9):
        super().__init__()
        self.capacity = capacity
        self.embed = nn.Conv2d(1, capacity, 7, padding=3, stride=4, bias=False)
        self.resnet = nn.ModuleList([ConvnetBlock(capacity) for _ in range(depth)])
        self.mu = nn.Conv2d(capacity, 1, 3, padding=1, bias=True)
        self.var = nn.Conv2d(capacity, 1, 3, padding=1, bias=True)
        self.flows = nn.ModuleList([IAF(capacity, flow_depth) for _ in range(flows)])
        init_parameters(self)

    def forward(self, x: torch.Tensor, epsilon: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = F.relu(self.embed(x))  # (B, capacity, 7, 7)
        for block in self.resnet:
            h = block(h)
        mu, logvar = self.mu(h), self.var(h)  # (B, 1, 7, 7) each
        z = mu + torch.exp(0.5 * logvar) * epsilon.view_as(mu)  # (B, 1, 7, 7)
        logqzx = 0.5 * (logvar + (z - mu) ** 2 / logvar.exp()).flatten(1).sum(1)  # (B,), minus log q(z | x)

        for flow in self.flows:
            """ # BEGIN PROMPT
            raise NotImplementedError("the IAF step: update z and logqzx (see the docstring)")
            """ # END PROMPT
            # BEGIN SOLUTION
            m, s = flow(z, h)  # (B, 1, 7, 7) each; position k sees z before k only
            gate = torch.sigmoid(s)
            z = gate * z + (1 - gate) * m  # the gated update: dz'/dz is diagonal = gate
            logqzx = logqzx + F.logsigmoid(s).flatten(1).sum(1)  # + log|det dz'/dz|, stable for any s
            # END SOLUTION

        return z.flatten(1), logqzx, mu.flatten(1), logvar.flatten(1)


class GaussianVAEDecoder(nn.Module):
    """p(x | z) with Gaussian pixels: z (B, 49) -> means (B, 1, 28, 28) in (0, 1).

    Parameters: embed = nn.Linear(49, capacity * 49, bias=False) (z -> a capacity x 7 x 7
    map); resnet = `depth` ConvnetBlock(capacity); image = nn.ConvTranspose2d(capacity, 1,
    4, stride=4) (7x7 -> 28x28); bias, a learned (28, 28) map. The means are
    sigmoid(image(h) + bias).
    """

    def __init__(self, capacity: int = 32, depth: int = 51):
        super().__init__()
        self.capacity = capacity
        self.embed = nn.Linear(LATENT, capacity * 7 * 7, bias=False)
        self.resnet = nn.ModuleList([ConvnetBlock(capacity) for _ in range(depth)])
        self.image = nn.ConvTranspose2d(capacity, 1, 4, stride=4, bias=True)
        self.bias = nn.Parameter(torch.zeros(28, 28))
        init_parameters(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.embed(z.view(-1, LATENT)).view(-1, self.capacity, 7, 7))  # (B, capacity, 7, 7)
        for block in self.resnet:
            h = block(h)
        return torch.sigmoid(self.image(h) + self.bias)  # (B, 1, 28, 28)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images x ~ N(mean(z), sigma^2), clamped to [0, 1]."""
        return torch.normal(self(z), sigma, generator=generator).clamp(0, 1)


class DiscreteVAEDecoder(nn.Module):
    """p(x | z) with Bernoulli pixels: forward(z, x=None) -> logits (B, 1, 28, 28).

    The same network as GaussianVAEDecoder without the sigmoid: logits image(h) + bias.
    With autoregress=True the decoder also owns a PixelCNN(capacity) (self.pixelcnn), and
    while `self.autoregress` is True, forward(z, x) returns image(h) + bias + pixelcnn(x):
    pixel (i, j) then depends on z and on the pixels of x before (i, j), so x (B, 1, 28, 28)
    is required. As in the course, `self.autoregress` starts False even when the PixelCNN
    is built: the decoder is warmed up without it, then the training loop sets
    `decoder.autoregress = True`.
    """

    def __init__(self, capacity: int = 32, depth: int = 51, autoregress: bool = False):
        super().__init__()
        self.capacity = capacity
        self.embed = nn.Linear(LATENT, capacity * 7 * 7, bias=False)
        self.resnet = nn.ModuleList([ConvnetBlock(capacity) for _ in range(depth)])
        self.image = nn.ConvTranspose2d(capacity, 1, 4, stride=4, bias=True)
        self.bias = nn.Parameter(torch.zeros(28, 28))
        self.autoregress = False  # warm up without the PixelCNN, whatever `autoregress` says
        if autoregress:
            self.pixelcnn = PixelCNN(capacity)
        init_parameters(self)

    def forward(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.embed(z.view(-1, LATENT)).view(-1, self.capacity, 7, 7))  # (B, capacity, 7, 7)
        for block in self.resnet:
            h = block(h)
        logits = self.image(h) + self.bias  # (B, 1, 28, 28)
        if not self.autoregress:
            return logits
        if x is None:
            raise ValueError("an autoregressive decoder needs the image x: forward(z, x)")
        return logits + self.pixelcnn(x)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Binary images (B, 1, 28, 28) given z (B, 49): all pixels at once, or pixel by pixel
        in raster order while self.autoregress is True."""
        if not self.autoregress:
            return torch.bernoulli(torch.sigmoid(self(z)), generator=generator)
        x = torch.zeros(z.shape[0], 1, 28, 28, device=z.device, dtype=z.dtype)
        for i in range(28):
            for j in range(28):
                p = torch.sigmoid(self(z, x)[:, :, i, j])
                x[:, :, i, j] = torch.bernoulli(p, generator=generator)
        return x
