"""hw3's graded samples end to end: generators score by the windows, one that returns training images is
flagged, a malicious checkpoint is refused without running.

The committed grading.toml configures no graded samples (no weights are committed); these
tests grade with a copy of hw3's settings that configures both scores, on generated
CIFAR-10 files (cifar10.write_cifar10) and a small classifier trained on them here by the
course's own train_classifier.py. The generators handed in replace models.CIFARGenerator:
- "drawn": draws images the way the generated data was made (a perfect generator),
- "stored": returns training images it holds in a parameter (a memoriser),
- the given CIFARGenerator with random weights (a bad one).
"""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
from safetensors.torch import save_file

from autograder.config import CheckpointConfig, load_config
from autograder.grade import grade
from tests.conftest import REPO, Hostile, import_homework

COURSE = load_config(REPO / "grading.toml")
SOURCE = REPO / "assignments" / "hw3"
KEY = REPO / "solutions" / "hw3"
cifar10, models = import_homework("hw3", "cifar10"), import_homework("hw3", "models")

STAND_INS = '''

# --- stand-ins for the tests: these replace CIFARGenerator above ---------------------------
import cifar10 as _cifar10


class CIFARGenerator(nn.Module):
    """Draws images the way the generated CIFAR-10 files were made: a perfect generator."""

    def __init__(self, nz: int = 8, channels: int = 1):
        super().__init__()
        self.fc = nn.Linear(nz, channels * 16)  # unused: it gives the grader the sizes

    def forward(self, z):
        labels = (torch.special.ndtr(z[:, 0]) * 10).long().clamp(0, 9)
        generator = torch.Generator().manual_seed(int(z[0, 0].item() * 1e6) % (1 << 31))
        return _cifar10.to_unit_range(_cifar10.synthetic_images(labels, generator))
'''

MEMORISER = '''

# --- a stand-in that returns the training images it stored ---------------------------------
class CIFARGenerator(nn.Module):
    def __init__(self, nz: int = 8, channels: int = 1):
        super().__init__()
        self.fc = nn.Linear(nz, channels * 16)
        self.bank = nn.Parameter(torch.zeros(500, 3, 32, 32))

    def forward(self, z):
        index = (torch.special.ndtr(z[:, 0]) * len(self.bank)).long().clamp(0, len(self.bank) - 1)
        return self.bank[index]
'''


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Generated CIFAR-10 files and a classifier trained on them (1000 training and 200 test images)."""
    root = tmp_path_factory.mktemp("cifar")
    cifar10.write_cifar10(root, per_batch=200, seed=0)
    weights = root / "classifier.safetensors"
    run = subprocess.run([sys.executable, "train_classifier.py", "--data", str(root), "--out", str(weights),
                          "--epochs", "2", "--width", "8", "--feature-dim", "32", "--batch-size", "64",
                          "--threads", "1"], cwd=SOURCE, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    sha256 = run.stdout.strip().splitlines()[-1].split()[-1]
    return root, weights, sha256


@pytest.fixture(scope="module")
def course(data):
    root, weights, sha256 = data
    settings = {"classifier": str(weights), "classifier_sha256": sha256}
    files = ("generator.safetensors", "generator.pt")
    # measured on these files: real training images IS 4.2, FID 0.0015; drawn 4.3 / 0.4; random 1.0 / 89
    checkpoints = (
        CheckpointConfig(name="inception_score", files=files, points=5, full=3.5, zero=1.5, examples=200,
                         settings=settings, data=root),
        CheckpointConfig(name="fid", files=files, points=10, full=5.0, zero=50.0, examples=200,
                         settings=settings, data=root),
    )
    return replace(COURSE.assignment("hw3"), checkpoints=checkpoints)


def submission(folder, weights: dict | None, models_text: str) -> object:
    folder.mkdir()
    for name in COURSE.assignment("hw3").files:
        shutil.copy(KEY / name, folder / name)
    shutil.copy(SOURCE / "cifar10.py", folder / "cifar10.py")  # the stand-in draws with it
    (folder / "models.py").write_text(models_text)
    if weights is not None:
        save_file({k: v.contiguous() for k, v in weights.items()}, folder / "generator.safetensors")
    return folder


def graded(course, folder, tmp_path, check_results) -> dict[str, dict]:
    out = tmp_path / "results.json"
    grade(course, folder, out=out, solution_dir=KEY, select=["test_samples_hidden.py"])
    return {t["name"].split("::")[1]: t for t in check_results(out)["tests"]}


@pytest.mark.slow
def test_a_good_generator_scores_full_and_a_random_one_nothing(course, tmp_path, check_results):
    key_models = (KEY / "models.py").read_text()
    drawn = {"fc.weight": torch.zeros(16, 8), "fc.bias": torch.zeros(16)}
    tests = graded(course, submission(tmp_path / "drawn", drawn, key_models + STAND_INS), tmp_path, check_results)
    for name, points in (("test_generator_inception_score", 5), ("test_generator_fid", 10)):
        assert tests[name]["score"] == tests[name]["max_score"] == points, tests[name]["output"]

    torch.manual_seed(0)
    random = models.CIFARGenerator(nz=16, channels=8).state_dict()
    tests = graded(course, submission(tmp_path / "random", random, key_models), tmp_path, check_results)
    assert tests["test_generator_inception_score"]["score"] == 0
    assert tests["test_generator_fid"]["score"] == 0 and "FID of 200 samples" in tests["test_generator_fid"]["output"]


@pytest.mark.slow
def test_a_generator_that_returns_training_images_is_flagged(course, data, tmp_path, check_results):
    root = data[0]
    train, _ = cifar10.load_cifar10(root, "train")
    stored = {"fc.weight": torch.zeros(16, 8), "fc.bias": torch.zeros(16),
              "bank": cifar10.to_unit_range(train[:500])}
    key_models = (KEY / "models.py").read_text()
    tests = graded(course, submission(tmp_path / "stored", stored, key_models + MEMORISER), tmp_path, check_results)
    fid = tests["test_generator_fid"]
    assert fid["score"] == 0 and "copies of training images" in fid["output"], fid["output"]


@pytest.mark.slow
def test_a_malicious_generator_file_is_refused_without_running(course, tmp_path, check_results):
    folder = submission(tmp_path / "hostile", None, (KEY / "models.py").read_text())
    marker = tmp_path / "ran"
    with open(folder / "generator.pt", "wb") as f:
        pickle.dump({"fc.weight": Hostile(marker)}, f, protocol=2)
    tests = graded(course, folder, tmp_path, check_results)
    assert all(t["score"] == 0 and "refused without being run" in t["output"] for t in tests.values())
    assert not marker.exists()
