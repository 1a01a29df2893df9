"""Hidden tests for HW2 part 3 (flows.py): exact checks against the solution key with the same weights,
log-determinants against the autograd Jacobian, invertibility, and bits/dim as a proper density.

Weights are drawn here (N(0, 0.3^2), float64, fixed seeds), loaded into the student's modules under
the documented parameter names and into the key's. Log-determinants are compared with slogdet of
the Jacobian that autograd computes from whatever the student's layer does (the "jacobian" probe),
on tiny images (16 dimensions), to 1e-10. The density check sums the probability the model gives
to every binary 2x2 image (alpha = 0, where dequantisation and the logit map onto all of R^4, so
the sum is exactly 1 for a correct model), integrating the noise u with 4096 scrambled Sobol
points (the key: 1.0007). The catalogue of wrong implementations these tests catch is
tests/assignments/hw2/flows_variants.py.
"""

import math

import pytest
import torch

from autograder.testing import assert_close

F64 = torch.float64
EXACT = dict(rtol=1e-10, atol=1e-10)
COUPLINGS = [(1, "checkerboard", 0), (1, "checkerboard", 1), (2, "checkerboard", 1), (2, "channel", 0),
             (4, "channel", 1)]  # (channels, mask, parity)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=generator(seed), dtype=F64)


def pair(result, name: str) -> tuple:
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        f"{name} must return a tuple of two tensors, got {type(result).__name__}"
    return tuple(result)


def tensor(value, name: str) -> torch.Tensor:
    assert isinstance(value, torch.Tensor), f"{name}: expected a tensor, got {type(value).__name__}"
    return value


def random_weights(key_module: torch.nn.Module, seed: int, std: float = 0.3) -> dict[str, torch.Tensor]:
    g = generator(seed)
    return {name: std * torch.randn(value.shape, generator=g, dtype=F64)
            for name, value in key_module.state_dict().items()}


def load(module, weights: dict[str, torch.Tensor], what: str):
    """Load `weights` into the student's module (handle), after checking its parameter names and shapes."""
    state = module.state_dict(keep_vars=True)
    assert isinstance(state, dict), f"{what}.state_dict() did not return a dict"
    have = {name: tuple(value.shape) for name, value in state.items()
            if isinstance(value, torch.Tensor) and value.requires_grad}  # parameters; buffers may differ
    want = {name: tuple(value.shape) for name, value in weights.items()}
    if have != want:
        wrong = [f"{name} {shape}" for name, shape in want.items() if have.get(name) != shape]
        extra = [f"{name} {shape}" for name, shape in have.items() if name not in want]
        raise AssertionError(f"{what} needs exactly the documented parameters; missing or of another shape: "
                             f"{', '.join(wrong) or 'none'}; not expected: {', '.join(extra) or 'none'}")
    module.double()
    module.load_state_dict(weights, strict=False)  # a mask buffer of the student's may stay
    module.eval()
    return module


def coupling_pair(student, solution, channels: int, mask: str, parity: int, seed: int, hidden: int = 8):
    key = solution.flows.AffineCoupling(channels, mask, parity, hidden).double()
    weights = random_weights(key, seed)
    key.load_state_dict(weights)
    return load(student.flows.AffineCoupling(channels, mask, parity, hidden), weights, "AffineCoupling"), key


def flow_pair(student, solution, seed: int, **config):
    key = solution.flows.RealNVP(**config).double()
    weights = random_weights(key, seed)
    key.load_state_dict(weights)
    return load(student.flows.RealNVP(**config), weights, "RealNVP"), key


def slogdet_of_jacobian(student, function, x: torch.Tensor) -> torch.Tensor:
    """log |det J| of the student's function at x (1, C, H, W), from autograd in the sandbox."""
    D = x.numel()
    jacobian = tensor(student.probe("jacobian", function, x), "Jacobian")
    assert jacobian.numel() == D * D, f"the output has another size than the input: Jacobian of shape {jacobian.shape}"
    sign, logabsdet = torch.linalg.slogdet(jacobian.reshape(D, D).to(F64))
    assert sign.item() != 0, "the Jacobian is singular: the layer is not invertible"
    return logabsdet.reshape(1)


# --- the coupling layer ------------------------------------------------------------------


@pytest.mark.points(3)
def test_coupling_exact(student, solution):
    """AffineCoupling matches the key with the same weights: y, log_det and inverse, for both masks and parities."""
    for n, (channels, mask, parity) in enumerate(COUPLINGS):
        layer, key = coupling_pair(student, solution, channels, mask, parity, seed=10 + n)
        x = randn(3, channels, 6, 4, seed=20 + n)
        y, log_det = pair(layer(x), "AffineCoupling.forward")
        key_y, key_log_det = key(x)
        what = f"{mask} mask, parity {parity}, {channels} channels"
        assert_close(y, key_y, name=f"y ({what})")
        assert_close(log_det, key_log_det, name=f"log_det ({what})")
        target = randn(3, channels, 6, 4, seed=30 + n)
        assert_close(layer.inverse(target), key.inverse(target), name=f"inverse ({what})")


@pytest.mark.points(2)
def test_coupling_inverse_round_trip(student, solution):
    """inverse(forward(x)) == x and forward(inverse(y)) == y to 1e-10, for both masks and parities."""
    for n, (channels, mask, parity) in enumerate(COUPLINGS):
        layer, _ = coupling_pair(student, solution, channels, mask, parity, seed=40 + n)
        x = 2 * randn(2, channels, 4, 6, seed=50 + n)
        y, _ = pair(layer(x), "AffineCoupling.forward")
        what = f"{mask} mask, parity {parity}, {channels} channels"
        assert_close(layer.inverse(y), x, name=f"inverse(forward(x)) ({what})", **EXACT)
        y, _ = pair(layer(layer.inverse(x)), "AffineCoupling.forward")
        assert_close(y, x, name=f"forward(inverse(y)) ({what})", **EXACT)


@pytest.mark.points(2)
def test_coupling_log_det_jacobian(student, solution):
    """The returned log_det equals log |det| of the autograd Jacobian of the layer (1 x C x 4 x 4 inputs)."""
    for n, (channels, mask, parity) in enumerate(COUPLINGS):
        layer, _ = coupling_pair(student, solution, channels, mask, parity, seed=60 + n)
        x = randn(1, channels, 4, 4, seed=70 + n)
        _, log_det = pair(layer(x), "AffineCoupling.forward")
        assert_close(tensor(log_det, "log_det").reshape(1), slogdet_of_jacobian(student, layer, x),
                     name=f"log_det vs log |det J| ({mask} mask, parity {parity}, {channels} channels)", **EXACT)


@pytest.mark.points(2)
def test_coupling_masked_half(student, solution):
    """The kept half passes through exactly (its Jacobian rows are unit rows), and the transformed half
    depends on the kept half (the coupling is not a plain elementwise map)."""
    for n, (channels, mask, parity) in enumerate(COUPLINGS):
        layer, _ = coupling_pair(student, solution, channels, mask, parity, seed=80 + n)
        x = randn(1, channels, 4, 4, seed=90 + n)
        b = solution.flows.coupling_mask(x, mask, parity).expand_as(x).reshape(-1).bool()  # (D,) kept
        y, _ = pair(layer(x), "AffineCoupling.forward")
        what = f"{mask} mask, parity {parity}, {channels} channels"
        assert_close(tensor(y, "y").reshape(-1)[b], x.reshape(-1)[b], rtol=0.0, atol=0.0, name=f"kept half of y ({what})")
        D = x.numel()
        jacobian = tensor(student.probe("jacobian", layer, x), "Jacobian").reshape(D, D).to(F64)
        assert_close(jacobian[b], torch.eye(D, dtype=F64)[b], rtol=0.0, atol=0.0,
                     name=f"Jacobian rows of the kept half ({what})")
        coupled = jacobian[~b][:, b].abs().max().item()
        assert coupled > 1e-3, f"{what}: the transformed half does not depend on the kept half"


# --- logit transform ---------------------------------------------------------------------


@pytest.mark.points(2)
def test_logit_transform_exact(student, solution):
    """logit_transform matches the key for alpha = 0.05, 1e-3 and 0; its log_det equals the autograd Jacobian's."""
    y = torch.rand(3, 2, 5, 5, generator=generator(100), dtype=F64) * 0.98 + 0.01
    y[0, 0, 0, :2] = torch.tensor([0.0, 0.999], dtype=F64)
    for alpha in (0.05, 1e-3, 0.0):
        inputs = y[1:] if alpha == 0.0 else y  # alpha = 0 needs y strictly inside (0, 1)
        v, log_det = pair(student.flows.logit_transform(inputs, alpha), "logit_transform")
        key_v, key_log_det = solution.flows.logit_transform(inputs, alpha)
        assert_close(v, key_v, name=f"v (alpha = {alpha:g})")
        assert_close(log_det, key_log_det, name=f"log_det (alpha = {alpha:g})")
    one = y[1:2, :1, :3, :3]  # (1, 1, 3, 3): the probe uses the default alpha, 0.05
    _, log_det = pair(student.flows.logit_transform(one), "logit_transform")
    assert_close(tensor(log_det, "log_det").reshape(1), slogdet_of_jacobian(student, student.flows.logit_transform, one),
                 name="log_det vs log |det J| (default alpha)", **EXACT)


# --- the flow ----------------------------------------------------------------------------


@pytest.mark.points(2)
def test_flow_exact(student, solution):
    """RealNVP with the key's weights: z, log_det, inverse and log_prob match the key."""
    config = dict(channels=1, hidden=8, n_checkerboard=3, n_channel=2)
    flow, key = flow_pair(student, solution, seed=110, **config)
    x = randn(3, 1, 6, 8, seed=111)
    z, log_det = pair(flow(x), "RealNVP.forward")
    key_z, key_log_det = key(x)
    assert_close(z, key_z, name="z")
    assert_close(log_det, key_log_det, name="log_det")
    target = randn(3, 1, 6, 8, seed=112)
    assert_close(flow.inverse(target), key.inverse(target), name="inverse")
    assert_close(flow.log_prob(x), key.log_prob(x), name="log_prob")


@pytest.mark.points(2)
def test_flow_log_det_jacobian(student, solution):
    """RealNVP: inverse(forward(x)) == x, and log_det equals log |det| of the autograd Jacobian (1 x 1 x 4 x 4)."""
    flow, _ = flow_pair(student, solution, seed=120, channels=1, hidden=8, n_checkerboard=2, n_channel=3)
    x = randn(1, 1, 4, 4, seed=121)
    z, log_det = pair(flow(x), "RealNVP.forward")
    assert_close(flow.inverse(z), x, name="inverse(forward(x))", **EXACT)
    assert_close(tensor(log_det, "log_det").reshape(1), slogdet_of_jacobian(student, flow, x),
                 name="log_det vs log |det J|", **EXACT)


# --- bits per dimension ------------------------------------------------------------------


@pytest.mark.points(2)
def test_bits_per_dim_exact(student, solution):
    """bits_per_dim matches the key with the same weights: binary 28 x 28 images and 8-bit 8 x 8 images."""
    flow, key = flow_pair(student, solution, seed=130, channels=1, hidden=8, n_checkerboard=2, n_channel=2)
    g = generator(131)
    binary = (torch.rand(2, 1, 28, 28, generator=g, dtype=F64) < 0.2).to(F64)
    eight_bit = torch.randint(0, 256, (3, 1, 8, 8), generator=g).to(F64)
    for x, n_levels, alpha in ((binary, 2, 0.05), (eight_bit, 256, 0.05), (eight_bit, 256, 0.01)):
        u = torch.rand(x.shape, generator=g, dtype=F64)
        got = student.flows.bits_per_dim(flow, x, u, n_levels, alpha)
        assert_close(got, solution.flows.bits_per_dim(key, x, u, n_levels, alpha),
                     name=f"bits/dim ({n_levels} levels, alpha = {alpha:g})")


@pytest.mark.points(2)
def test_bits_per_dim_density(student, solution):
    """The model is a proper density on binary 2 x 2 images: sum over all 16 images of E_u[2^(-D bits/dim)] is 1."""
    flow, _ = flow_pair(student, solution, seed=140, channels=1, hidden=4, n_checkerboard=2, n_channel=2)
    M = 4096
    images = torch.cartesian_prod(*[torch.tensor([0.0, 1.0], dtype=F64)] * 4).view(16, 1, 2, 2)
    u = torch.quasirandom.SobolEngine(4, scramble=True, seed=141).draw(M, dtype=F64).view(M, 1, 2, 2)
    u = u.clamp(1e-12, 1 - 1e-12)  # alpha = 0: y must lie strictly inside (0, 1)
    bits = tensor(student.flows.bits_per_dim(flow, images.repeat_interleave(M, 0), u.repeat(16, 1, 1, 1), 2, 0.0),
                  "bits/dim")
    assert tuple(bits.shape) == (16 * M,), f"expected one value per image, shape ({16 * M},), got {tuple(bits.shape)}"
    probability = torch.exp2(-4 * bits.to(F64)).view(16, M).mean(1)  # (16,) P(x) of each image
    total = probability.sum().item()
    assert math.isfinite(total) and abs(total - 1) < 0.02, \
        f"the probabilities of all 16 binary 2 x 2 images sum to {total:.4f}, not 1"
