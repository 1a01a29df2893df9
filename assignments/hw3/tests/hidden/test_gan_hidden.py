"""Hidden tests for HW3 part 1 (gan.py): exact checks against the solution key, stability at extreme
logits, the gradient penalty's gradient, what moves in each step, and short training runs on a ring
of 8 Gaussians.

Exact checks build the same tiny networks from models.py on both sides (the key's weights are
loaded into the student's modules), hand both the same inputs, noise and interpolation weights,
and optimisers with the same settings (the student's made in the sandbox by the "optimizer"
probe), then compare losses and weights after the step in float64. Every seed was fixed in
advance and the key passes under it; the catalogue of wrong implementations these tests catch
is tests/assignments/hw3/gan_variants.py (with the training checks' calibration).
"""

from __future__ import annotations

import math

import pytest
import torch

from autograder.testing import assert_close

F64 = torch.float64
SGD = dict(kind="sgd", lr=0.1)
ADAM = dict(kind="adam", lr=1e-2, betas=[0.5, 0.9])
# Training checks (calibration in gan_variants.py): MLPs of width 64 and depth 2 on 8 Gaussians
# (radius 2, std 0.05); 2000 samples per run; a mode is covered when a quarter of its fair share
# of samples lies within 0.5 of its centre.
RING_DATA_SEED, RING_N = 123, 4096
GAN_RUN = dict(steps=500, batch_size=64, lr=4e-3, betas=[0.5, 0.999], seeds=(0, 1, 2))
WGAN_GP_RUN = dict(steps=250, batch_size=64, lr=5e-3, betas=[0.5, 0.9], seeds=(0, 1), n_critic=2, lam=0.1)
# pass: the runs cover at least 4 of the 8 modes on average. Measured (seeds 0-9 of the test's init): the key covers
# 8 in nine GAN runs and 3 in one (seed 4; correct variants that round differently follow the key seed by seed);
# WGAN-GP 5-8. Broken variants cover 0-2 on average. A mean, not a minimum, so one unlucky run does not fail a student.
MIN_MEAN_MODES = 4


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=generator(seed), dtype=F64)


def loss_value(value, name: str) -> float:
    assert isinstance(value, float), f"{name} must return a Python float (loss.item()), got {type(value).__name__}"
    return value


def pair(result, name: str) -> tuple:
    assert isinstance(result, (tuple, list)) and len(result) == 2, \
        f"{name} must return a tuple of two floats, got {type(result).__name__}"
    return loss_value(result[0], f"{name}[0]"), loss_value(result[1], f"{name}[1]")


def key_module(solution, cls: str, seed: int, std: float | None = None, dtype=F64, **sizes) -> torch.nn.Module:
    """The key's models.<cls>(**sizes), initialised from `seed` (PyTorch's init, or N(0, std^2) weights)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module = getattr(solution.models, cls)(**sizes).to(dtype)
        if std is not None:
            with torch.no_grad():
                for p in module.parameters():
                    p.normal_(0.0, std)
    return module


def student_copy(student, key: torch.nn.Module, cls: str, **sizes):
    """The student's models.<cls>(**sizes) holding the key module's weights."""
    module = getattr(student.models, cls)(**sizes)
    if next(key.parameters()).dtype == F64:
        module.double()
    module.load_state_dict(key.state_dict())
    return module


def networks(student, solution, seed: int, *, std: float | None = None, nz: int = 3, hidden: int = 8):
    """(student G, student D, key G, key D): MLPs of depth 2 on 2-D points, float64, same weights."""
    g_sizes, d_sizes = dict(nz=nz, hidden=hidden, out_dim=2, depth=2), dict(in_dim=2, hidden=hidden, depth=2)
    key_g = key_module(solution, "MLPGenerator", seed, std, **g_sizes)
    key_d = key_module(solution, "MLPCritic", seed + 1000, std, **d_sizes)
    return (student_copy(student, key_g, "MLPGenerator", **g_sizes), student_copy(student, key_d, "MLPCritic", **d_sizes),
            key_g, key_d)


def optimizers(student, module, key: torch.nn.Module, settings: dict):
    """The same optimiser over the student's module (made in the sandbox) and over the key's."""
    kind = settings["kind"]
    options = {k: v for k, v in settings.items() if k != "kind"}
    theirs = student.probe("optimizer", module, kind=kind, **options)
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    ours = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[kind](key.parameters(), **options)
    return theirs, ours


def assert_same_weights(module, key: torch.nn.Module, what: str) -> None:
    assert_close(module.state_dict(), key.state_dict(), name=f"{what} weights")


def assert_unchanged(module, before: dict, what: str) -> None:
    assert_close(module.state_dict(), before, name=f"{what} weights (must not change in this step)")


def batch(seed: int, n: int = 6, shift: float = 1.0) -> torch.Tensor:
    return randn(n, 2, seed=seed) + shift


# --- losses -------------------------------------------------------------------------------


@pytest.mark.points(3)
def test_gan_losses_exact(student, solution):
    """discriminator_loss and generator_loss match the solution on random logits of several shapes and dtypes."""
    for shape, seed in (((7,), 1), ((5, 1), 2), ((3, 4), 3)):
        real, fake = 3 * randn(*shape, seed=seed), 3 * randn(*shape, seed=seed + 50) - 1
        for dtype in (F64, torch.float32):
            r, f = real.to(dtype), fake.to(dtype)
            rtol = 1e-6 if dtype == F64 else 1e-5
            assert_close(student.gan.discriminator_loss(r, f), solution.gan.discriminator_loss(r, f), rtol=rtol,
                         name=f"discriminator loss of {dtype} logits {shape}")
            assert_close(student.gan.generator_loss(f), solution.gan.generator_loss(f), rtol=rtol,
                         name=f"generator loss of {dtype} logits {shape}")


@pytest.mark.points(2)
def test_gan_losses_stable(student, solution):
    """At logits of +-100, +-200 (float32) and +-800 (float64) the losses and their gradients are finite and right."""
    cases = ((torch.tensor([100.0, -100.0, 200.0, -200.0, 0.5]), 1e-5),
             (torch.tensor([800.0, -800.0, 100.0, -100.0, -0.5], dtype=F64), 1e-6))
    for logits, rtol in cases:
        what = f"{logits.dtype} logits {[round(v) for v in logits.tolist()]}"
        assert_close(student.gan.generator_loss(logits), solution.gan.generator_loss(logits), rtol=rtol,
                     name=f"generator loss of {what}")
        assert_close(student.gan.discriminator_loss(logits, logits.flip(0)),
                     solution.gan.discriminator_loss(logits, logits.flip(0)), rtol=rtol,
                     name=f"discriminator loss of {what}")
        one = torch.tensor(1.0, dtype=logits.dtype)
        gradient = student.probe("projected_gradient", student.gan.generator_loss, [logits], one)
        expected = -torch.sigmoid(-logits) / len(logits)  # d/df mean softplus(-f)
        assert_close(gradient, expected, rtol=rtol, name=f"gradient of the generator loss at {what}")


@pytest.mark.points(2)
def test_wasserstein_losses_exact(student, solution):
    """critic_loss and wgan_generator_loss match the solution on random scores (batches of different sizes)."""
    for n_real, n_fake, seed in ((7, 7, 4), (5, 9, 5)):
        real, fake = 2 * randn(n_real, seed=seed) + 1, randn(n_fake, seed=seed + 50)
        assert_close(student.gan.critic_loss(real, fake), solution.gan.critic_loss(real, fake), name="critic loss")
        assert_close(student.gan.wgan_generator_loss(fake), solution.gan.wgan_generator_loss(fake),
                     name="generator loss")


@pytest.mark.points(2)
def test_clip_weights_exact(student, solution):
    """clip_weights clamps every parameter of an MLP critic (weights and biases) to [-c, c], in place."""
    sizes = dict(in_dim=2, hidden=8, depth=2)
    for c, seed in ((0.05, 6), (0.3, 7)):
        key = key_module(solution, "MLPCritic", seed, std=0.5, **sizes)
        critic = student_copy(student, key, "MLPCritic", **sizes)
        student.gan.clip_weights(critic, c)
        solution.gan.clip_weights(key, c)
        assert_same_weights(critic, key, f"critic clipped to [-{c}, {c}]")


# --- gradient penalty ----------------------------------------------------------------------


def linear_critic(student, w: torch.Tensor, b: float):
    critic = student.models.MLPCritic(in_dim=w.numel(), depth=0)
    critic.double()
    critic.load_state_dict({"net.0.weight": w.view(1, -1), "net.0.bias": torch.tensor([b], dtype=F64)})
    return critic


@pytest.mark.points(2)
def test_gradient_penalty_linear_exact(student):
    """For linear critics (gradient w everywhere) the penalty is (||w|| - 1)^2 to 1e-12, for points and images."""
    for shape, seed in (((8, 2), 10), ((5, 3), 11), ((4, 2, 3, 3), 12)):
        real, fake = randn(*shape, seed=seed), randn(*shape, seed=seed + 1) + 2
        alpha = torch.rand(shape[0], *[1] * (len(shape) - 1), generator=generator(seed + 2), dtype=F64)
        dim = math.prod(shape[1:])
        for scale in (0.3, 1.0, 2.5):
            w = randn(dim, seed=seed + 3)
            w = scale * w / w.norm()  # ||w|| = scale
            got = student.gan.gradient_penalty(linear_critic(student, w, 0.7), real, fake, alpha)
            assert_close(got, torch.tensor((scale - 1) ** 2, dtype=F64), atol=1e-12,
                         name=f"penalty of a linear critic with ||w|| = {scale} on inputs {shape}")


@pytest.mark.points(3)
def test_gradient_penalty_exact(student, solution):
    """gradient_penalty of an MLP critic matches the solution on points (alpha (B, 1)) and images (alpha (B, 1, 1, 1))."""
    for shape, seed in (((9, 2), 20), ((6, 3, 2, 2), 21)):
        sizes = dict(in_dim=math.prod(shape[1:]), hidden=8, depth=2)
        key = key_module(solution, "MLPCritic", seed, std=0.6, **sizes)
        critic = student_copy(student, key, "MLPCritic", **sizes)
        real, fake = randn(*shape, seed=seed + 1), 2 * randn(*shape, seed=seed + 2) - 1
        alpha = torch.rand(shape[0], *[1] * (len(shape) - 1), generator=generator(seed + 3), dtype=F64)
        got = student.gan.gradient_penalty(critic, real, fake, alpha)
        assert_close(got, solution.gan.gradient_penalty(key, real, fake, alpha), name=f"penalty on inputs {shape}")


@pytest.mark.points(3)
def test_gradient_penalty_backpropagates(student, solution):
    """The penalty's gradient reaches the critic: a GP critic step where every fake equals its real sample
    (so the Wasserstein term has gradient 0) moves the weights by exactly -lr * lam * d(penalty)/d(weights)."""
    sizes = dict(in_dim=2, hidden=8, depth=2)
    key = key_module(solution, "MLPCritic", 30, std=0.6, **sizes)
    critic = student_copy(student, key, "MLPCritic", **sizes)
    identity = student.models.MLPGenerator(nz=2, out_dim=2, depth=0)  # G(z) = z
    identity.double()
    identity.load_state_dict({"net.0.weight": torch.eye(2, dtype=F64), "net.0.bias": torch.zeros(2, dtype=F64)})
    real = randn(8, 2, seed=31)
    alpha = torch.rand(8, 1, generator=generator(32), dtype=F64)
    lr, lam = 0.1, 10.0
    c_opt = student.probe("optimizer", critic, kind="sgd", lr=lr)
    loss = loss_value(student.gan.critic_gp_step(identity, critic, c_opt, real, real, alpha, lam=lam), "critic_gp_step")
    penalty = solution.gan.gradient_penalty(key, real, real, alpha)
    penalty.backward()
    with torch.no_grad():
        # the last bias does not change any gradient with respect to x: no penalty gradient (None)
        expected = {name: p - lr * lam * (0 if p.grad is None else p.grad) for name, p in key.named_parameters()}
    assert_close(loss, lam * penalty.item(), name="returned loss (lam * penalty: the Wasserstein term is 0 here)")
    assert_close(critic.state_dict(), expected, name="critic weights after the step (moved by the penalty's gradient)")


# --- GAN steps -----------------------------------------------------------------------------


@pytest.mark.points(3)
def test_discriminator_step_exact(student, solution):
    """discriminator_step matches the solution (loss and weights) with SGD and with Adam."""
    for settings, seed in ((SGD, 40), (ADAM, 41)):
        g, d, key_g, key_d = networks(student, solution, seed)
        d_opt, key_opt = optimizers(student, d, key_d, settings)
        real, noise = batch(seed + 1), randn(6, 3, seed=seed + 2)
        loss = loss_value(student.gan.discriminator_step(g, d, d_opt, real, noise), "discriminator_step")
        expected = solution.gan.discriminator_step(key_g, key_d, key_opt, real, noise)
        assert_close(loss, expected, name=f"returned loss ({settings['kind']})")
        assert_same_weights(d, key_d, f"discriminator ({settings['kind']})")


@pytest.mark.points(2)
def test_discriminator_step_leaves_generator_alone(student, solution):
    """In discriminator_step the generator is a constant: its weights stay and it gets no gradient (while D moves)."""
    g, d, key_g, key_d = networks(student, solution, 42)
    d_opt = student.probe("optimizer", d, **ADAM)
    loss_value(student.gan.discriminator_step(g, d, d_opt, batch(43), randn(6, 3, seed=44)), "discriminator_step")
    after = d.state_dict()
    assert any(not torch.equal(after[name], value) for name, value in key_d.state_dict().items()), \
        "discriminator_step did not update the discriminator"  # a step that does nothing leaves G alone too
    assert_unchanged(g, key_g.state_dict(), "generator")
    leaked = [name for name, grad in student.probe("gradients", g).items()
              if grad is not None and bool((grad != 0).any())]
    assert leaked == [], ("the discriminator's loss reached the generator's parameters "
                          f"({', '.join(leaked)}): detach the fakes in the discriminator step")


@pytest.mark.points(3)
def test_generator_step_exact(student, solution):
    """generator_step matches the solution (loss and generator weights) with SGD and Adam; D does not move."""
    for settings, seed in ((SGD, 50), (ADAM, 51)):
        g, d, key_g, key_d = networks(student, solution, seed)
        g_opt, key_opt = optimizers(student, g, key_g, settings)
        noise = randn(6, 3, seed=seed + 2)
        loss = loss_value(student.gan.generator_step(g, d, g_opt, noise), "generator_step")
        expected = solution.gan.generator_step(key_g, key_d, key_opt, noise)
        assert_close(loss, expected, name=f"returned loss ({settings['kind']})")
        assert_same_weights(g, key_g, f"generator ({settings['kind']})")
        assert_same_weights(d, key_d, f"discriminator, unchanged by the generator step ({settings['kind']})")


@pytest.mark.points(2)
def test_gan_step_exact(student, solution):
    """Three gan_steps in a row (Adam: gradients left by one step must not leak into the next) match the solution."""
    g, d, key_g, key_d = networks(student, solution, 60)
    g_opt, key_g_opt = optimizers(student, g, key_g, ADAM)
    d_opt, key_d_opt = optimizers(student, d, key_d, dict(ADAM, lr=2e-2))
    for step in range(3):
        real, noise_d, noise_g = batch(61 + step), randn(6, 3, seed=71 + step), randn(5, 3, seed=81 + step)
        losses = pair(student.gan.gan_step(g, d, g_opt, d_opt, real, noise_d, noise_g), "gan_step")
        expected = solution.gan.gan_step(key_g, key_d, key_g_opt, key_d_opt, real, noise_d, noise_g)
        assert_close(losses, expected, name=f"(discriminator loss, generator loss) of step {step + 1}")
        assert_same_weights(d, key_d, f"discriminator after step {step + 1}")
        assert_same_weights(g, key_g, f"generator after step {step + 1}")


# --- WGAN ------------------------------------------------------------------------------------


@pytest.mark.points(3)
def test_critic_step_exact(student, solution):
    """critic_step (update, then clip) matches the solution with SGD and Adam; the generator stays."""
    for settings, seed, clip in ((dict(SGD, lr=0.5), 90, 0.1), (ADAM, 91, 0.3)):
        g, d, key_g, key_d = networks(student, solution, seed, std=0.4)
        d_opt, key_opt = optimizers(student, d, key_d, settings)
        real, noise = batch(seed + 1), randn(6, 3, seed=seed + 2)
        loss = loss_value(student.gan.critic_step(g, d, d_opt, real, noise, clip=clip), "critic_step")
        expected = solution.gan.critic_step(key_g, key_d, key_opt, real, noise, clip=clip)
        assert_close(loss, expected, name=f"returned loss ({settings['kind']})")
        assert_same_weights(d, key_d, f"critic ({settings['kind']}, clip {clip})")
        assert_same_weights(g, key_g, "generator (unchanged)")


@pytest.mark.points(1)
def test_critic_step_weights_within_clip(student, solution):
    """After each of several critic steps with a large learning rate, every weight lies in [-c, c]."""
    g, d, _, _ = networks(student, solution, 92, std=0.4)
    d_opt = student.probe("optimizer", d, kind="sgd", lr=2.0)
    for step in range(3):
        student.gan.critic_step(g, d, d_opt, batch(93 + step), randn(6, 3, seed=96 + step), clip=0.05)
        largest = max(value.abs().max().item() for value in d.state_dict().values())
        assert largest <= 0.05, f"after critic step {step + 1} a weight has |w| = {largest:.4f} > c = 0.05"


@pytest.mark.points(2)
def test_wgan_generator_step_exact(student, solution):
    """wgan_generator_step matches the solution (loss and generator weights) with SGD and Adam; D does not move."""
    for settings, seed in ((SGD, 100), (ADAM, 101)):
        g, d, key_g, key_d = networks(student, solution, seed)
        g_opt, key_opt = optimizers(student, g, key_g, settings)
        noise = randn(6, 3, seed=seed + 2)
        loss = loss_value(student.gan.wgan_generator_step(g, d, g_opt, noise), "wgan_generator_step")
        assert_close(loss, solution.gan.wgan_generator_step(key_g, key_d, key_opt, noise),
                     name=f"returned loss ({settings['kind']})")
        assert_same_weights(g, key_g, f"generator ({settings['kind']})")
        assert_same_weights(d, key_d, "critic (unchanged by the generator step)")


@pytest.mark.points(3)
def test_wgan_step_exact(student, solution):
    """wgan_step with n_critic = 3, then 1, matches the solution (every critic batch used, in order)."""
    g, d, key_g, key_d = networks(student, solution, 110, std=0.3)
    g_opt, key_g_opt = optimizers(student, g, key_g, ADAM)
    d_opt, key_d_opt = optimizers(student, d, key_d, dict(SGD, lr=0.3))
    for n_critic, seed in ((3, 111), (1, 121)):
        reals = [batch(seed + i, shift=float(i)) for i in range(n_critic)]
        noises = [randn(6, 3, seed=seed + 5 + i) for i in range(n_critic)]
        noise_g = randn(4, 3, seed=seed + 9)
        losses = pair(student.gan.wgan_step(g, d, g_opt, d_opt, reals, noises, noise_g, clip=0.2), "wgan_step")
        expected = solution.gan.wgan_step(key_g, key_d, key_g_opt, key_d_opt, reals, noises, noise_g, clip=0.2)
        assert_close(losses, expected, name=f"(last critic loss, generator loss) with n_critic = {n_critic}")
        assert_same_weights(d, key_d, f"critic after n_critic = {n_critic}")
        assert_same_weights(g, key_g, f"generator after n_critic = {n_critic}")


# --- WGAN-GP ---------------------------------------------------------------------------------


@pytest.mark.points(2)
def test_critic_gp_step_exact(student, solution):
    """critic_gp_step matches the solution (loss with the penalty, weights) with SGD and Adam, lam 10 and 0.5."""
    for settings, seed, lam in ((dict(SGD, lr=0.05), 130, 10.0), (ADAM, 131, 0.5)):
        g, d, key_g, key_d = networks(student, solution, seed, std=0.5)
        d_opt, key_opt = optimizers(student, d, key_d, settings)
        real, noise = batch(seed + 1), randn(6, 3, seed=seed + 2)
        alpha = torch.rand(6, 1, generator=generator(seed + 3), dtype=F64)
        loss = loss_value(student.gan.critic_gp_step(g, d, d_opt, real, noise, alpha, lam=lam), "critic_gp_step")
        expected = solution.gan.critic_gp_step(key_g, key_d, key_opt, real, noise, alpha, lam=lam)
        assert_close(loss, expected, name=f"returned loss ({settings['kind']}, lam {lam})")
        assert_same_weights(d, key_d, f"critic ({settings['kind']}, lam {lam})")
        assert_same_weights(g, key_g, "generator (unchanged)")


@pytest.mark.points(2)
def test_wgan_gp_step_exact(student, solution):
    """wgan_gp_step with n_critic = 2 matches the solution (losses, both networks' weights)."""
    g, d, key_g, key_d = networks(student, solution, 140, std=0.5)
    g_opt, key_g_opt = optimizers(student, g, key_g, ADAM)
    d_opt, key_d_opt = optimizers(student, d, key_d, ADAM)
    reals = [batch(141), batch(142, shift=-1.0)]
    noises = [randn(6, 3, seed=143), randn(6, 3, seed=144)]
    alphas = [torch.rand(6, 1, generator=generator(s), dtype=F64) for s in (145, 146)]
    noise_g = randn(5, 3, seed=147)
    losses = pair(student.gan.wgan_gp_step(g, d, g_opt, d_opt, reals, noises, alphas, noise_g), "wgan_gp_step")
    expected = solution.gan.wgan_gp_step(key_g, key_d, key_g_opt, key_d_opt, reals, noises, alphas, noise_g)
    assert_close(losses, expected, name="(last critic loss, generator loss)")
    assert_same_weights(d, key_d, "critic")
    assert_same_weights(g, key_g, "generator")


# --- training on a ring of 8 Gaussians ----------------------------------------------------------


def ring_run(student, solution, method: str, run: dict, seed: int) -> tuple[int, float]:
    """Train fresh MLPs (float32, PyTorch's init from `seed`) with the student's `train`; (modes covered, good share)."""
    data = solution.gan.ring_of_gaussians(RING_N, generator(RING_DATA_SEED))
    g_sizes, d_sizes = dict(nz=2, hidden=64, out_dim=2, depth=2), dict(in_dim=2, hidden=64, depth=2)
    g = student_copy(student, key_module(solution, "MLPGenerator", seed, dtype=torch.float32, **g_sizes),
                     "MLPGenerator", **g_sizes)
    d = student_copy(student, key_module(solution, "MLPCritic", seed + 1000, dtype=torch.float32, **d_sizes),
                     "MLPCritic", **d_sizes)
    adam = dict(kind="adam", lr=run["lr"], betas=run["betas"])
    g_opt, d_opt = student.probe("optimizer", g, **adam), student.probe("optimizer", d, **adam)
    options = dict(n_critic=run["n_critic"], lam=run["lam"]) if method == "wgan_gp" else {}
    student.gan.train(method, g, d, g_opt, d_opt, data, steps=run["steps"], batch_size=run["batch_size"],
                      seed=seed, **options)
    samples = g(torch.randn(2000, 2, generator=generator(999)))
    assert isinstance(samples, torch.Tensor) and tuple(samples.shape) == (2000, 2), "the generator's samples"
    assert bool(torch.isfinite(samples).all()), f"{method} (seed {seed}): the generator's samples are NaN or inf"
    return solution.gan.mode_coverage(samples, within=0.5)


@pytest.mark.points(2)
@pytest.mark.time_limit(40)
def test_training_gan_covers_the_ring(student, solution):
    """500 GAN steps on 8 Gaussians on a ring, 3 runs: on average they cover at least 4 of the 8 modes."""
    covered = [ring_run(student, solution, "gan", GAN_RUN, seed)[0] for seed in GAN_RUN["seeds"]]
    assert sum(covered) >= MIN_MEAN_MODES * len(covered), \
        f"GAN: modes covered in each run {covered}, expected at least {MIN_MEAN_MODES} of 8 on average"


@pytest.mark.points(2)
@pytest.mark.time_limit(40)
def test_training_wgan_gp_covers_the_ring(student, solution):
    """250 WGAN-GP steps (n_critic 2, lam 0.1) on 8 Gaussians on a ring, 2 runs: on average at least 4 of 8 modes."""
    covered = [ring_run(student, solution, "wgan_gp", WGAN_GP_RUN, seed)[0] for seed in WGAN_GP_RUN["seeds"]]
    assert sum(covered) >= MIN_MEAN_MODES * len(covered), \
        f"WGAN-GP: modes covered in each run {covered}, expected at least {MIN_MEAN_MODES} of 8 on average"
