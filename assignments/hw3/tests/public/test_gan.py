"""Public tests for HW3 part 1 (gan.py): small inputs whose answers were worked out by hand.

The networks come from models.py, with hand-picked weights: linear critics f(x) = w . x + b
and linear generators G(z) = A z + c (MLPCritic / MLPGenerator with depth 0), whose losses
and gradients can be written down. The hidden tests compare with the solution on random
networks and inputs, and train on a 2-D mixture, so passing these is necessary but not
sufficient.
"""

import math

import pytest
import torch

from autograder.testing import assert_close

F64 = torch.float64


def f64(*rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=F64)


def linear_critic(student, w, b: float = 0.0):
    """A student-side MLPCritic(depth=0) with weight w (D,) and bias b, in float64."""
    critic = student.models.MLPCritic(in_dim=len(w), depth=0)
    critic.double()
    critic.load_state_dict({"net.0.weight": f64(list(w)), "net.0.bias": f64(b)})
    return critic


def linear_generator(student, A, c):
    """A student-side MLPGenerator(depth=0): G(z) = A z + c, in float64."""
    A = f64(*A)
    generator = student.models.MLPGenerator(nz=A.shape[1], out_dim=A.shape[0], depth=0)
    generator.double()
    generator.load_state_dict({"net.0.weight": A, "net.0.bias": f64(*c)})
    return generator


def weights(module) -> dict:
    return {name: value.clone() for name, value in module.state_dict().items()}


def loss_value(value, name: str) -> float:
    assert isinstance(value, float), f"{name} must return a Python float (loss.item()), got {type(value).__name__}"
    return value


@pytest.mark.points(2)
def test_discriminator_loss_values(student):
    """discriminator_loss = mean softplus(-real) + mean softplus(fake), on logits 0 and +-log 3."""
    # softplus(0) = log 2 and softplus(-log 3) = log(4/3): each mean is (log 2 + log(4/3)) / 2
    real, fake = f64(0.0, math.log(3)), f64(0.0, -math.log(3))
    got = student.gan.discriminator_loss(real, fake)
    assert_close(got, torch.tensor(math.log(8 / 3), dtype=F64), name="discriminator loss")
    # D certain and right: the loss is 2 log(1 + e^-30), about 2e-13 (near 0, not negative)
    assert_close(student.gan.discriminator_loss(f64(30.0), f64(-30.0)), torch.tensor(2 * math.log1p(math.exp(-30)),
                 dtype=F64), name="discriminator loss when D is right")


@pytest.mark.points(2)
def test_generator_loss_values(student):
    """generator_loss is the non-saturating -mean log sigmoid(fake) = mean softplus(-fake)."""
    got = student.gan.generator_loss(f64(0.0, math.log(3)))  # softplus(0) = log 2, softplus(-log 3) = log(4/3)
    assert_close(got, torch.tensor(math.log(8 / 3) / 2, dtype=F64), name="generator loss")
    # the saturating loss E log(1 - sigmoid(f)) would be -log 2 at f = 0, not log 2
    assert_close(student.gan.generator_loss(f64(0.0)), torch.tensor(math.log(2), dtype=F64), name="loss at f = 0")


@pytest.mark.points(2)
def test_losses_stable_at_100(student):
    """At logits +-100 the losses are finite and exact: 50 for the generator, 100 for the discriminator."""
    for dtype in (torch.float32, F64):
        logits = torch.tensor([100.0, -100.0], dtype=dtype)  # -log sigmoid: 0 and 100
        assert_close(student.gan.generator_loss(logits), torch.tensor(50.0, dtype=dtype),
                     name=f"generator loss at logits (100, -100), {dtype}")
        got = student.gan.discriminator_loss(logits, -logits)  # real: 0 and 100, fake: 0 and 100
        assert_close(got, torch.tensor(100.0, dtype=dtype), name=f"discriminator loss at +-100, {dtype}")


@pytest.mark.points(1)
def test_wasserstein_losses_values(student):
    """critic_loss = mean(fake) - mean(real); wgan_generator_loss = -mean(fake)."""
    real, fake = f64(1.0, 2.0, 3.0), f64(0.0, 1.0)
    assert_close(student.gan.critic_loss(real, fake), torch.tensor(0.5 - 2.0, dtype=F64), name="critic loss")
    assert_close(student.gan.wgan_generator_loss(fake), torch.tensor(-0.5, dtype=F64), name="generator loss")


@pytest.mark.points(1)
def test_clip_weights(student):
    """clip_weights clamps weights and biases to [-c, c] in place and leaves the rest alone."""
    critic = linear_critic(student, [0.5, -0.02, -3.0], b=0.2)
    assert student.gan.clip_weights(critic, 0.1) is None, "clip_weights works in place and returns None"
    state = weights(critic)
    assert_close(state["net.0.weight"], f64([0.1, -0.02, -0.1]), name="clipped weight")
    assert_close(state["net.0.bias"], f64(0.1), name="clipped bias")


@pytest.mark.points(2)
def test_gradient_penalty_linear_critic(student):
    """A linear critic has gradient w everywhere, so the penalty is (||w|| - 1)^2 whatever alpha is."""
    real, fake = f64([1.0, 2.0], [3.0, -1.0], [0.0, 0.5]), f64([0.0, 0.0], [1.0, 1.0], [-2.0, 4.0])
    alpha = f64([0.0], [0.3], [1.0])  # (B, 1)
    for w, expected in (([3.0, 4.0], 16.0), ([0.6, 0.8], 0.0), ([0.0, 0.5], 0.25)):
        got = student.gan.gradient_penalty(linear_critic(student, w, b=1.0), real, fake, alpha)
        assert_close(got, torch.tensor(expected, dtype=F64), atol=1e-12, name=f"penalty with w = {w}")
    # images (B, 1, 2, 2), alpha (B, 1, 1, 1): the norm is over every pixel, ||(1, 1, 1, 1)|| = 2
    images = torch.arange(24, dtype=F64).view(6, 1, 2, 2)
    got = student.gan.gradient_penalty(linear_critic(student, [1.0] * 4), images[:3], images[3:],
                                       f64(0.5, 0.1, 0.9).view(3, 1, 1, 1))
    assert_close(got, torch.tensor(1.0, dtype=F64), atol=1e-12, name="penalty on images")


@pytest.mark.points(2)
def test_discriminator_step_by_hand(student):
    """One SGD step (lr 1) of a linear D from w = 0: w becomes (mean(real) - mean(fake)) / 2; G stays."""
    generator = linear_generator(student, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0])  # fake = noise
    critic = linear_critic(student, [0.0, 0.0])
    d_opt = student.probe("optimizer", critic, kind="sgd", lr=1.0)
    real, noise = f64([1.0, 2.0], [3.0, 0.0]), f64([0.0, 0.0], [-2.0, 2.0])  # means (2, 1) and (-1, 1)
    # every logit is 0: loss 2 log 2; d/dw = -mean(real)/2 + mean(fake)/2, d/db = -1/2 + 1/2 = 0
    loss = loss_value(student.gan.discriminator_step(generator, critic, d_opt, real, noise), "discriminator_step")
    assert_close(loss, 2 * math.log(2), name="returned loss (before the update)")
    state = weights(critic)
    assert_close(state["net.0.weight"], f64([1.5, 0.0]), name="discriminator weight after the step")
    assert_close(state["net.0.bias"], f64(0.0), name="discriminator bias after the step")
    g_state = weights(generator)
    assert_close(g_state["net.0.weight"], f64([1.0, 0.0], [0.0, 1.0]), name="generator weight (must not move)")


@pytest.mark.points(2)
def test_generator_step_by_hand(student):
    """One SGD step (lr 1) of a linear G from A = 0, c = 0 against D(x) = x1 - x2: c = w / 2, A = w mean(z)^T / 2."""
    generator = linear_generator(student, [[0.0, 0.0], [0.0, 0.0]], [0.0, 0.0])  # every fake is 0
    critic = linear_critic(student, [1.0, -1.0])
    g_opt = student.probe("optimizer", generator, kind="sgd", lr=1.0)
    noise = f64([2.0, 0.0], [0.0, 4.0])  # mean (1, 2)
    # logits 0: loss log 2; d loss / d fake_i = -sigmoid(0) w / B, so d/dc = -w / 2, d/dA = -w mean(z)^T / 2
    loss = loss_value(student.gan.generator_step(generator, critic, g_opt, noise), "generator_step")
    assert_close(loss, math.log(2), name="returned loss (before the update)")
    state = weights(generator)
    assert_close(state["net.0.bias"], f64(0.5, -0.5), name="generator bias after the step")
    assert_close(state["net.0.weight"], f64([0.5, 1.0], [-0.5, -1.0]), name="generator weight after the step")
    assert_close(weights(critic)["net.0.weight"], f64([1.0, -1.0]), name="critic weight (must not move)")


@pytest.mark.points(2)
def test_critic_step_clips_after_the_step(student):
    """A WGAN critic step (SGD, lr 0.1) moves w by -0.1 (mean(fake) - mean(real)), then clips to [-0.25, 0.25]."""
    generator = linear_generator(student, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0])  # fake = noise, not clipped
    critic = linear_critic(student, [0.2, -0.2])
    c_opt = student.probe("optimizer", critic, kind="sgd", lr=0.1)
    real, noise = f64([1.0, 2.0], [3.0, 0.0]), f64([0.0, 0.0], [-2.0, 2.0])  # means (2, 1) and (-1, 1)
    # loss w . (mean(fake) - mean(real)) = (0.2, -0.2) . (-3, 0) = -0.6; w -> (0.5, -0.2) -> clipped (0.25, -0.2)
    loss = loss_value(student.gan.critic_step(generator, critic, c_opt, real, noise, clip=0.25), "critic_step")
    assert_close(loss, -0.6, name="returned loss (before the update)")
    assert_close(weights(critic)["net.0.weight"], f64([0.25, -0.2]), name="critic weight after step and clipping")
    assert_close(weights(generator)["net.0.weight"], f64([1.0, 0.0], [0.0, 1.0]), name="generator weight")
