"""Public tests for HW2 part 3 (flows.py): small cases whose answers were worked out by hand.

The hidden tests load the same random weights into your layers and the solution's and compare
them in float64, check every log-determinant against the autograd Jacobian, and check that
the bits/dim describe a proper density; passing these is necessary but not sufficient.
"""

import math

import pytest
import torch

from autograder.testing import assert_close

F64 = torch.float64


def f64(values) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def pair(result, name: str) -> tuple:
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        f"{name} must return a tuple of two tensors, got {type(result).__name__}"
    return tuple(result)


def zero_weights(module, **overrides: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every parameter of your module set to 0 (float64), except those given by name."""
    state = module.state_dict(keep_vars=True)
    assert isinstance(state, dict), "state_dict() did not return a dict"
    weights = {name: torch.zeros(tuple(value.shape), dtype=F64) for name, value in state.items()
               if isinstance(value, torch.Tensor) and value.requires_grad}  # parameters only, not buffers
    for name, value in overrides.items():
        assert name in weights, f"the module has no parameter {name!r} (see the docstring for its parameters)"
        weights[name] = value
    module.double()
    module.load_state_dict(weights, strict=False)  # buffers (a mask, if you keep one) stay as they are
    return weights


@pytest.mark.points(1)
def test_dequantize(student):
    """dequantize returns (x + u) / n_levels, for 8-bit and for binary pixels."""
    x = f64([[0.0, 1.0, 255.0]])
    u = f64([[0.0, 0.5, 0.99]])
    assert_close(student.flows.dequantize(x, u, 256), f64([[0.0, 1.5 / 256, 255.99 / 256]]), name="8-bit pixels")
    assert_close(student.flows.dequantize(f64([0.0, 1.0]), f64([0.25, 0.5]), 2), f64([0.125, 0.75]),
                 name="binary pixels")


@pytest.mark.points(1)
def test_logit_transform_by_hand(student):
    """logit_transform squashes y into [alpha, 1 - alpha], takes the logit and sums the log-derivatives per example."""
    y = f64([[[[0.0, 0.5]]], [[[0.5, 0.5]]]])  # (2, 1, 1, 2)
    v, log_det = pair(student.flows.logit_transform(y, 0.05), "logit_transform")
    low = math.log(0.05 / 0.95)  # y = 0 -> p = 0.05
    assert_close(v, f64([[[[low, 0.0]]], [[[0.0, 0.0]]]]), name="v with alpha = 0.05")
    d0 = math.log(0.9) - math.log(0.05) - math.log(0.95)  # log dv/dy at y = 0
    d1 = math.log(0.9) + 2 * math.log(2)  # at y = 0.5: p (1 - p) = 1/4
    assert_close(log_det, f64([d0 + d1, 2 * d1]), name="log_det with alpha = 0.05")
    _, log_det = pair(student.flows.logit_transform(y[1:], 0.0), "logit_transform")
    assert_close(log_det, f64([4 * math.log(2)]), name="log_det with alpha = 0 (plain logit)")


@pytest.mark.points(2)
def test_coupling_with_constant_net(student):
    """With only the last bias nonzero, s = tanh(bias) and t = bias act on the transformed half: y and log_det by hand."""
    x = torch.arange(32, dtype=F64).view(2, 1, 4, 4) / 10 - 1
    a, c = 0.5, -0.3  # net's output: channel 0 = raw log-scale a, channel 1 = shift c
    for parity in (0, 1):
        layer = student.flows.AffineCoupling(1, "checkerboard", parity, hidden=4)
        zero_weights(layer, **{"net.4.bias": f64([a, c])})
        y, log_det = pair(layer(x), "AffineCoupling.forward")
        i, j = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
        kept = ((i + j) % 2 == parity).view(1, 1, 4, 4)
        assert_close(y, torch.where(kept, x, x * math.exp(math.tanh(a)) + c), name=f"y (checkerboard, parity {parity})")
        assert_close(log_det, f64([8 * math.tanh(a)] * 2), name=f"log_det (checkerboard, parity {parity})")
        assert_close(layer.inverse(y), x, name=f"inverse(y) (checkerboard, parity {parity})")
    # channel mask on 2 channels: parity 0 keeps channel 0 and transforms channel 1 with raw_s[1], t[1]
    layer = student.flows.AffineCoupling(2, "channel", 0, hidden=4)
    zero_weights(layer, **{"net.4.bias": f64([0.1, a, 0.2, c])})
    x2 = x.view(2, 2, 4, 2)
    y, log_det = pair(layer(x2), "AffineCoupling.forward")
    expected = torch.stack([x2[:, 0], x2[:, 1] * math.exp(math.tanh(a)) + c], dim=1)
    assert_close(y, expected, name="y (channel mask, parity 0)")
    assert_close(log_det, f64([8 * math.tanh(a)] * 2), name="log_det (channel mask, parity 0)")


@pytest.mark.points(1)
def test_coupling_inverse(student):
    """inverse(forward(x)) gives x back (float64, random weights), and the kept half does not move."""
    layer = student.flows.AffineCoupling(1, "checkerboard", 0, hidden=8)
    layer.double()
    student.probe("reinitialize", layer, std=0.3, seed=1)
    x = torch.randn(3, 1, 6, 6, generator=torch.Generator().manual_seed(2), dtype=F64)
    y, _ = pair(layer(x), "AffineCoupling.forward")
    assert_close(layer.inverse(y), x, rtol=1e-10, atol=1e-10, name="inverse(forward(x))")
    i, j = torch.meshgrid(torch.arange(6), torch.arange(6), indexing="ij")
    kept = ((i + j) % 2 == 0)
    assert_close(y[:, 0][:, kept], x[:, 0][:, kept], rtol=0.0, atol=0.0, name="the kept half of y")


@pytest.mark.points(1)
def test_bits_per_dim_identity_flow(student):
    """A RealNVP whose weights are all 0 is the identity: bits/dim of binary pixels with u = 1/2, worked out by hand."""
    flow = student.flows.RealNVP(1, hidden=4, n_checkerboard=2, n_channel=2)
    zero_weights(flow)
    x = f64([[[[0.0, 1.0], [1.0, 0.0]]]])  # (1, 1, 2, 2): D = 4
    u = torch.full((1, 1, 2, 2), 0.5, dtype=F64)  # y = 1/4 or 3/4, p = 0.275 or 0.725, v = -L or L
    L = math.log(0.725 / 0.275)
    per_pixel = -0.5 * L**2 - 0.5 * math.log(2 * math.pi) + math.log(0.9) - math.log(0.275 * 0.725) - math.log(2)
    bits = student.flows.bits_per_dim(flow, x, u, 2, 0.05)
    assert_close(bits, f64([-per_pixel / math.log(2)]), name="bits per dimension")
