"""Public tests for HW2 models.py: masks, shapes and the encoder's formulas on inputs worked out by hand.

The hidden tests check your blocks by their properties (3x3 kernels, residual, every
parameter used, causal in raster order with the centre included for the masked block),
compare the given models around your blocks with the solution, check the IAF loop's
log q(z|x) against the Jacobian of z, and train a small PixelCNN on images of known
entropy, so passing these is necessary but not sufficient.
"""

import math

import pytest
import torch

from autograder.testing import assert_close

F64 = torch.float64


def parameters(module) -> dict:
    """{name: shape} of a module's parameters (buffers such as masks left out)."""
    state = module.state_dict(keep_vars=True)
    assert isinstance(state, dict), f"state_dict() should be a dict, got {type(state).__name__}"
    return {name: tuple(value.shape) for name, value in state.items() if value.requires_grad}


def shaped(value, shape: tuple, name: str) -> torch.Tensor:
    assert isinstance(value, torch.Tensor), f"{name}: expected a tensor, got {type(value).__name__}"
    assert tuple(value.shape) == shape, f"{name}: expected shape {shape}, got {tuple(value.shape)}"
    return value


def constant_encoder(student, flows: int, biases: dict):
    """A float64 VAEEncoder(4, 1) whose parameters are all 0 except the given biases (flows: IAF depth 1)."""
    encoder = student.models.VAEEncoder(4, 1, flows=flows, flow_depth=1)
    encoder.double()
    state = {name: torch.zeros(shape, dtype=F64) for name, shape in parameters(encoder).items()}
    for name, value in biases.items():
        state[name] = torch.full(state[name].shape, value, dtype=F64)
    encoder.load_state_dict(state, strict=False)
    return encoder


def outputs(result) -> tuple:
    assert isinstance(result, (tuple, list)) and len(result) == 4, \
        f"VAEEncoder must return (z, logqzx, mu, logvar), got {type(result).__name__}"
    return tuple(result)


@pytest.mark.points(1)
def test_masks_and_block_shapes(student):
    """3x3 masks (A: the row above and the pixel to the left; B: the centre too); blocks keep shape, 3x3 kernels only."""
    expected = {"A": [[1, 1, 1], [1, 0, 0], [0, 0, 0]], "B": [[1, 1, 1], [1, 1, 0], [0, 0, 0]]}
    x = torch.arange(9, dtype=torch.float32).view(1, 1, 3, 3)  # [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    for kind, centre in (("A", 0 + 1 + 2 + 3), ("B", 0 + 1 + 2 + 3 + 4)):
        conv = student.models.MaskedConv2d(kind, 2, 3, 3, padding=1, bias=False)
        state = conv.state_dict(keep_vars=True)
        assert "mask" in state and not state["mask"].requires_grad, "the mask must be a buffer named 'mask'"
        assert_close(state["mask"].detach(), torch.tensor(expected[kind], dtype=torch.float32).expand(3, 2, 3, 3),
                     name=f"type {kind} mask (every pair of channels)")
        ones = student.models.MaskedConv2d(kind, 1, 1, 3, padding=1, bias=False)
        ones.load_state_dict({"weight": torch.ones(1, 1, 3, 3)}, strict=False)
        out = shaped(ones(x), (1, 1, 3, 3), f"type {kind} output")
        assert_close(out[0, 0, 1, 1], torch.tensor(float(centre)), name=f"type {kind} output at the centre")
    x = torch.rand(2, 4, 5, 6)
    for name in ("ConvnetBlock", "MaskedConvnetBlock"):
        block = getattr(student.models, name)(4)
        shapes = parameters(block)
        assert any(len(s) == 4 for s in shapes.values()), f"{name}(4) has no convolution"
        for parameter, shape in shapes.items():
            assert len(shape) in (1, 4) and shape[2:] in ((), (3, 3)), \
                f"{name}: {parameter} has shape {shape}; every convolution must be 3x3 (no 1x1, no nn.Linear)"
        shaped(block(x), (2, 4, 5, 6), f"{name}(4) output")


@pytest.mark.points(1)
def test_block_zero_is_identity(student):
    """With every parameter set to 0, ConvnetBlock and MaskedConvnetBlock return their (non-negative) input."""
    x = torch.relu(torch.randn(2, 4, 5, 6, generator=torch.Generator().manual_seed(0), dtype=F64))
    for name in ("ConvnetBlock", "MaskedConvnetBlock"):
        block = getattr(student.models, name)(4)
        block.double()
        block.load_state_dict({n: torch.zeros(s, dtype=F64) for n, s in parameters(block).items()}, strict=False)
        assert_close(block(x), x, name=f"{name}(4) with zero parameters (only the skip connection is left)")


@pytest.mark.points(1)
def test_model_shapes(student):
    """PixelCNN, VAEEncoder and both decoders return the documented shapes; Gaussian means lie in [0, 1]."""
    x = (torch.rand(2, 1, 28, 28) < 0.5).float()
    z = torch.randn(2, 49)
    shaped(student.models.PixelCNN(4, 1)(x), (2, 1, 28, 28), "PixelCNN logits")
    result = outputs(student.models.VAEEncoder(4, 1)(x, z))
    for value, name, shape in zip(result, ("z", "logqzx", "mu", "logvar"), ((2, 49), (2,), (2, 49), (2, 49))):
        shaped(value, shape, f"VAEEncoder {name}")
    means = shaped(student.models.GaussianVAEDecoder(4, 1)(z), (2, 1, 28, 28), "GaussianVAEDecoder means")
    assert bool(((means >= 0) & (means <= 1)).all()), "GaussianVAEDecoder means must lie in [0, 1]"
    shaped(student.models.DiscreteVAEDecoder(4, 1)(z), (2, 1, 28, 28), "DiscreteVAEDecoder logits")


@pytest.mark.points(1)
def test_encoder_gaussian_hand_worked(student):
    """mu = 0.5, logvar = ln 4 everywhere: z = mu + 2 eps, and logqzx = 0.5 * sum(ln 4 + eps^2) (minus log q)."""
    encoder = constant_encoder(student, 0, {"mu.bias": 0.5, "var.bias": math.log(4)})
    x = torch.zeros(2, 1, 28, 28, dtype=F64)
    eps = torch.stack([torch.ones(49, dtype=F64), torch.zeros(49, dtype=F64)])  # image 1: eps = 0, so z = mu
    z, logqzx, mu, logvar = outputs(encoder(x, eps))
    assert_close(mu, torch.full((2, 49), 0.5, dtype=F64), name="mu")
    assert_close(logvar, torch.full((2, 49), math.log(4), dtype=F64), name="logvar")
    assert_close(z, torch.stack([torch.full((49,), 2.5, dtype=F64), torch.full((49,), 0.5, dtype=F64)]), name="z")
    assert_close(logqzx, torch.tensor([24.5 * (math.log(4) + 1), 24.5 * math.log(4)], dtype=F64), name="logqzx")


@pytest.mark.points(1)
def test_encoder_one_flow_hand_worked(student):
    """One flow with m = 0.3, s = 2 everywhere on z = 2.5: the affine or the gated update, log-det added to logqzx."""
    biases = {"mu.bias": 0.5, "var.bias": math.log(4), "flows.0.m.bias": 0.3, "flows.0.s.bias": 1.0}  # s = 1 + 1
    encoder = constant_encoder(student, 1, biases)
    z, logqzx, _, _ = outputs(encoder(torch.zeros(1, 1, 28, 28, dtype=F64), torch.ones(1, 49, dtype=F64)))
    base = 24.5 * (math.log(4) + 1)  # logqzx of z = 2.5 before the flow, as in the test above
    gate = 1 / (1 + math.exp(-2.0))
    updates = {"affine": (0.3 + 2 * 2.5, base + 49 * math.log(2)),  # z' = m + s z, logqzx + sum log|s|
               "gated": (gate * 2.5 + (1 - gate) * 0.3, base + 49 * math.log(gate))}  # + sum log sigmoid(s)
    z = shaped(z, (1, 49), "z")
    kind = min(updates, key=lambda k: abs(z[0, 0].item() - updates[k][0]))
    assert_close(z, torch.full((1, 49), updates[kind][0], dtype=F64),
                 name=f"z after the flow (the nearer allowed update is {kind})")
    assert_close(logqzx, torch.tensor([updates[kind][1]], dtype=F64),
                 name=f"logqzx after a {kind} flow (logqzx is MINUS log q: the log-determinant is added)")
