"""Hidden tests for HW3's graded samples: a trained CIFAR-10 generator, scored with the course's classifier.

Graded only where grading.toml configures them ([assignments.hw3.checkpoints.inception_score]
and [assignments.hw3.checkpoints.fid]); elsewhere these tests are left out. The student's
`generator.safetensors` (a state_dict of their models.CIFARGenerator) is read here without
unpickling anything and loaded in the sandbox; the grader draws the noise, gets images back
as plain tensors, checks their shape, dtype and range, and computes every score itself with
the course's classifier (its weights by path, checked against the published SHA-256 in
`settings`) and the CIFAR-10 files it holds (`data`, the folder above cifar-10-batches-py):
- the Inception score of the samples (higher is better);
- the FID between the samples' and the test images' classifier features (lower is better).
  A generator that returns training images (memorised, or read from disk) does not earn it:
  each sample's distance to its nearest training image is compared with the distances of
  real held-out images to theirs, and too many near-copies cancel the credit, saying so.
"""

import pytest
import torch

F64 = torch.float64
BATCH = 250  # samples per call into the sandbox
RANGE_SLACK = 1e-3  # tanh outputs lie in [-1, 1]; float32 rounding may step outside by a hair
COPY_DISTANCE = 0.25  # a sample this close to a training image (relative to real images' own distances) is a copy
COPY_FRACTION = 0.05  # more copies than this and the FID credit is gone


def generator_shape(weights: dict) -> dict:
    fc = weights.get("fc.weight")
    assert isinstance(fc, torch.Tensor) and fc.dim() == 2 and fc.shape[0] % 16 == 0, \
        "generator.safetensors has no 'fc.weight' of shape (channels * 16, nz): save models.CIFARGenerator's state_dict()"
    return dict(nz=fc.shape[1], channels=fc.shape[0] // 16)


def samples(student, checkpoint) -> torch.Tensor:
    """The student's generator's images (n, 3, 32, 32) in [-1, 1], float32 on the CPU, from noise drawn here."""
    weights = checkpoint.weights()
    shape = generator_shape(weights)
    generator = student.models.CIFARGenerator(**shape)
    generator.load_state_dict(weights)
    generator.eval()
    n = checkpoint.config.examples or 5000
    noise = torch.randn(n, shape["nz"], generator=torch.Generator().manual_seed(0))
    images = []
    for start in range(0, n, BATCH):
        z = noise[start : start + BATCH]
        x = generator(z)
        assert isinstance(x, torch.Tensor), f"the generator returned a {type(x).__name__}, not a tensor"
        assert tuple(x.shape) == (len(z), 3, 32, 32), f"the generator returned shape {tuple(x.shape)}, " \
                                                      f"expected {(len(z), 3, 32, 32)}"
        assert x.is_floating_point(), f"the generator returned {x.dtype} images; expected floats in [-1, 1]"
        x = x.detach().to("cpu", torch.float32)
        assert bool(torch.isfinite(x).all()), "the generator's images contain NaN or inf"
        assert x.abs().max().item() <= 1 + RANGE_SLACK, "the generator's images leave [-1, 1] (end it with tanh)"
        images.append(x.clamp(-1, 1))
    return torch.cat(images)


def classifier(solution, checkpoint):
    return solution.classifier.load_classifier(checkpoint.setting_path("classifier"),
                                               sha256=checkpoint.setting("classifier_sha256"))


@pytest.mark.checkpoint("inception_score")
@pytest.mark.time_limit(900)
def test_generator_inception_score(student, solution, checkpoint, credit):
    """The Inception score of your generator's samples on the course's CIFAR-10 classifier (at most 10)."""
    images = samples(student, checkpoint)
    probs, _ = solution.classifier.probabilities_and_features(classifier(solution, checkpoint), images)
    score = solution.evaluation.inception_score(probs.to(F64))
    checkpoint.award(credit, score, f"Inception score of {len(images)} samples")


@pytest.mark.checkpoint("fid")
@pytest.mark.time_limit(900)
def test_generator_fid(student, solution, checkpoint, credit):
    """The FID between your generator's samples and CIFAR-10 test images, in the course classifier's features."""
    images = samples(student, checkpoint)
    root = checkpoint.data
    real, _ = solution.cifar10.load_cifar10(root, "test")
    real = solution.cifar10.to_unit_range(real[: checkpoint.config.examples or len(real)])
    train, _ = solution.cifar10.load_cifar10(root, "train")
    copies = copied(images, real, solution.cifar10.to_unit_range(train))
    assert copies <= COPY_FRACTION * len(images), \
        f"{copies} of {len(images)} samples are copies of training images (each lies much nearer to one " \
        "than real held-out images do to theirs): the FID credit is for images your generator makes, not " \
        "ones it stored or read"
    model = classifier(solution, checkpoint)
    _, fake_features = solution.classifier.probabilities_and_features(model, images)
    _, real_features = solution.classifier.probabilities_and_features(model, real)
    fid = solution.evaluation.fid_from_features(real_features.to(F64), fake_features.to(F64))
    checkpoint.award(credit, fid, f"FID of {len(images)} samples against {len(real)} test images")


def nearest(points: torch.Tensor, reference: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """Each point's Euclidean distance to its nearest reference image (flattened), (N,)."""
    reference = reference.flatten(1)
    out = [torch.cdist(points[start : start + chunk].flatten(1), reference).min(dim=1).values
           for start in range(0, len(points), chunk)]
    return torch.cat(out)


def copied(images: torch.Tensor, real: torch.Tensor, train: torch.Tensor) -> int:
    """How many samples lie nearer to a training image than COPY_DISTANCE times real test images typically do."""
    typical = nearest(real[:500], train).median()
    return int((nearest(images, train) < COPY_DISTANCE * typical).sum())
