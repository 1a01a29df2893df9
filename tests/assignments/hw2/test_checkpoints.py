"""hw2's graded checkpoints end to end: trained weights score by the windows, leaky or cheating models earn
nothing, hostile files are refused without running.

The committed grading.toml configures no checkpoints (no weights are committed); these tests
grade with a copy of hw2's settings that configures both, on generated "stripe" images
(each row all 0 or all 1: entropy 28 ln 2 = 19.41 nats per image) written as a binarized
MNIST .amat file. The weights are made here with the solution key's own classes.
"""

from __future__ import annotations

import math
import pickle
import shutil
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from autograder.config import CheckpointConfig, load_config
from autograder.grade import grade
from tests.conftest import REPO, Hostile, import_homework

COURSE = load_config(REPO / "grading.toml")
KEY = REPO / "solutions" / "hw2"
ENTROPY = 28 * math.log(2)
models, mnist = import_homework("hw2", "models"), import_homework("hw2", "mnist")


def stripes(n: int, seed: int) -> torch.Tensor:
    rows = torch.randint(0, 2, (n, 1, 28, 1), generator=torch.Generator().manual_seed(seed)).float()
    return rows.expand(n, 1, 28, 28).contiguous()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """hw2 with both checkpoints configured, on 200 held-out stripe images."""
    root = tmp_path_factory.mktemp("data")
    mnist.write_amat(root / "binarized_mnist_test.amat", stripes(200, seed=1))
    data = root / "binarized_mnist_test.amat"
    checkpoints = (
        CheckpointConfig(name="pixelcnn", files=("pixelcnn.safetensors", "pixelcnn.pt"), points=10,
                         full=ENTROPY + 3, zero=ENTROPY + 100, data=data),
        CheckpointConfig(name="vae", files=("vae.safetensors", "vae.pt"), points=10, full=100.0, zero=600.0,
                         data=data, examples=40, settings={"samples": 8}),
    )
    return replace(COURSE.assignment("hw2"), checkpoints=checkpoints)


@pytest.fixture(scope="module")
def trained_pixelcnn() -> dict[str, torch.Tensor]:
    """A small PixelCNN trained on stripes (the key's class): about 20.8 nats per image, near the entropy
    (measured: 7 s on one thread; more threads only fight the other processes of a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = models.PixelCNN(capacity=8, depth=1)
        images = stripes(4096, seed=0)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        generator = torch.Generator().manual_seed(0)
        for _ in range(150):
            batch = images[torch.randint(len(images), (32,), generator=generator)]
            loss = F.binary_cross_entropy_with_logits(model(batch), batch, reduction="sum") / len(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return model.state_dict()


def submission(tmp_path, weights: dict[str, dict], models_text: str | None = None):
    folder = tmp_path / "submission"
    folder.mkdir()
    for name in COURSE.assignment("hw2").files:
        shutil.copy(KEY / name, folder / name)
    if models_text is not None:
        (folder / "models.py").write_text(models_text)
    for name, state in weights.items():
        save_file({k: v.contiguous() for k, v in state.items()}, folder / name)
    return folder


def graded(course, folder, tmp_path, check_results) -> dict[str, dict]:
    out = tmp_path / "results.json"
    grade(course, folder, out=out, solution_dir=KEY, select=["test_checkpoints_hidden.py"])
    data = check_results(out)
    return {t["name"].split("::")[1]: t for t in data["tests"]}


@pytest.mark.slow
def test_trained_pixelcnn_full_marks_untrained_none(course, trained_pixelcnn, tmp_path, check_results):
    tests = graded(course, submission(tmp_path, {"pixelcnn.safetensors": trained_pixelcnn}), tmp_path, check_results)
    pixelcnn = tests["test_pixelcnn_test_nll"]
    assert pixelcnn["score"] == pixelcnn["max_score"] == 10, pixelcnn["output"]
    nll = float(pixelcnn["output"].split("(nats per image): ")[1].split(";")[0])
    assert ENTROPY - 0.05 < nll < ENTROPY + 3  # never below the entropy: the data's own floor
    assert tests["test_vae_importance_weighted_nll"]["score"] == 0  # no vae.safetensors handed in
    assert "hand in vae.safetensors or vae.pt" in tests["test_vae_importance_weighted_nll"]["output"]

    untrained = models.PixelCNN(capacity=8, depth=1).state_dict()  # logits near 0: 784 ln 2 = 543 nats
    (tmp_path / "again").mkdir()
    tests = graded(course, submission(tmp_path / "again", {"pixelcnn.safetensors": untrained}), tmp_path,
                   check_results)
    assert tests["test_pixelcnn_test_nll"]["score"] == 0 and "543" in tests["test_pixelcnn_test_nll"]["output"]


@pytest.mark.slow
def test_a_pixelcnn_that_sees_its_pixel_earns_nothing(course, trained_pixelcnn, tmp_path, check_results):
    """A first layer of type B, and weights that use the centre it lets through (as training it would)."""
    key_text = (REPO / "assignments" / "hw2" / "models.py").read_text()
    first_layer = 'self.embed = MaskedConv2d("A", 1, capacity, 9, padding=4, bias=False)'
    assert key_text.count(first_layer) == 1
    leaky = key_text.replace(first_layer, first_layer.replace('"A"', '"B"'))
    weights = dict(trained_pixelcnn)
    weights["embed.mask"] = weights["embed.mask"].clone()
    weights["embed.mask"][..., 4, 4] = 1.0  # the saved mask is the leaky model's own
    weights["embed.weight"] = weights["embed.weight"].clone()
    weights["embed.weight"][..., 4, 4] = 1.0
    tests = graded(course, submission(tmp_path, {"pixelcnn.safetensors": weights}, leaky), tmp_path, check_results)
    assert tests["test_pixelcnn_test_nll"]["score"] == 0
    assert "earn nothing" in tests["test_pixelcnn_test_nll"]["output"]


def _vae_weights(seed: int, flows: int = 0) -> tuple[dict, models.VAEEncoder, models.DiscreteVAEDecoder]:
    torch.manual_seed(seed)
    encoder = models.VAEEncoder(capacity=8, depth=1, flows=flows, flow_depth=1)
    decoder = models.DiscreteVAEDecoder(capacity=8, depth=1)
    with torch.no_grad():  # weights that make the NLL differ from the prior's
        for p in [*encoder.parameters(), *decoder.parameters()]:
            p.normal_(0.0, 0.1)
    state = {**{f"encoder.{k}": v for k, v in encoder.state_dict().items()},
             **{f"decoder.{k}": v for k, v in decoder.state_dict().items()}}
    return state, encoder.eval(), decoder.eval()


def _expected_vae_nll(course, encoder, decoder) -> float:
    """The importance-weighted NLL computed here with the key's classes, the way the test draws its noise."""
    vae = course.checkpoint("vae")
    images = mnist.read_amat(vae.data).float()[: vae.examples]
    k = vae.settings["samples"]
    epsilon = torch.randn(k, len(images), 49, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        log_w = []
        for j in range(k):
            z, logqzx, _, _ = encoder(images, epsilon[j])
            log_px_z = -F.binary_cross_entropy_with_logits(decoder(z), images, reduction="none").flatten(1).sum(1)
            log_w.append(log_px_z - 0.5 * (z**2).sum(1) + logqzx)
    return -(torch.logsumexp(torch.stack(log_w).double(), 0) - math.log(k)).mean().item()


@pytest.mark.slow
def test_vae_scores_by_the_window_and_a_decoder_that_reads_x_gains_nothing(course, tmp_path, check_results):
    state, encoder, decoder = _vae_weights(seed=0)
    expected = _expected_vae_nll(course, encoder, decoder)
    window = course.checkpoint("vae")
    assert window.full < expected < window.zero, expected  # a fraction strictly between 0 and 1
    tests = graded(course, submission(tmp_path, {"vae.safetensors": state}), tmp_path, check_results)
    vae = tests["test_vae_importance_weighted_nll"]
    assert vae["score"] == pytest.approx(10 * window.fraction(expected), abs=0.05), vae["output"]

    # An encoder that leaves x in a file and a decoder that copies it: NLL near 0 if the two met.
    key_text = (REPO / "assignments" / "hw2" / "models.py").read_text()
    encode = "        h = F.relu(self.embed(x))  # (B, capacity, 7, 7)\n"
    decode = "        logits = self.image(h) + self.bias  # (B, 1, 28, 28)\n"
    assert key_text.count(encode) == 1 and key_text.count(decode) == 1
    cheat = key_text.replace(encode, "        torch.save(x.detach().clone(), '/tmp/seen.pt')\n" + encode).replace(
        decode, decode + "        import os\n        if os.path.exists('/tmp/seen.pt'):\n"
                         "            logits = 200 * torch.load('/tmp/seen.pt')[: len(z)] - 100\n")
    (tmp_path / "cheat").mkdir()
    tests = graded(course, submission(tmp_path / "cheat", {"vae.safetensors": state}, cheat), tmp_path, check_results)
    assert tests["test_vae_importance_weighted_nll"]["score"] == pytest.approx(vae["score"], abs=0.05)


@pytest.mark.slow
def test_a_vae_with_flows_is_checked_against_its_jacobian(course, tmp_path, check_results):
    state, encoder, decoder = _vae_weights(seed=1, flows=1)
    expected = _expected_vae_nll(course, encoder, decoder)
    tests = graded(course, submission(tmp_path, {"vae.safetensors": state}), tmp_path, check_results)
    vae = tests["test_vae_importance_weighted_nll"]
    assert vae["score"] == pytest.approx(10 * course.checkpoint("vae").fraction(expected), abs=0.05), vae["output"]

    # An encoder that claims a lower density q(z|x) than its flows give: a lower NLL, if believed.
    key_text = (REPO / "assignments" / "hw2" / "models.py").read_text()
    returned = "        return z.flatten(1), logqzx, mu.flatten(1), logvar.flatten(1)\n"
    assert key_text.count(returned) == 1
    lying = key_text.replace(returned, "        logqzx = logqzx + 50.0\n" + returned)
    (tmp_path / "lying").mkdir()
    tests = graded(course, submission(tmp_path / "lying", {"vae.safetensors": state}, lying), tmp_path, check_results)
    vae = tests["test_vae_importance_weighted_nll"]
    assert vae["score"] == 0 and "change of variables" in vae["output"], vae["output"]


@pytest.mark.slow
def test_a_malicious_checkpoint_is_refused_without_running(course, tmp_path, check_results):
    folder = submission(tmp_path, {})
    marker = tmp_path / "ran"
    with open(folder / "pixelcnn.pt", "wb") as f:
        pickle.dump({"embed.weight": Hostile(marker)}, f, protocol=2)
    tests = graded(course, folder, tmp_path, check_results)
    assert tests["test_pixelcnn_test_nll"]["score"] == 0
    assert "refused without being run" in tests["test_pixelcnn_test_nll"]["output"]
    assert not marker.exists()
