"""Hidden tests for HW2 part 2 (losses.py): exact checks against the solution key, the KL against
Monte Carlo, and the bounds in a linear-Gaussian model whose log p(x) is exact.

Exact checks feed the student's and the key's functions the same float64 inputs (and again
float32 inputs, compared in float64 with float32 tolerances); a float32 answer is accepted
everywhere with those tolerances. The Gaussian reconstruction is accepted with or without its
constant 0.5 log(2 pi sigma^2) per pixel. The linear-Gaussian model is z ~ N(0, I_2),
x | z ~ N(W z + b, sigma^2 I_5) with orthogonal columns in W, so that the exact posterior is a
diagonal Gaussian (the family of the encoder) and log p(x) = log N(x; b, W W^T + sigma^2 I).
Every seed below was fixed in advance and the key passes under it; the catalogue of wrong
implementations these tests catch is tests/assignments/hw2/losses_variants.py.
"""

import math

import pytest
import torch

from autograder.testing import GradingFailure, assert_close

F64 = torch.float64
F32_TOL = dict(rtol=1e-4, atol=1e-4)  # float32 round-off on sums of ~1000 terms of size ~1
SE = 4.0  # Monte Carlo checks allow this many standard errors


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=generator(seed), dtype=F64)


def scalar(value, name: str) -> torch.Tensor:
    assert isinstance(value, torch.Tensor), f"{name}: expected a tensor, got {type(value).__name__}"
    assert value.numel() == 1, f"{name}: expected a scalar (mean over the batch), got shape {tuple(value.shape)}"
    assert value.dtype.is_floating_point, f"{name}: expected a floating-point tensor, got {value.dtype}"
    return value.detach().reshape(())


def pair(result, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        f"{name} must return (reconstruction, divergence), got {type(result).__name__}"
    return scalar(result[0], f"{name} reconstruction"), scalar(result[1], f"{name} divergence")


def close(got: torch.Tensor, expected: torch.Tensor, float32: bool, name: str) -> None:
    """got vs expected in float64; float32 tolerances where the input or the answer was float32."""
    assert isinstance(got, torch.Tensor) and got.dtype.is_floating_point, \
        f"{name}: expected a floating-point tensor, got {getattr(got, 'dtype', type(got).__name__)}"
    tolerance = F32_TOL if float32 or got.dtype == torch.float32 else {}
    assert_close(got.detach().to(F64), expected.detach().to(F64), name=name, **tolerance)


def close_either(got: torch.Tensor, options: list[torch.Tensor], float32: bool, name: str) -> int:
    """got matches one of `options` (e.g. with and without a constant); returns which."""
    for i, option in enumerate(options[:-1]):
        try:
            close(got, option, float32, name)
            return i
        except GradingFailure:
            pass
    close(got, options[-1], float32, f"{name} (with or without its constant)")
    return len(options) - 1


def gaussian_constant(x: torch.Tensor, sigma: float) -> float:
    """0.5 log(2 pi sigma^2) per pixel, for one example of x (B, ...)."""
    return 0.5 * x[0].numel() * math.log(2 * math.pi * sigma**2)


def gaussian_inputs(shape: tuple, d: int, seed: int, dtype=F64):
    x1 = randn(*shape, seed=seed)
    x2 = x1 + 0.7 * randn(*shape, seed=seed + 1)
    mu = randn(shape[0], d, seed=seed + 2)
    logvar = 0.8 * randn(shape[0], d, seed=seed + 3)
    z = mu + (logvar / 2).exp() * randn(shape[0], d, seed=seed + 4)
    return tuple(t.to(dtype) for t in (x1, x2, z)), tuple(t.to(dtype) for t in (mu, logvar))


# --- linear-Gaussian model: log p(x) and the posterior are exact ---------------------------

class LinearGaussian:
    """z ~ N(0, I_d), x | z ~ N(W z + b, sigma^2 I_D), W = U diag(s) with orthonormal U."""

    def __init__(self, seed: int, d: int = 2, D: int = 5, sigma: float = 0.5):
        U, _ = torch.linalg.qr(randn(D, d, seed=seed))
        self.s = torch.linspace(2.0, 1.0, d, dtype=F64)
        self.W, self.b, self.sigma, self.d, self.D = U * self.s, randn(D, seed=seed + 1), sigma, d, D

    def sample(self, n: int, seed: int) -> torch.Tensor:
        z = randn(n, self.d, seed=seed)
        return z @ self.W.T + self.b + self.sigma * randn(n, self.D, seed=seed + 1)  # (n, D)

    def log_px(self, x: torch.Tensor) -> torch.Tensor:
        cov = self.W @ self.W.T + self.sigma**2 * torch.eye(self.D, dtype=F64)
        return torch.distributions.MultivariateNormal(self.b, cov).log_prob(x)  # (n,)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of the exact posterior p(z|x), (n, d) each: it is diagonal because W^T W is."""
        s2, v = self.s**2, self.sigma**2
        mu = (self.s / (v + s2)) * ((x - self.b) @ (self.W / self.s))
        return mu, (v / (v + s2)).log().expand_as(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.W.T + self.b  # the decoder's mean, (..., D)

    def log_lik(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z), summed over the D coordinates, (...)."""
        constant = 0.5 * self.D * math.log(2 * math.pi * self.sigma**2)
        return (-0.5 * (x - self.decode(z)) ** 2 / self.sigma**2).sum(-1) - constant

    def elbo(self, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """The exact ELBO of q = N(mu, diag(exp(logvar))), (n,): E_q log p(x|z) - KL(q || p(z))."""
        residual = ((x - self.decode(mu)) ** 2).sum(-1) + (self.s**2 * logvar.exp()).sum(-1)
        expected_log_lik = -0.5 * residual / self.sigma**2 - gaussian_constant(x[:1], self.sigma)
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(-1)
        return expected_log_lik - kl


def encoder_logqzx(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The course encoder's logqzx: MINUS log q(z|x) without its constant, summed over the last dim."""
    return 0.5 * (logvar + (z - mu) ** 2 / logvar.exp()).sum(-1)


# --- Gaussian ELBOs ----------------------------------------------------------------------


@pytest.mark.points(3)
def test_gaussian_elbo_exact(student, solution):
    """gaussian_elbo matches the key on images and vectors, several sigmas, float64 and float32."""
    for shape, d, sigma, seed in (((5, 1, 28, 28), 49, 0.7, 10), ((7, 10), 3, 1.6, 20), ((1, 4), 2, 0.25, 30)):
        for dtype in (F64, torch.float32):
            (x1, x2, z), (mu, logvar) = gaussian_inputs(shape, d, seed, dtype)
            rec, div = pair(student.losses.gaussian_elbo(x1, x2, z, sigma, mu, logvar), "gaussian_elbo")
            key_rec, key_div = solution.losses.gaussian_elbo(*(t.double() for t in (x1, x2, z)), sigma,
                                                             mu.double(), logvar.double())
            f32, what = dtype == torch.float32, f"{shape}, sigma {sigma}, {dtype}"
            close_either(rec, [key_rec, key_rec - gaussian_constant(x1, sigma)], f32, f"reconstruction ({what})")
            close(div, key_div, f32, f"divergence ({what})")


@pytest.mark.points(3)
def test_mc_gaussian_elbo_exact(student, solution):
    """mc_gaussian_elbo matches the key at the given z, float64 and float32."""
    for shape, d, sigma, seed in (((4, 1, 28, 28), 49, 0.9, 40), ((6, 8), 5, 1.3, 50)):
        for dtype in (F64, torch.float32):
            (x1, x2, z), (mu, logvar) = gaussian_inputs(shape, d, seed, dtype)
            rec, div = pair(student.losses.mc_gaussian_elbo(x1, x2, z, sigma, mu, logvar), "mc_gaussian_elbo")
            key_rec, key_div = solution.losses.mc_gaussian_elbo(*(t.double() for t in (x1, x2, z)), sigma,
                                                                mu.double(), logvar.double())
            f32, what = dtype == torch.float32, f"{shape}, sigma {sigma}, {dtype}"
            close_either(rec, [key_rec, key_rec - gaussian_constant(x1, sigma)], f32, f"reconstruction ({what})")
            close(div, key_div, f32, f"divergence ({what})")


@pytest.mark.points(3)
def test_gaussian_kl_vs_monte_carlo(student):
    """The closed-form KL agrees with the mean of 4000 Monte Carlo estimates (within 4 standard errors),
    and mc_gaussian_elbo's divergence over those 4000 draws is exactly their mean."""
    d, n = 8, 4000
    mu, logvar = 0.8 * randn(1, d, seed=60), -1.5 + 0.5 * randn(1, d, seed=61)  # q narrower than p, as in VAEs
    z = mu + (logvar / 2).exp() * randn(n, d, seed=62)  # (n, d) draws of q
    q = torch.distributions.Normal(mu, (logvar / 2).exp())
    p = torch.distributions.Normal(torch.zeros(d, dtype=F64), torch.ones(d, dtype=F64))
    estimates = (q.log_prob(z) - p.log_prob(z)).sum(1)  # (n,) log q(z) - log p(z), with every constant
    mean, se = estimates.mean().item(), estimates.std().item() / math.sqrt(n)
    x = torch.zeros(1, 3, dtype=F64)
    _, kl = pair(student.losses.gaussian_elbo(x, x, z[:1], 1.0, mu, logvar), "gaussian_elbo")
    assert abs(kl.item() - mean) < SE * se, \
        f"closed-form KL {kl.item():.4f} is more than {SE:g} standard errors from the mean of {n} Monte Carlo estimates"
    xs = torch.zeros(n, 3, dtype=F64)
    _, mc = pair(student.losses.mc_gaussian_elbo(xs, xs, z, 1.0, mu.expand(n, d), logvar.expand(n, d)),
                 "mc_gaussian_elbo")
    close(mc, estimates.mean(), False, f"mc_gaussian_elbo divergence averaged over {n} draws of z")


@pytest.mark.points(3)
def test_gaussian_elbo_bound(student):
    """Linear-Gaussian model: the ELBO with the exact posterior equals log p(x) at every z; with another
    q it matches the exact ELBO (10000 antithetic pairs of draws, 4 standard errors) and lies below log p(x)."""
    model = LinearGaussian(seed=70)
    x = model.sample(50, seed=71)  # (50, 5)
    mu, logvar = model.posterior(x)
    z = mu + (logvar / 2).exp() * randn(50, model.d, seed=73)
    rec, div = pair(student.losses.mc_gaussian_elbo(model.decode(z), x, z, model.sigma, mu, logvar),
                    "mc_gaussian_elbo")
    log_px = model.log_px(x).mean()
    constant = gaussian_constant(x, model.sigma)
    close_either(-(rec + div), [log_px, log_px + constant], False,
                 "-(reconstruction + divergence) with the exact posterior vs the mean log p(x)")
    # another q for one x: the mean over a batch of n draws is a Monte Carlo estimate of the ELBO;
    # antithetic pairs (eps, -eps) cancel the term linear in eps, leaving a small standard error
    n, one = 20_000, x[:1]
    m, lv = mu[:1] + 0.6, logvar[:1] + 1.0
    eps = randn(n // 2, model.d, seed=74)
    zs = m + (lv / 2).exp() * torch.cat([eps, -eps])
    rec, div = pair(student.losses.gaussian_elbo(model.decode(zs), one.expand(n, -1), zs, model.sigma,
                                                 m.expand(n, -1), lv.expand(n, -1)), "gaussian_elbo")
    pairs = model.log_lik(one, zs).view(2, n // 2).mean(0)  # (n / 2,) independent pair means
    se = pairs.std().item() / math.sqrt(n // 2)
    exact, bound = model.elbo(one, m, lv).item(), model.log_px(one).item()
    elbo = -(rec + div).item()
    if abs(elbo - constant - exact) < abs(elbo - exact):  # the reconstruction without its constant
        elbo -= constant
    assert abs(elbo - exact) < SE * se, f"ELBO {elbo:.4f} is more than {SE:g} standard errors from the exact ELBO"
    assert elbo < bound, f"ELBO {elbo:.4f} lies above log p(x)"


# --- Bernoulli ELBO ----------------------------------------------------------------------


@pytest.mark.points(3)
def test_discrete_output_elbo_exact(student, solution):
    """discrete_output_elbo matches the key on binary images, float64 and float32."""
    for B, seed in ((6, 80), (1, 90)):
        logits = 3 * randn(B, 1, 28, 28, seed=seed)
        x = (torch.rand(B, 1, 28, 28, generator=generator(seed + 1), dtype=F64) < 0.3).to(F64)
        z, logqzx = randn(B, 49, seed=seed + 2), 20 + 5 * randn(B, seed=seed + 3)
        for dtype in (F64, torch.float32):
            inputs = tuple(t.to(dtype) for t in (logits, x, z, logqzx))
            rec, div = pair(student.losses.discrete_output_elbo(*inputs), "discrete_output_elbo")
            key_rec, key_div = solution.losses.discrete_output_elbo(*(t.double() for t in inputs))
            f32 = dtype == torch.float32
            close(rec, key_rec, f32, f"reconstruction (batch {B}, {dtype})")
            close(div, key_div, f32, f"divergence (batch {B}, {dtype})")


@pytest.mark.points(2)
def test_discrete_output_elbo_large_logits(student, solution):
    """Logits of +-100 and +-500 (right and wrong predictions) give finite, correct losses, float32 and float64."""
    logits = 2 * randn(3, 1, 4, 4, seed=100)
    logits[:, :, 0] = torch.tensor([100.0, -100.0, 500.0, -500.0], dtype=F64)
    x = (torch.rand(3, 1, 4, 4, generator=generator(101), dtype=F64) < 0.5).to(F64)
    x[:, :, 0] = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]],
                              dtype=F64).view(3, 1, 4)
    z, logqzx = randn(3, 5, seed=102), randn(3, seed=103)
    key_rec, _ = solution.losses.discrete_output_elbo(logits, x, z, logqzx)
    for dtype in (torch.float32, F64):
        rec, _ = pair(student.losses.discrete_output_elbo(*(t.to(dtype) for t in (logits, x, z, logqzx))),
                      "discrete_output_elbo")
        assert bool(torch.isfinite(rec)), f"reconstruction is {rec.item()} for {dtype} logits of +-100 and +-500"
        close(rec, key_rec, dtype == torch.float32, f"reconstruction ({dtype})")


# --- importance weighting ----------------------------------------------------------------


@pytest.mark.points(3)
def test_iwae_exact(student, solution):
    """importance_weighted_bound matches the key for several k, with log-weights near -100 and near -1000."""
    for k, B, offset, seed in ((7, 5, -100.0, 110), (1, 3, -50.0, 120), (50, 4, -1000.0, 130)):
        log_px_given_z = offset + 10 * randn(k, B, seed=seed)
        z, logqzx = randn(k, B, 6, seed=seed + 1), 5 + randn(k, B, seed=seed + 2)
        expected = solution.losses.importance_weighted_bound(log_px_given_z, z, logqzx)
        for dtype in (F64, torch.float32):
            got = student.losses.importance_weighted_bound(*(t.to(dtype) for t in (log_px_given_z, z, logqzx)))
            assert isinstance(got, torch.Tensor), f"expected a tensor, got {type(got).__name__}"
            assert tuple(got.shape) == (B,), f"expected one value per example, shape ({B},), got {tuple(got.shape)}"
            close(got, expected, dtype == torch.float32, f"IWAE_{k} (log-weights near {offset:g}, {dtype})")


def iwae_samples(model: LinearGaussian, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, k: int, seed: int):
    """(log p(x|z), z, logqzx) of k draws of q for each x: (k, B), (k, B, d), (k, B)."""
    z = mu + (logvar / 2).exp() * randn(k, *mu.shape, seed=seed)
    return model.log_lik(x, z), z, encoder_logqzx(z, mu, logvar)


@pytest.mark.points(4)
def test_iwae_rises_to_log_px(student):
    """Linear-Gaussian model, 200 data points, q off the posterior: with the same noise the mean IWAE_k rises
    for k = 1, 10, 100, 1000, stays below log p(x), and IWAE_1000 is within 0.02 nats of it."""
    model = LinearGaussian(seed=140)
    x = model.sample(200, seed=141)
    mu, logvar = model.posterior(x)
    log_lik, z, logqzx = iwae_samples(model, x, mu + 0.6, logvar + 1.0, 1000, seed=143)
    log_px = model.log_px(x).mean().item()
    previous = -math.inf
    for k in (1, 10, 100, 1000):  # measured gaps to log p(x): 4.46, 0.39, 0.021, 0.0015
        got = student.losses.importance_weighted_bound(log_lik[:k], z[:k], logqzx[:k])
        assert isinstance(got, torch.Tensor) and tuple(got.shape) == (200,), \
            f"IWAE_{k}: expected a tensor of shape (200,), got {getattr(got, 'shape', type(got).__name__)}"
        value = got.to(F64).mean().item()
        assert math.isfinite(value), f"IWAE_{k} is not finite"
        assert value > previous + 1e-3, f"the mean IWAE_k does not rise with k: IWAE_{k} = {value:.4f}"
        assert value < log_px + 1e-3, f"IWAE_{k} = {value:.4f} lies above the mean log p(x)"
        previous = value
    assert previous > log_px - 0.02, f"IWAE_1000 = {previous:.4f} is more than 0.02 nats below the mean log p(x)"


@pytest.mark.points(2)
def test_iwae_exact_posterior(student):
    """With the exact posterior every weight is p(x): IWAE_k equals log p(x) for each example and k = 1, 5, 64."""
    model = LinearGaussian(seed=150, d=3, D=4, sigma=0.8)
    x = model.sample(20, seed=151)
    mu, logvar = model.posterior(x)
    log_lik, z, logqzx = iwae_samples(model, x, mu, logvar, 64, seed=153)
    for k in (1, 5, 64):
        got = student.losses.importance_weighted_bound(log_lik[:k], z[:k], logqzx[:k])
        assert isinstance(got, torch.Tensor), f"expected a tensor, got {type(got).__name__}"
        close(got, model.log_px(x), False, f"IWAE_{k} with the exact posterior vs log p(x)")
