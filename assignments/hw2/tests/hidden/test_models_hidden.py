"""Hidden tests for HW2 models.py: exact checks against the solution key, properties of the residual blocks,
raster-order causality by gradients, the IAF loop's log-determinant, and a short PixelCNN training run.

How weights are matched. The given classes' parameter names are the key's, but the blocks'
layers are named by each student, and a correct block may be laid out differently from
the key's (pre- or post-activation, two or three convolutions). So:
- the blocks are tested by properties every correct block has (3x3 kernels only, shape
  kept, every parameter used, each image on its own, the identity when its parameters are
  0, and for the masked block causality with the centre included);
- the given classes are compared exactly with the key (float64, CPU) after the probe
  "reinitialize" sets every parameter of the student's model to 0 and the key's weights
  are loaded into the given parameters (names outside `resnet.<i>.`): a residual block with
  zero parameters is the identity, so the key's blocks, zeroed too, match any layout;
- the IAF loop is compared exactly in an encoder without blocks (depth 0, flow_depth 0),
  accepting either documented update (affine or gated) computed here from the key's (m, s),
  and checked with the student's own blocks against the slogdet of dz/d epsilon.
Gradients come from the probe "projected_gradient" with a one-hot projection per batch row:
row b of the batch answers for output position b, so one call gives many Jacobian rows.
The catalogue of wrong implementations these tests catch is tests/assignments/hw2/models_variants.py.
"""

import contextlib
import math
import re

import pytest
import torch
import torch.nn.functional as F

from autograder.testing import assert_close

F64 = torch.float64
BLOCK = re.compile(r"(?:^|\.)resnet\.\d+\.")  # the parameters of a student's residual block
STD = 0.2  # re-initialisation for gradient checks: allowed gradients are then far from 0

# PixelCNN training check (calibration in models_variants.py): PixelCNN(8, 1), every parameter
# redrawn from N(0, 0.01^2) (seed 0), the probe fit_bernoulli's Adam loop for 200 steps of 16 stripe
# images at lr 0.02, then the NLL of 256 held-out stripe images. True entropy 28 ln 2 = 19.41 nats.
# Measured (re-initialisation seeds 0-3): key 19.65-21.27 (19.78 at seed 0); other correct layouts
# 19.86-20.69 (post-activation) and 21.57-23.36 (three bias-free convolutions, slower to sharpen its
# logits); a type-B first layer 0.03-0.14. A model that cannot read the pixels to the left stays
# near 784 ln 2 = 543, so the window below loses no power.
TRAIN = dict(capacity=8, depth=1, steps=200, batch_size=16, lr=0.02, images=512)
ENTROPY = 28 * math.log(2)
LEAK_MARGIN = 0.25  # below ENTROPY - this: the model sees the pixel it predicts
MAX_EXCESS = 5.0  # nats above the entropy still accepted after 200 steps


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tensor(value, name: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    assert isinstance(value, torch.Tensor), f"{name}: expected a tensor, got {type(value).__name__}"
    if shape is not None:
        assert tuple(value.shape) == shape, f"{name}: expected shape {shape}, got {tuple(value.shape)}"
    assert bool(torch.isfinite(value).all()), f"{name}: contains NaN or inf"
    return value


def parameters(module, what: str) -> dict[str, torch.Tensor]:
    """{name: value} of the module's parameters (buffers such as masks left out)."""
    state = module.state_dict(keep_vars=True)
    assert isinstance(state, dict), f"{what}.state_dict() did not return a dict"
    return {name: value.detach() for name, value in state.items() if isinstance(value, torch.Tensor)
            and value.requires_grad}


def binary(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return (torch.rand(shape, generator=generator(seed), dtype=F64) < 0.5).to(F64)


def given_weights(key: torch.nn.Module, seed: int, std: float = 0.3) -> dict[str, torch.Tensor]:
    """Random float64 weights for the given parameters of a key model (everything outside its blocks)."""
    g = generator(seed)
    return {name: std * torch.randn(p.shape, generator=g, dtype=F64)
            for name, p in key.named_parameters() if not BLOCK.search(name)}


def key_model(cls, weights: dict, *args, **kwargs) -> torch.nn.Module:
    key = cls(*args, **kwargs).double()
    with torch.no_grad():
        for p in key.parameters():
            p.zero_()  # its blocks become the identity
    key.load_state_dict(weights, strict=False)
    return key.eval()


def student_model(student, name: str, weights: dict, *args, **kwargs):
    """The student's given class with every parameter 0 (blocks included), then `weights` loaded by name."""
    model = getattr(student.models, name)(*args, **kwargs)
    model.double()
    have = {n: tuple(v.shape) for n, v in parameters(model, name).items()}
    wrong = [f"{n} {tuple(w.shape)}" for n, w in weights.items() if have.get(n) != tuple(w.shape)]
    assert not wrong, (f"{name}: the given parameters {', '.join(wrong)} are missing or of another shape "
                       "(the grader loads weights into them by name: keep the given code as it is)")
    student.probe("reinitialize", model, std=0.0)
    model.load_state_dict(weights, strict=False)
    model.eval()
    return model


@contextlib.contextmanager
def one_thread():
    """The key's 784-step sampling in this process: one thread (many tiny ops; measured 0.8 s vs 19 s with two
    threads on a loaded two-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def raster_rows(student, module, inputs: list, positions: list[tuple[int, int]], shape: tuple[int, ...],
                wrt: int = 0) -> torch.Tensor:
    """Row b: d(output[b, 0, i_b, j_b]) / d(inputs[wrt][b]), one batch row per position (inputs repeated)."""
    projection = torch.zeros(len(positions), *shape, dtype=F64)  # shape: one output's (C, H, W)
    for b, (i, j) in enumerate(positions):
        projection[b, 0, i, j] = 1.0
    gradient = student.probe("projected_gradient", module, inputs, projection, wrt=wrt)
    return tensor(gradient, "gradient", tuple(inputs[wrt].shape)).to(F64)


# --- masked convolution (given; checked inside the tests of the code that uses it) --


def masked_conv2d_exact(student, solution) -> None:
    """The given MaskedConv2d matches the solution (types A and B, kernels 3, 5, 9), its mask a buffer."""
    cases = (("A", 1, 3, 3, 1, False, (2, 1, 6, 5)), ("B", 3, 2, 5, 2, True, (1, 3, 7, 7)),
             ("A", 2, 4, 9, 4, True, (2, 2, 10, 9)), ("B", 2, 2, 3, 1, True, (1, 2, 4, 4)))
    for seed, (kind, cin, cout, k, pad, bias, shape) in enumerate(cases):
        key = solution.models.MaskedConv2d(kind, cin, cout, k, padding=pad, bias=bias).double()
        weights = {n: torch.randn(p.shape, generator=generator(seed), dtype=F64) for n, p in key.named_parameters()}
        key.load_state_dict(weights, strict=False)
        conv = student.models.MaskedConv2d(kind, cin, cout, k, padding=pad, bias=bias)
        conv.double()
        conv.load_state_dict(weights, strict=False)
        state = conv.state_dict(keep_vars=True)
        assert "mask" in state and not state["mask"].requires_grad, "MaskedConv2d needs its mask as a buffer 'mask'"
        what = f"MaskedConv2d('{kind}', {cin}, {cout}, {k})"
        assert_close(state["mask"].detach(), key.mask, name=f"{what} mask")
        x = torch.randn(shape, generator=generator(10 + seed), dtype=F64)
        assert_close(conv(x), key(x).detach(), name=f"{what} output")


def masked_conv2d_causal(student) -> None:
    """The given MaskedConv2d: output (i, j) has gradient exactly 0 for inputs at (i, j) (type A) or after it."""
    for kind, k in (("A", 3), ("B", 3), ("A", 5), ("B", 5)):
        conv = student.models.MaskedConv2d(kind, 2, 3, k, padding=k // 2)
        conv.double()
        student.probe("reinitialize", conv, std=STD, seed=k)
        x = torch.randn(1, 2, 6, 6, generator=generator(k), dtype=F64)
        jacobian = tensor(student.probe("jacobian", conv, x), "jacobian", (1, 3, 6, 6, 1, 2, 6, 6))
        jacobian = jacobian.reshape(3, 36, 2, 36).abs().amax(dim=(0, 2))  # (out position, in position)
        c = k // 2
        for p in range(36):
            i, j = divmod(p, 6)
            for q in range(36):
                a, b = divmod(q, 6)
                allowed = q < p or (q == p and kind == "B")
                if not allowed:
                    assert jacobian[p, q] == 0.0, (f"MaskedConv2d('{kind}', kernel {k}): output ({i}, {j}) depends "
                                                   f"on input ({a}, {b}), at or after it in raster order")
                elif abs(a - i) <= c and abs(b - j) <= c:
                    assert jacobian[p, q] > 1e-10, (f"MaskedConv2d('{kind}', kernel {k}): output ({i}, {j}) does not "
                                                    f"depend on input ({a}, {b}), which its kernel should see")


# --- the residual blocks (student) -------------------------------------------------------


def block_properties(student, name: str) -> None:
    """3x3 kernels only, shape kept, not the identity, every parameter used, batch rows independent."""
    C = 3
    block = getattr(student.models, name)(C)
    block.double()
    shapes = {n: tuple(v.shape) for n, v in parameters(block, name).items()}
    for n, shape in shapes.items():
        assert len(shape) in (1, 4) and shape[2:] in ((), (3, 3)), \
            f"{name}: parameter {n} of shape {shape}: only 3x3 convolutions are allowed (no 1x1, no nn.Linear)"
    assert any(len(s) == 4 for s in shapes.values()), f"{name}({C}) has no convolution"
    student.probe("reinitialize", block, std=STD, seed=1)
    x = torch.rand(2, C, 6, 5, generator=generator(2), dtype=F64) + 0.1  # blocks read ReLU outputs
    out = tensor(block(x), f"{name} output", (2, C, 6, 5))
    assert (out - x).abs().max().item() > 1e-3, f"{name}: with random weights the block returns its input unchanged"
    for i in range(2):
        assert_close(block(x[i : i + 1]), out[i : i + 1], name=f"{name}: image {i} alone vs in the batch")
    state = parameters(block, name)
    for seed, (n, value) in enumerate(state.items()):
        block.load_state_dict({n: value + 0.5 * torch.randn(value.shape, generator=generator(20 + seed), dtype=F64)},
                              strict=False)
        moved = (tensor(block(x), f"{name} output") - out).abs().max().item()
        block.load_state_dict({n: value}, strict=False)
        assert moved > 1e-6, f"{name}: parameter {n} does not affect the output (every parameter must be used)"
    wide = torch.rand(1, C, 28, 28, generator=generator(3), dtype=F64)
    tensor(block(wide), f"{name} output for a 28x28 input", (1, C, 28, 28))


def block_residual(student, name: str) -> None:
    """With every parameter 0 the block passes its (non-negative) input through."""
    for C, shape, seed in ((3, (2, 3, 7, 6), 4), (5, (1, 5, 28, 28), 5)):
        block = getattr(student.models, name)(C)
        block.double()
        student.probe("reinitialize", block, std=0.0)
        x = F.relu(torch.randn(shape, generator=generator(seed), dtype=F64))  # zeros and positive values
        assert_close(block(x), x, name=f"{name}({C}) with every parameter 0 (only the skip connection is left)")


@pytest.mark.points(2)
def test_convnet_block_properties(student):
    """ConvnetBlock: 3x3 kernels only, shape kept, every parameter used, each image of a batch on its own."""
    block_properties(student, "ConvnetBlock")


@pytest.mark.points(2)
def test_convnet_block_residual(student):
    """ConvnetBlock is residual: with every parameter 0 it returns its input (x >= 0)."""
    block_residual(student, "ConvnetBlock")


@pytest.mark.points(2)
def test_masked_convnet_block_properties(student):
    """MaskedConvnetBlock: 3x3 kernels only, shape kept, every parameter used, each image of a batch on its own."""
    block_properties(student, "MaskedConvnetBlock")


@pytest.mark.points(2)
def test_masked_convnet_block_residual(student):
    """MaskedConvnetBlock is residual: with every parameter 0 it returns its input (x >= 0)."""
    block_residual(student, "MaskedConvnetBlock")


@pytest.mark.points(4)
def test_masked_convnet_block_causal(student):
    """MaskedConv2d and MaskedConvnetBlock: output (i, j) depends on inputs up to (i, j) only, the block's centre included."""
    masked_conv2d_causal(student)
    C, H, W = 3, 5, 6
    block = student.models.MaskedConvnetBlock(C)
    block.double()
    student.probe("reinitialize", block, std=STD, seed=6)
    x = torch.rand(2, C, H, W, generator=generator(7), dtype=F64) + 0.1
    jacobian = tensor(student.probe("jacobian", block, x), "jacobian", (2, C, H, W, 2, C, H, W))
    jacobian = jacobian.reshape(2, C, H * W, 2, C, H * W)
    across = jacobian[0, :, :, 1].abs().max().item() + jacobian[1, :, :, 0].abs().max().item()
    assert across == 0.0, "MaskedConvnetBlock: the output of one image depends on another image of the batch"
    J = torch.stack([jacobian[0, :, :, 0], jacobian[1, :, :, 1]])  # (2, C, HW, C, HW)
    size = J.abs().amax(dim=(0, 1, 3))  # (out position, in position)
    later = torch.ones(H * W, H * W, dtype=torch.bool).triu(diagonal=1)  # in position > out position
    leak = size[later].max().item()
    assert leak == 0.0, f"MaskedConvnetBlock: an output depends on a later input position (gradient {leak:.1e})"
    centre = torch.stack([J[:, :, p, :, p] for p in range(H * W)], dim=1)  # (2, HW, C, C)
    off_diagonal = (centre * (1 - torch.eye(C, dtype=F64))).abs().max().item()
    assert off_diagonal > 1e-8, ("MaskedConvnetBlock: output (i, j) reads input (i, j) only through the skip "
                                 "connection; its convolutions must include the centre (type B)")
    for di, dj in ((-1, -1), (-1, 0), (-1, 1), (0, -1)):
        flows = max(size[i * W + j, (i + di) * W + j + dj].item() for i in range(1, H) for j in range(1, W - 1))
        assert flows > 1e-8, f"MaskedConvnetBlock: output (i, j) never depends on input (i{di:+d}, j{dj:+d})"


# --- PixelCNN (given, around the student's blocks) ----------------------------------------


def pixelcnn_pair(student, solution, capacity: int, depth: int, seed: int):
    weights = given_weights(solution.models.PixelCNN(capacity, depth), seed)
    key = key_model(solution.models.PixelCNN, weights, capacity, depth)
    return student_model(student, "PixelCNN", weights, capacity, depth), key


@pytest.mark.points(2)
def test_pixelcnn_exact(student, solution):
    """MaskedConv2d, and PixelCNN(4, 2) logits, match the solution given the same weights (your blocks' at 0)."""
    masked_conv2d_exact(student, solution)
    model, key = pixelcnn_pair(student, solution, 4, 2, seed=30)
    x = binary((3, 1, 28, 28), 31)
    assert_close(model(x), key(x).detach(), name="logits")


def causal_positions(seed: int, count: int) -> list[tuple[int, int]]:
    corners = [(0, 0), (0, 1), (0, 27), (1, 0), (5, 27), (27, 0), (27, 27), (13, 13)]
    flat = torch.randperm(784, generator=generator(seed))[:count].tolist()
    return corners + [divmod(k, 28) for k in flat]


@pytest.mark.points(3)
def test_pixelcnn_causal(student):
    """PixelCNN(8, 2) logit (i, j) has gradient exactly 0 for pixels at or after (i, j), and flows to the 9x9 window before."""
    model = student.models.PixelCNN(8, 2)
    model.double()
    model.eval()
    student.probe("reinitialize", model, std=STD, seed=8)
    positions = causal_positions(9, 24)
    x = binary((2 * len(positions), 1, 28, 28), 10)  # each position twice, with two different images
    rows = raster_rows(student, model, [x], positions * 2, (1, 28, 28)).view(2, len(positions), 784).abs()
    rows = rows.amax(dim=0)  # (positions, 784): the larger of the two images' gradients
    for (i, j), row in zip(positions, rows):
        k = i * 28 + j
        leak = row[k:].max().item()
        assert leak == 0.0, f"PixelCNN: logit ({i}, {j}) depends on a pixel at or after ({i}, {j}) (gradient {leak:.1e})"
        window = [(a, b) for a in range(i - 4, i + 1) for b in range(j - 4, j + 5)
                  if 0 <= a and 0 <= b < 28 and a * 28 + b < k]
        dead = [(a, b) for a, b in window if row[a * 28 + b] <= 1e-10]
        assert not dead, f"PixelCNN: logit ({i}, {j}) does not depend on pixel {dead[0]}, in its first layer's window"


def stripes(n: int, seed: int) -> torch.Tensor:
    """Images whose rows are each all 0 or all 1, with probability 1/2: entropy 28 ln 2 nats."""
    rows = (torch.rand(n, 1, 28, 1, generator=generator(seed)) < 0.5).float()
    return rows.expand(n, 1, 28, 28).contiguous()


@pytest.mark.points(4)
@pytest.mark.time_limit(120)  # measured about 3 s of CPU on one thread (2-5 s wall on a loaded 2-core box)
def test_pixelcnn_training(student, device):
    """A PixelCNN(8, 1) trained 200 steps on stripe images gets within 5 nats of their entropy 19.41 (and not below it)."""
    model = student.models.PixelCNN(TRAIN["capacity"], TRAIN["depth"])
    student.probe("reinitialize", model, std=0.01, seed=0)
    model.to(device)
    images = stripes(TRAIN["images"], 40).to(device)
    losses = student.probe("fit_bernoulli", model, images, steps=TRAIN["steps"], batch_size=TRAIN["batch_size"],
                           lr=TRAIN["lr"], seed=0)
    assert isinstance(losses, list) and len(losses) == TRAIN["steps"], "training did not return one loss per step"
    held_out = stripes(256, 41)
    logits = tensor(model(held_out.to(device)), "logits", (256, 1, 28, 28)).detach().to("cpu", F64)
    nll = F.binary_cross_entropy_with_logits(logits, held_out.double(), reduction="sum").item() / 256
    assert nll > ENTROPY - LEAK_MARGIN, (f"held-out NLL {nll:.2f} nats is below the entropy {ENTROPY:.2f} of the "
                                         "data: no model can do that, so yours sees the pixel it predicts")
    assert nll < ENTROPY + MAX_EXCESS, \
        f"held-out NLL {nll:.2f} nats after {TRAIN['steps']} steps, more than {MAX_EXCESS:g} above the entropy {ENTROPY:.2f}"


@pytest.mark.points(1)
@pytest.mark.time_limit(120)
def test_pixelcnn_sample_exact(student, solution):
    """PixelCNN.sample matches the solution given the same weights and generator (values 0 and 1 only)."""
    model, key = pixelcnn_pair(student, solution, 4, 1, seed=50)
    got = tensor(model.sample(3, device="cpu", generator=generator(51)), "samples", (3, 1, 28, 28))
    assert bool(((got == 0) | (got == 1)).all()), "samples must be 0.0 or 1.0"
    with one_thread():
        expected = key.sample(3, device="cpu", generator=generator(51))
    assert_close(got, expected, name="samples")


# --- the VAE -----------------------------------------------------------------------------


@pytest.mark.points(2)
def test_encoder_exact(student, solution):
    """VAEEncoder(4, 2) without flows matches the solution: z, logqzx, mu, logvar (your blocks' parameters 0)."""
    weights = given_weights(solution.models.VAEEncoder(4, 2), 60)
    key = key_model(solution.models.VAEEncoder, weights, 4, 2)
    encoder = student_model(student, "VAEEncoder", weights, 4, 2)
    x, eps = binary((3, 1, 28, 28), 61), torch.randn(3, 49, generator=generator(62), dtype=F64)
    got, expected = encoder(x, eps), key(x, eps)
    assert isinstance(got, (tuple, list)) and len(got) == 4, "VAEEncoder returns (z, logqzx, mu, logvar)"
    for value, want, name in zip(got, expected, ("z", "logqzx", "mu", "logvar")):
        assert_close(value, want.detach(), name=name)


def both_updates(key, x: torch.Tensor, eps: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """(z, logqzx) of the key's encoder under each documented IAF update, from the key's own (m, s)."""
    with torch.no_grad():
        h = F.relu(key.embed(x))
        for block in key.resnet:
            h = block(h)
        mu, logvar = key.mu(h), key.var(h)
        start = mu + torch.exp(0.5 * logvar) * eps.view_as(mu)
        chains = {}
        for kind in ("affine", "gated"):
            z, logqzx = start, 0.5 * (logvar + eps.view_as(mu) ** 2).flatten(1).sum(1)
            for flow in key.flows:
                m, s = flow(z, h)
                if kind == "affine":
                    z, logqzx = m + s * z, logqzx + torch.log(s.abs()).flatten(1).sum(1)
                else:
                    gate = torch.sigmoid(s)
                    z, logqzx = gate * z + (1 - gate) * m, logqzx + torch.log(gate).flatten(1).sum(1)
            chains[kind] = (z.flatten(1), logqzx)
    return chains


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return tuple(a.shape) == tuple(b.shape) and bool(torch.isclose(a.to(F64), b, rtol=1e-6, atol=1e-8).all())


@pytest.mark.points(5)
def test_encoder_flows_exact(student, solution):
    """VAEEncoder(4, 0, flows=2) matches the solution's (m, s) under the affine or the gated IAF update."""
    config = dict(capacity=4, depth=0, flows=2, flow_depth=0)  # no blocks: only your loop and given code
    weights = given_weights(solution.models.VAEEncoder(**config), 70)
    key = key_model(solution.models.VAEEncoder, weights, **config)
    encoder = student_model(student, "VAEEncoder", weights, **config)
    x, eps = binary((3, 1, 28, 28), 71), torch.randn(3, 49, generator=generator(72), dtype=F64)
    got = encoder(x, eps)
    assert isinstance(got, (tuple, list)) and len(got) == 4, "VAEEncoder returns (z, logqzx, mu, logvar)"
    z, logqzx, mu, logvar = (tensor(v, n) for v, n in zip(got, ("z", "logqzx", "mu", "logvar")))
    _, _, key_mu, key_logvar = key(x, eps)
    assert_close(mu, key_mu.detach(), name="mu (before the flows)")
    assert_close(logvar, key_logvar.detach(), name="logvar (before the flows)")
    chains = both_updates(key, x, eps)
    matches = [kind for kind, (z_kind, _) in chains.items() if close(z, z_kind)]
    assert matches, ("z after two flows matches neither the affine nor the gated update of the given IAF's (m, s): "
                     "each flow must read the current z and the encoder's features h")
    kind = matches[0]
    assert close(logqzx, chains[kind][1]), (f"z follows the {kind} update but logqzx is wrong: add each flow's "
                                            "log|det dz'/dz| (logqzx is MINUS log q)")


@pytest.mark.points(3)
def test_encoder_flows_jacobian(student):
    """With your blocks and random weights, logqzx - |eps|^2 / 2 is the log|det| of dz/d eps, which is lower triangular."""
    encoder = student.models.VAEEncoder(4, 1, flows=2, flow_depth=1)
    encoder.double()
    encoder.eval()
    student.probe("reinitialize", encoder, std=STD, seed=80)
    x, eps = binary((2, 1, 28, 28), 81), torch.randn(2, 49, generator=generator(82), dtype=F64)
    got = encoder(x, eps)
    assert isinstance(got, (tuple, list)) and len(got) == 4, "VAEEncoder returns (z, logqzx, mu, logvar)"
    z, logqzx, mu, logvar = (tensor(v, n, s) for v, n, s in zip(got, ("z", "logqzx", "mu", "logvar"),
                                                                ((2, 49), (2,), (2, 49), (2, 49))))
    moved = (z - (mu + torch.exp(logvar / 2) * eps)).abs().max().item()
    assert moved > 1e-3, "with flows=2, z is still mu + exp(logvar / 2) * epsilon: the flows are not applied"
    inputs = [x.repeat_interleave(49, dim=0), eps.repeat_interleave(49, dim=0)]  # row 49 b + k: image b, output k
    projection = torch.eye(49, dtype=F64).repeat(2, 1)  # (98, 49)
    gradient = tensor(student.probe("projected_gradient", encoder, inputs, projection, wrt=1), "dz/d eps", (98, 49))
    for b in range(2):
        jacobian = gradient[49 * b : 49 * (b + 1)].to(F64)  # (49, 49): d z_k / d eps_l
        upper = jacobian.triu(diagonal=1).abs().max().item()
        assert upper == 0.0, f"z_k depends on epsilon_l for some l > k (gradient {upper:.1e}): not lower triangular"
        sign, logdet = torch.linalg.slogdet(jacobian)
        assert sign != 0, "dz/d epsilon is singular"
        assert_close(logqzx[b] - 0.5 * (eps[b] ** 2).sum(), logdet, rtol=1e-6, atol=1e-6,
                     name=f"logqzx - |eps|^2 / 2 vs log|det dz/d eps| for image {b}")


@pytest.mark.points(2)
def test_iaf_autoregressive(student):
    """IAF(4, 1): dm/dz is strictly lower triangular in raster order, and m at k reads z at k - 1 and k - 7."""
    iaf = student.models.IAF(4, 1)
    iaf.double()
    student.probe("reinitialize", iaf, std=STD, seed=90)
    z = torch.randn(1, 1, 7, 7, generator=generator(91), dtype=F64)
    h = torch.randn(1, 4, 7, 7, generator=generator(92), dtype=F64)
    positions = [divmod(k, 7) for k in range(49)]
    rows = raster_rows(student, iaf, [z.repeat(49, 1, 1, 1), h.repeat(49, 1, 1, 1)], positions, (1, 7, 7))
    jacobian = rows.view(49, 49).abs()  # d m_k / d z_l
    leak = jacobian.triu(diagonal=0).max().item()
    assert leak == 0.0, f"IAF: m at position k depends on z at k or later (gradient {leak:.1e})"
    left = max(jacobian[k, k - 1].item() for k in range(49) if k % 7)
    above = max(jacobian[k, k - 7].item() for k in range(7, 49))
    assert left > 1e-8 and above > 1e-8, "IAF: m at position k never depends on z just before it (left or above)"


@pytest.mark.points(1)
def test_decoders_exact(student, solution):
    """Gaussian and discrete decoders (and the autoregressive decoder's PixelCNN) match the solution, blocks at 0."""
    z, x = torch.randn(3, 49, generator=generator(100), dtype=F64), binary((3, 1, 28, 28), 101)
    weights = given_weights(solution.models.GaussianVAEDecoder(4, 2), 102)
    key = key_model(solution.models.GaussianVAEDecoder, weights, 4, 2)
    decoder = student_model(student, "GaussianVAEDecoder", weights, 4, 2)
    assert_close(decoder(z), key(z).detach(), name="GaussianVAEDecoder means")
    weights = given_weights(solution.models.DiscreteVAEDecoder(4, 2, autoregress=True), 103)
    key = key_model(solution.models.DiscreteVAEDecoder, weights, 4, 2, autoregress=True)
    decoder = student_model(student, "DiscreteVAEDecoder", weights, 4, 2, autoregress=True)
    assert_close(decoder(z), key(z).detach(), name="DiscreteVAEDecoder logits")
    assert_close(decoder.pixelcnn(x), key.pixelcnn(x).detach(), name="DiscreteVAEDecoder's PixelCNN logits")
