"""Hidden tests for HW2's graded checkpoints: a trained PixelCNN and a trained binary VAE, scored on the grader's data.

Graded only where grading.toml configures them ([assignments.hw2.checkpoints.pixelcnn] and
[assignments.hw2.checkpoints.vae]: file names, points, the score window, the evaluation
data); elsewhere these tests are left out. The weights are read in the grader without
unpickling anything, loaded into the student's own classes in the sandbox, and every
metric is computed here from raw outputs:
- PixelCNN: test NLL from its logits. Its causality is checked on the evaluation data
  itself: each image's pixels from a cut position on are flipped, and the logits up to
  and including the cut must not move (a model that peeks at the pixel it predicts, or
  at later ones, earns nothing).
- VAE: the importance-weighted NLL (k samples per image, noise drawn here). The encoder
  runs in one sandbox and the decoder in a fresh one, so nothing the encoder saw (a file,
  a cache) reaches the decoder; z and log q(z|x) are recomputed here from mu, logvar and
  the noise (with IAF flows, log q is checked against the Jacobian on some images).
"""

import re

import pytest
import torch
import torch.nn.functional as F

F64 = torch.float64
BATCH = 100  # images per call into the sandbox
CAUSALITY_ATOL = 1e-4  # float32 convolutions reorder sums; a leak moves logits by far more


def tensor(value, name: str, shape: tuple[int, ...]) -> torch.Tensor:
    assert isinstance(value, torch.Tensor), f"{name}: expected a tensor, got {type(value).__name__}"
    assert tuple(value.shape) == shape, f"{name}: expected shape {shape}, got {tuple(value.shape)}"
    assert value.is_floating_point(), f"{name}: expected floating-point values, got {value.dtype}"
    value = value.detach().to("cpu", F64)
    assert bool(torch.isfinite(value).all()), f"{name}: contains NaN or inf"
    return value


def blocks(weights: dict, prefix: str) -> int:
    """How many numbered sub-modules ``prefix.<i>.`` the weights hold (e.g. residual blocks)."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.")
    return len({m.group(1) for name in weights if (m := pattern.match(name))})


def parameter(weights: dict, name: str, ndim: int) -> torch.Tensor:
    assert name in weights and weights[name].dim() == ndim, \
        f"the weights have no {name!r} of {ndim} dimensions: were they saved from the given class's state_dict()?"
    return weights[name]


def evaluation_images(solution, checkpoint) -> torch.Tensor:
    """The grader's binary test images (N, 1, 28, 28) float32: a .amat file, or MNIST idx images binarised here."""
    path = checkpoint.data
    if path.suffix == ".amat":
        images = solution.mnist.read_amat(path).float()
    else:
        grey = solution.mnist.read_idx_images(path)
        seed = int(checkpoint.config.settings.get("seed", 0))
        images = solution.mnist.dynamic_binarize(grey, torch.Generator().manual_seed(seed))
    n = checkpoint.config.examples or len(images)
    return images[:n]


def load(module, weights: dict):
    module.load_state_dict(weights)  # strict: every name and shape must match the student's class
    module.eval()
    return module


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x | logits) per image, summed over pixels: (B,)."""
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


# --- PixelCNN --------------------------------------------------------------------------------


@pytest.mark.checkpoint("pixelcnn")
@pytest.mark.time_limit(900)
def test_pixelcnn_test_nll(student, solution, checkpoint, credit):
    """Your trained PixelCNN's test NLL (nats per image), computed by the grader from its logits on held-out images."""
    weights = checkpoint.weights()
    capacity, depth = parameter(weights, "embed.weight", 4).shape[0], blocks(weights, "resnet")
    model = load(student.models.PixelCNN(capacity, depth), weights)
    images = evaluation_images(solution, checkpoint)
    generator = torch.Generator().manual_seed(0)
    total = 0.0
    for start in range(0, len(images), BATCH):
        x = images[start : start + BATCH]
        shape = tuple(x.shape)
        logits = tensor(model(x), "logits", shape)
        # causality on these very images: flip every pixel from a random cut on
        cut = torch.randint(0, 784, (len(x), 1), generator=generator)  # raster position per image
        later = torch.arange(784).unsqueeze(0) >= cut  # (B, 784): the cut pixel and everything after it
        flipped = torch.where(later.view(shape), 1 - x, x)
        moved = (tensor(model(flipped), "logits", shape) - logits).abs().flatten(1)
        upto = torch.arange(784).unsqueeze(0) <= cut
        leak = moved[upto].max().item()
        assert leak <= CAUSALITY_ATOL * (1 + logits.abs().max().item()), \
            f"the logit of a pixel changed by {leak:.3g} when that pixel or later ones changed: a PixelCNN " \
            "may only look at the pixels before the one it predicts, so these weights earn nothing"
        total += -bernoulli_log_likelihood(logits, x.double()).sum().item()
    checkpoint.award(credit, total / len(images), f"test NLL on {len(images)} images (nats per image)")


# --- VAE -------------------------------------------------------------------------------------


def vae_shapes(weights: dict) -> tuple[dict, dict, dict, dict]:
    encoder = {k[len("encoder."):]: v for k, v in weights.items() if k.startswith("encoder.")}
    decoder = {k[len("decoder."):]: v for k, v in weights.items() if k.startswith("decoder.")}
    assert encoder and decoder and len(encoder) + len(decoder) == len(weights), \
        "save the VAE as one state_dict with keys 'encoder.<name>' and 'decoder.<name>', e.g. " \
        "{**{'encoder.' + k: v for k, v in encoder.state_dict().items()}, **{'decoder.' + k: ...}}"
    assert not any(k.startswith("pixelcnn.") for k in decoder), \
        "autoregressive decoders are not graded from checkpoints (their likelihood needs x inside the decoder)"
    enc = dict(capacity=parameter(encoder, "embed.weight", 4).shape[0], depth=blocks(encoder, "resnet"),
               flows=blocks(encoder, "flows"))
    if enc["flows"]:
        enc["flow_depth"] = blocks(encoder, "flows.0.resnet")
    dec = dict(capacity=parameter(decoder, "embed.weight", 2).shape[0] // 49, depth=blocks(decoder, "resnet"))
    return encoder, decoder, enc, dec


@pytest.mark.checkpoint("vae")
@pytest.mark.time_limit(1800)
def test_vae_importance_weighted_nll(student, solution, checkpoint, credit):
    """Your trained binary VAE's importance-weighted test NLL (nats per image), from encoder and decoder outputs."""
    encoder_weights, decoder_weights, enc, dec = vae_shapes(checkpoint.weights())
    k = int(checkpoint.config.settings.get("samples", 100))
    images = evaluation_images(solution, checkpoint)
    n = len(images)
    epsilon = torch.randn(k, n, 49, generator=torch.Generator().manual_seed(1))  # drawn here, never by the student

    encoder = load(student.models.VAEEncoder(**enc), encoder_weights)
    z = torch.empty(k, n, 49, dtype=F64)
    logqzx = torch.empty(k, n, dtype=F64)  # the course's convention: minus log q(z | x), without its constant
    for start in range(0, n, BATCH):
        x = images[start : start + BATCH]
        b = len(x)
        for j in range(k):
            eps = epsilon[j, start : start + b]
            zj, qj, mu, logvar = (tensor(v, name, shape) for v, name, shape in zip(
                encoder(x, eps), ("z", "logqzx", "mu", "logvar"), ((b, 49), (b,), (b, 49), (b, 49))))
            if enc["flows"] == 0:  # recomputed here: only mu and logvar are the student's
                zj = mu + torch.exp(logvar / 2) * eps.double()
                qj = 0.5 * (logvar + eps.double() ** 2).sum(1)
            z[j, start : start + b], logqzx[j, start : start + b] = zj, qj
    if enc["flows"] > 0:
        check_flow_densities(student, encoder, images, epsilon, logqzx)

    student.fresh_sandbox()  # the decoder never meets anything the encoder's process kept
    decoder = load(student.models.DiscreteVAEDecoder(**dec), decoder_weights)
    log_px_given_z = torch.empty(k, n, dtype=F64)
    for j in range(k):
        for start in range(0, n, BATCH):
            zj = z[j, start : start + BATCH]
            logits = tensor(decoder(zj.float()), "decoder logits", (len(zj), 1, 28, 28))
            log_px_given_z[j, start : start + BATCH] = bernoulli_log_likelihood(logits, images[start : start + BATCH].double())
    log_px = solution.losses.importance_weighted_bound(log_px_given_z, z, logqzx)  # (n,), the key's, in the grader
    checkpoint.award(credit, -log_px.mean().item(), f"importance-weighted test NLL, k = {k}, on {n} images (nats per image)")


def check_flow_densities(student, encoder, images, epsilon, logqzx, count: int = 4) -> None:
    """With IAF flows, log q(z|x) must be the change of variables of the noise: for a few images,
    logqzx = -log q = 0.5 |eps|^2 + log|det dz/d eps| (the constants left out on both sides)."""
    generator = torch.Generator().manual_seed(2)
    for index in torch.randperm(len(images), generator=generator)[:count].tolist():
        x, eps = images[index : index + 1], epsilon[0, index : index + 1].double()
        jacobian = student.probe("jacobian", encoder, eps.float(), before=[x])  # (1, 49, 1, 49)
        jacobian = tensor(jacobian, "dz/d epsilon", (1, 49, 1, 49))[0, :, 0]
        sign, logdet = torch.linalg.slogdet(jacobian)
        expected = 0.5 * (eps**2).sum() + logdet
        assert sign != 0 and abs(logqzx[0, index].item() - expected.item()) < 1e-2 * (1 + abs(expected.item())), \
            "log q(z|x) from your encoder's flows does not match the change of variables of its own z: " \
            "these weights earn nothing"
