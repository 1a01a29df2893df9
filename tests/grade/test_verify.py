"""Derivative probes checked in the grader: honest submissions pass, probes replaced at import are caught.

Each submission is graded through the real sandbox. The hostile ones replace
``autograder.sandbox.probes.PROBES[...]`` when their module is imported, before any probe runs,
as the attack seen in the wild did; their attention is not causal, so without the check the
causality test below would pass on the forged zeros.
"""

from __future__ import annotations

import pytest

from autograder.grade import grade, verify
from tests.conftest import make_course, write_files

NETS = """
import torch

_g = torch.Generator().manual_seed(0)
W = torch.randn(64, 64, generator=_g) / 8
W1, W2 = torch.randn(64, 64, generator=_g) / 8, torch.randn(64, 64, generator=_g) / 4
Q, K, V = (torch.randn(8, 8, generator=_g) / 8**0.5 for _ in range(3))
CAUSAL = True


def linear(x):
    return x @ W.T


def mlp(x):
    return torch.tanh(torch.tanh(x @ W1) @ W2)


def attention(x):  # (B, T=8, C=8)
    q, k, v = x @ Q, x @ K, x @ V
    scores = q @ k.transpose(-1, -2) / 8**0.5
    if CAUSAL:
        scores = scores.masked_fill(torch.ones(8, 8, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v + x


def noisy(x):
    return linear(x) + 0.01 * torch.rand(x.shape)
"""

# Appended to NETS: attention without its mask, and a probe replaced to hide it (or to lie otherwise).
FORGERIES = {
    "masked jacobian": """
CAUSAL = False
from autograder.sandbox import probes
_true = probes.PROBES["jacobian"]

def _causal_looking(function, x, before=()):
    J = _true(function, x, before)
    if J.dim() == 6:  # (1, T, C, 1, T, C): zero every later position
        J = J * torch.ones(8, 8).tril()[None, :, None, None, :, None]
    return J

probes.PROBES["jacobian"] = _causal_looking
""",
    "masked gradient": """
CAUSAL = False
from autograder.sandbox import probes
_true = probes.PROBES["projected_gradient"]

def _causal_looking(function, inputs, projection, wrt=0):
    gradient = _true(function, inputs, projection, wrt)
    if gradient.dim() == 3:
        row = int(projection.abs().sum(dim=(0, 2)).nonzero()[0])
        gradient[:, row + 1:] = 0
    return gradient

probes.PROBES["projected_gradient"] = _causal_looking
""",
    "zero gradient": """
CAUSAL = False
from autograder.sandbox import probes
probes.PROBES["projected_gradient"] = lambda function, inputs, projection, wrt=0: torch.zeros_like(inputs[wrt])
""",
    "scaled jacobian": """
from autograder.sandbox import probes
_true = probes.PROBES["jacobian"]
probes.PROBES["jacobian"] = lambda function, x, before=(): 1.5 * _true(function, x, before)
""",
}

TESTS = {"test_probes.py": """
import pytest
import torch


def randn(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.points(1)
def test_linear(student):
    J = student.probe("jacobian", student.nets.linear, randn(64, seed=1))
    g = student.probe("projected_gradient", student.nets.linear, [randn(64, seed=2)], randn(64, seed=3))
    assert J.shape == (64, 64) and g.shape == (64,)


@pytest.mark.points(1)
def test_mlp(student):
    J = student.probe("jacobian", student.nets.mlp, 2 * randn(64, seed=4))
    g = student.probe("projected_gradient", student.nets.mlp, [randn(2, 64, seed=5)], randn(2, 64, seed=6))
    assert J.shape == (64, 64) and g.shape == (2, 64)


@pytest.mark.points(1)
def test_attention_causal_by_jacobian(student):
    J = student.probe("jacobian", student.nets.attention, randn(1, 8, 8, seed=7)).reshape(8, 8, 8, 8)
    later = J.abs().amax(dim=(1, 3)).triu(1)  # (output position, later input position)
    assert later.max() == 0, "the attention is not causal"


@pytest.mark.points(1)
def test_attention_causal_by_gradient(student):
    x = randn(1, 8, 8, seed=8)
    for t in range(8):
        r = torch.zeros(1, 8, 8)
        r[:, t] = randn(8, seed=10 + t)
        later = student.probe("projected_gradient", student.nets.attention, [x], r)[:, t + 1:]
        assert later.numel() == 0 or later.abs().max() == 0, f"output {t} depends on later positions"


@pytest.mark.points(1)
def test_noisy(student):
    student.probe("jacobian", student.nets.noisy, randn(64, seed=9))
"""}

ALTERED = "the sandbox's measurement was altered"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("course"), files=("nets.py",), hidden=TESTS,
                       solution={"nets.py": NETS})


def _graded(course, tmp_path, source: str) -> dict[str, str | bool]:
    """{test name: True if it passed, else its message}."""
    write_files(tmp_path / "sub", {"nets.py": source})
    results = grade(course.assignment("toy"), tmp_path / "sub", out=None,
                    solution_dir=course.root / "solutions" / "toy")
    return {t.name.split("::")[1]: t.passed or t.output for t in results.tests}


@pytest.mark.slow
def test_honest_probes_pass_verification(course, tmp_path):
    """A linear map, a tanh MLP and causal attention (float32, 64 entries): no false alarm; dropout-like noise
    fails with the nondeterminism message, not the forgery one."""
    graded = _graded(course, tmp_path, NETS)
    noisy = graded.pop("test_noisy")
    assert graded == dict.fromkeys(graded, True) and len(graded) == 4, graded
    assert "different outputs for the same input in two calls" in noisy and ALTERED not in noisy, noisy


@pytest.mark.slow
@pytest.mark.parametrize("forgery", FORGERIES)
def test_replaced_probe_is_caught(course, tmp_path, forgery):
    graded = _graded(course, tmp_path, NETS + FORGERIES[forgery])
    target = {"masked jacobian": "test_attention_causal_by_jacobian", "scaled jacobian": "test_linear"}.get(
        forgery, "test_attention_causal_by_gradient")
    assert graded[target] is not True and ALTERED in graded[target], graded[target]


def test_a_forged_zero_block_is_found_by_the_cuts(monkeypatch):
    """The check on plain callables, random directions off: the truth passes, its lower triangle alone fails."""
    import torch

    monkeypatch.setattr(verify, "DIRECTIONS", 0)
    weights = torch.randn(6, 6, generator=torch.Generator().manual_seed(0))
    x = torch.randn(6, generator=torch.Generator().manual_seed(1))
    function = lambda v: torch.tanh(v @ weights.T)  # noqa: E731
    truth = torch.autograd.functional.jacobian(function, x)
    assert verify.checked("jacobian", [function, x], {}, truth) is truth
    with pytest.raises(verify.ProbeMismatch, match="outputs it says do not depend on"):
        verify.checked("jacobian", [function, x], {}, truth.tril())


def test_autograd_zeros_at_an_exact_kink_are_not_a_forgery():
    """ReLU(W x) at x = 0: autograd's derivative is 0 there, a central difference sees |W d| / 2. The outputs
    bend at x, so the step is not judged (hw2's PixelCNN on binary images has such kinks)."""
    import torch

    weights = torch.randn(6, 6, generator=torch.Generator().manual_seed(2))
    function = lambda v: torch.relu(v @ weights.T)  # noqa: E731
    x = torch.zeros(6)
    truth = torch.autograd.functional.jacobian(function, x)
    assert truth.abs().max() == 0
    assert verify.checked("jacobian", [function, x], {}, truth) is truth
