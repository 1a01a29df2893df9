"""The CIFAR-10 classifier (given) whose class probabilities and features score generated images in evaluation.py.

The Inception score and the FID were defined on Inception-v3 (ImageNet). This course
uses a small CIFAR-10 network instead, trained by `train_classifier.py` and published as
a safetensors file together with its SHA-256:

    >>> model = load_classifier("cifar10_classifier.safetensors", sha256="<published>", device="cuda")
    >>> probs, feats = probabilities_and_features(model, images)   # images (N, 3, 32, 32) in [-1, 1]
    >>> inception_score(probs), fid_from_features(real_feats, feats)  # evaluation.py

Its scores are on their own scale: the Inception score is at most 10 (the number of
classes; real CIFAR-10 test images score close to it) and the FID is measured in its own
feature space, so neither compares with published Inception-v3 numbers.

`load_classifier` checks the file's SHA-256 before reading a byte of it as weights, and
reads it with safetensors (tensors only): a checkpoint never runs code, unlike a pickle
given to torch.load. The architecture's sizes travel in the file's metadata.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

CHUNK = 1 << 20


class ClassifierError(Exception):
    """A classifier file is missing, is not the published one, or does not fit the architecture."""


def _block(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3x3 convolutions with batch norm and ReLU, then 2x2 max pooling: (B, c_in, H, W) -> (B, c_out, H/2, W/2)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class CIFARClassifier(nn.Module):
    """A VGG-style network: three conv blocks (32 -> 16 -> 8 -> 4 pixels), global average pooling,
    a `feature_dim` penultimate layer (the features of the FID) and a linear head (the logits)."""

    def __init__(self, width: int = 64, feature_dim: int = 256, n_classes: int = 10):
        super().__init__()
        self.config = dict(width=width, feature_dim=feature_dim, n_classes=n_classes)
        self.blocks = nn.Sequential(_block(3, width), _block(width, 2 * width), _block(2 * width, 4 * width))
        self.embed = nn.Linear(4 * width, feature_dim)
        self.head = nn.Linear(feature_dim, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (B, feature_dim) of images x (B, 3, 32, 32) in [-1, 1]."""
        h = self.blocks(x)  # (B, 4 width, 4, 4)
        h = h.mean(dim=(2, 3))  # (B, 4 width): global average pooling
        return F.relu(self.embed(h))  # (B, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, n_classes); softmax them for p(y|x)."""
        return self.head(self.features(x))


@torch.no_grad()
def probabilities_and_features(model: CIFARClassifier, images: torch.Tensor,
                               batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(p(y|x) (N, n_classes), features (N, feature_dim)), float32 on the CPU, for images (N, 3, 32, 32) in [-1, 1].

    Runs in eval mode (batch norm uses its running statistics, so a sample's score does not
    depend on the rest of its batch), `batch_size` images at a time on the model's device.
    """
    model.eval()
    device = next(model.parameters()).device
    probs, feats = [], []
    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size].to(device, torch.float32)
        f = model.features(x)  # (b, feature_dim)
        probs.append(torch.softmax(model.head(f), dim=1).cpu())
        feats.append(f.cpu())
    return torch.cat(probs), torch.cat(feats)


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def save_classifier(model: CIFARClassifier, path: str | Path) -> str:
    """Write the model's state_dict (and its sizes, as metadata) as safetensors; returns the file's SHA-256."""
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(path), metadata={key: str(value) for key, value in model.config.items()})
    return sha256_of(path)


def load_classifier(path: str | Path, sha256: str, device: str | torch.device = "cpu") -> CIFARClassifier:
    """The classifier in the safetensors file `path`, in eval mode on `device`, if its SHA-256 is `sha256`.

    The checksum is checked first, so a changed, truncated or substituted file is refused
    before it is parsed; then the sizes come from the metadata and every tensor must fit.
    """
    path = Path(path)
    if not path.is_file():
        raise ClassifierError(f"{path} is missing: download the course's classifier weights "
                              "or train them with train_classifier.py")
    got = sha256_of(path)
    if got != sha256.strip().lower():
        raise ClassifierError(f"{path}: SHA-256 {got} is not the published {sha256}; "
                              "the file is damaged or not the course's classifier: download it again")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        config = {key: int(metadata[key]) for key in ("width", "feature_dim", "n_classes")}
        state = load_file(str(path))
        model = CIFARClassifier(**config)
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # safetensors' SafetensorError, a missing key, a tensor of another shape
        raise ClassifierError(f"{path} does not hold a CIFARClassifier: {exc}") from None
    return model.to(device).eval()
