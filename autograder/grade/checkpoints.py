"""Graded checkpoints: trained weights a student hands in, read in the grader without running anything.

A checkpoint is a ``state_dict``: a flat mapping from parameter names to tensors, saved with
``safetensors.torch.save_file`` (``.safetensors``, preferred) or ``torch.save`` (``.pt`` /
``.pth``, read with ``torch.load(weights_only=True)``, whose unpickler builds tensors and
plain containers only and refuses every other global before calling it). Anything else
is refused with a message that says how to save the weights; nothing is ever unpickled
with the full unpickler. The tensors then go into the sandbox as plain data, where the
student's model loads them; the grader computes the metric from the model's raw outputs
and turns it into points with the window in ``grading.toml`` (:class:`CheckpointConfig`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import torch

from autograder.config import CheckpointConfig
from autograder.errors import GraderError, SubmissionError

MAX_BYTES = 512 << 20  # a PixelCNN(128, 15) in float32 is about 20 MB; the submission itself is capped at 200 MB
ALLOWED_DTYPES = {torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int64, torch.int32,
                  torch.uint8, torch.bool}
HOW_TO_SAVE = ("save the model's weights with `safetensors.torch.save_file(model.state_dict(), PATH)` "
               "or `torch.save(model.state_dict(), PATH)`")


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The state_dict in ``path``, as CPU tensors; a :class:`SubmissionError` says what is wrong."""
    name = path.name
    try:  # never follow a link the submission planted
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        raise SubmissionError(f"{name} is missing from your submission") from None
    if not stat.S_ISREG(info.st_mode):
        raise SubmissionError(f"{name} is not a regular file")
    if info.st_size > MAX_BYTES:
        raise SubmissionError(f"{name} is {info.st_size >> 20} MB; checkpoints are limited to {MAX_BYTES >> 20} MB")
    if path.suffix == ".safetensors":
        weights = _read_safetensors(path)
    elif path.suffix in (".pt", ".pth"):
        weights = _read_torch(path)
    else:
        raise SubmissionError(f"{name}: checkpoints are .safetensors, .pt or .pth files; {HOW_TO_SAVE}")
    return _checked(weights, name)


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError, TypeError) as exc:  # bad header, truncated data, bad dtype
        raise SubmissionError(f"{path.name}: not a readable safetensors file ({exc}); {HOW_TO_SAVE}") from None


def _read_torch(path: Path) -> dict:
    import pickle
    import zipfile

    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=False)
    except pickle.UnpicklingError as exc:  # weights_only refused a global or an opcode, before running anything
        raise SubmissionError(
            f"{path.name} was refused without being run: the reader that builds only tensors stopped at "
            f"'{_refusal(str(exc))}'. A whole pickled model cannot be graded; {HOW_TO_SAVE}") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError, IndexError) as exc:
        raise SubmissionError(f"{path.name}: not a readable torch.save file ({type(exc).__name__}: "
                              f"{str(exc)[:300]}); {HOW_TO_SAVE}") from None


def _refusal(message: str) -> str:
    """The one informative line of torch's weights-only refusal (the rest is advice to turn it off)."""
    reason = message.split("WeightsUnpickler error:", 1)[-1].strip()
    reason = reason.split(" Please use", 1)[0].split("\n\n", 1)[0].strip()
    return reason[:300] or "objects other than tensors"


def _checked(weights: object, name: str) -> dict[str, torch.Tensor]:
    if not isinstance(weights, dict):
        raise SubmissionError(f"{name} holds a {type(weights).__name__}, not a state_dict; {HOW_TO_SAVE}")
    checked = {}
    for key, value in weights.items():
        if not isinstance(key, str):
            raise SubmissionError(f"{name}: parameter names must be strings, found {type(key).__name__}")
        if not isinstance(value, torch.Tensor) or type(value) not in (torch.Tensor, torch.nn.Parameter):
            raise SubmissionError(f"{name}: {key!r} is a {type(value).__name__}, not a tensor; {HOW_TO_SAVE}")
        if value.dtype not in ALLOWED_DTYPES:
            raise SubmissionError(f"{name}: {key!r} has dtype {value.dtype}, which the grader does not accept")
        # a fresh, contiguous, plain tensor: nothing of the file's storage survives
        checked[key] = value.detach().clone().contiguous()
    if not checked:
        raise SubmissionError(f"{name} holds no tensors; {HOW_TO_SAVE}")
    return checked


class Checkpoint:
    """The ``checkpoint`` fixture of a test marked ``@pytest.mark.checkpoint(name)``."""

    def __init__(self, config: CheckpointConfig, submission: Path | None):
        self.config = config
        self._submission = submission

    @property
    def data(self) -> Path:
        """The evaluation data configured for this checkpoint (the grader's, never the sandbox's)."""
        if self.config.data is None:
            raise GraderError(f"checkpoints.{self.config.name}.data is not set in grading.toml")
        if not self.config.data.exists():
            raise GraderError(f"checkpoints.{self.config.name}.data: {self.config.data} does not exist")
        return self.config.data

    def setting(self, name: str, kind: type = str):
        """``settings.<name>`` of this checkpoint in grading.toml (a grader error if absent or mistyped)."""
        value = self.config.settings.get(name)
        if value is None or not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise GraderError(f"checkpoints.{self.config.name}.settings.{name} must be set to a {kind.__name__} "
                              "in grading.toml")
        return value

    def setting_path(self, name: str) -> Path:
        """A file named by ``settings.<name>``, relative to grading.toml's folder; it must exist."""
        path = (self.config.root or Path.cwd()) / self.setting(name)
        if not path.exists():
            raise GraderError(f"checkpoints.{self.config.name}.settings.{name}: {path} does not exist")
        return path

    def file(self) -> Path:
        """The first of the configured file names that the submission holds."""
        if self._submission is None:
            raise SubmissionError("the submission could not be read")
        for name in self.config.files:
            if os.path.lexists(self._submission / name):
                return self._submission / name
        raise SubmissionError(f"no trained weights: hand in {' or '.join(self.config.files)} for these points")

    def weights(self) -> dict[str, torch.Tensor]:
        return read_weights(self.file())

    def award(self, credit, value: float, what: str) -> float:
        """Give the window's share of the points for the metric ``value`` (named ``what``, unit included)."""
        fraction = self.config.fraction(float(value))
        better = "at or below" if self.config.full < self.config.zero else "at or above"
        credit.award(fraction, f"{what}: {value:.4g}; full marks {better} {self.config.full:g}, "
                               f"none past {self.config.zero:g}")
        return fraction
