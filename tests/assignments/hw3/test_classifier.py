"""hw3's provided CIFAR-10 classifier: shapes, the SHA-256-checked safetensors loading, and the training script.

classifier.py and cifar10.py are imported by path from assignments/hw3; train_classifier.py
runs as the course runs it, a script in a fresh interpreter, on CIFAR-10 files generated in
the published format, for one tiny epoch on one CPU thread. No weights are committed: every
classifier here is small and seeded.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from tests.conftest import REPO, Hostile, import_homework

HW3 = REPO / "assignments" / "hw3"
classifier = import_homework("hw3", "classifier")
cifar10 = import_homework("hw3", "cifar10")


def small_model(seed: int = 0):
    torch.manual_seed(seed)
    model = classifier.CIFARClassifier(width=4, feature_dim=8)
    for module in model.modules():  # non-trivial batch-norm statistics, so eval mode matters
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def images(n: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_outputs_and_batching():
    model = small_model()
    x = images(7)
    with torch.no_grad():
        assert tuple(model(x).shape) == (7, 10) and tuple(model.features(x).shape) == (7, 8)
    probs, feats = classifier.probabilities_and_features(model, x, batch_size=3)
    assert probs.dtype == feats.dtype == torch.float32 and tuple(probs.shape) == (7, 10)
    assert torch.allclose(probs.sum(dim=1), torch.ones(7)) and bool((probs >= 0).all())
    whole_probs, whole_feats = classifier.probabilities_and_features(model, x)  # one batch: same per image
    assert torch.allclose(probs, whole_probs, atol=1e-6) and torch.allclose(feats, whole_feats, atol=1e-6)


def test_sha256_accepts_the_right_file(tmp_path):
    model = small_model(2)
    path = tmp_path / "classifier.safetensors"
    sha256 = classifier.save_classifier(model, path)
    assert re.fullmatch(r"[0-9a-f]{64}", sha256) and sha256 == classifier.sha256_of(path)
    loaded = classifier.load_classifier(path, sha256.upper())  # published checksums may be upper case
    assert not loaded.training
    x = images(5)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x)) and torch.equal(loaded.features(x), model.features(x))


def test_sha256_refuses_a_changed_file(tmp_path):
    path = tmp_path / "classifier.safetensors"
    sha256 = classifier.save_classifier(small_model(3), path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # one bit of one weight
    path.write_bytes(bytes(data))
    with pytest.raises(classifier.ClassifierError, match="SHA-256 .* is not the published") as error:
        classifier.load_classifier(path, sha256)
    assert str(path) in str(error.value)
    with pytest.raises(classifier.ClassifierError, match="is not the published"):
        classifier.load_classifier(path, "0" * 64)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(classifier.ClassifierError, match="missing.*train_classifier.py"):
        classifier.load_classifier(tmp_path / "nothing.safetensors", "0" * 64)


def test_right_checksum_wrong_contents_is_a_clear_error(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(3)}, str(path), metadata={"width": "4", "feature_dim": "8", "n_classes": "10"})
    with pytest.raises(classifier.ClassifierError, match="does not hold a CIFARClassifier"):
        classifier.load_classifier(path, classifier.sha256_of(path))
    path.write_bytes(b"not a safetensors file")
    with pytest.raises(classifier.ClassifierError, match="does not hold a CIFARClassifier"):
        classifier.load_classifier(path, classifier.sha256_of(path))


def test_a_pickle_is_never_unpickled(tmp_path):
    """A torch.save-style pickle with a matching checksum is refused by safetensors; its payload never runs."""
    marker = tmp_path / "marker"
    path = tmp_path / "classifier.safetensors"
    path.write_bytes(pickle.dumps({"state_dict": Hostile(marker)}))
    with pytest.raises(classifier.ClassifierError, match="does not hold"):
        classifier.load_classifier(path, classifier.sha256_of(path))
    assert not marker.exists()


def test_training_script_runs_one_tiny_epoch(tmp_path):
    cifar10.write_cifar10(tmp_path / "data", per_batch=40, seed=0)  # 200 training, 40 test images
    out = tmp_path / "c.safetensors"
    command = [sys.executable, str(HW3 / "train_classifier.py"), "--data", str(tmp_path / "data"), "--out", str(out),
               "--epochs", "1", "--device", "cpu", "--width", "4", "--feature-dim", "8", "--batch-size", "50",
               "--threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert re.search(r"epoch 1/1: train loss \d+\.\d+, test accuracy \d\.\d+", run.stdout), run.stdout
    sha256 = re.search(r"^sha256: ([0-9a-f]{64})$", run.stdout, re.MULTILINE).group(1)
    model = classifier.load_classifier(out, sha256)
    probs, feats = classifier.probabilities_and_features(model, cifar10.to_unit_range(cifar10.load_cifar10(
        tmp_path / "data", "test")[0]))
    assert tuple(probs.shape) == (40, 10) and tuple(feats.shape) == (40, 8)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [cifar10.FOLDER]  # nothing downloaded
