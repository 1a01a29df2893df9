"""Checking the sandbox's derivative probes against the student's function's own outputs.

The probes (:mod:`autograder.sandbox.probes`) run in the student's process, so student code
imported before them can replace them (``probes.PROBES["jacobian"] = ...``) or patch
``torch.autograd``: a causality test that reads zeros from a forged Jacobian would pass
attention without a mask. Nothing inside that process can be protected, so the grader checks
the numbers it receives. A derivative is a claim about outputs, and outputs the grader can
get on its own: it calls the same remote function at ``x + d`` and ``x - d`` (plain calls,
plain tensors back) and asks that the claimed Jacobian predict the difference,
``J (x+ - x-) ~ F(x+) - F(x-)``.

Per probe call this costs 6 extra calls of the function (up to 9 more for each step that fails):
- one random direction ``d`` (Gaussian, scaled per entry by ``max(1, |x|)``): the change must
  match within 3% of its norm, plus 1% of its "spread" (for a projected gradient, the sum of
  the sizes of the projected outputs' changes, which a random projection mostly cancels).
  A Jacobian scaled by 1.5, or one of another function, fails here;
- two cuts along the zeros the claim has (what a causality test relies on): for a random column
  ``n0`` with zeros, the rows ``U`` where it is zero and every column ``S`` zero on all of ``U``;
  a step over ``S`` alone must leave the outputs ``U`` unchanged (to 1e-3 of the largest row of
  the Jacobian, or to 1e-2 of what the random step changed them by, whichever is larger: hw2's
  PixelCNN in float64 moves 2e-3 of that where autograd's zeros are exact). A masked copy of a
  non-causal Jacobian fails here even where its zeros are a small part of its norm (an
  attention that sees one position ahead);
- a failed step is taken again: outputs that differ between identical calls (dropout in
  training mode, a random draw) fail with a message saying so. Outputs that bend at ``x``
  itself (F(x+) - 2 F(x) + F(x-) a fiftieth of the change or more; a PixelCNN measured 0.098)
  are at a kink, where autograd's derivative is a convention: not judged (hw2's PixelCNN on
  binary images has ReLUs at exactly 0, whose autograd zeros a central difference sees as
  slope 1/2). Then a step 10 times shorter:
  a ReLU kink crossed near ``x`` passes there. Last steps 10 and 100 times longer: rounding
  that the allowance underestimates stays the same size while the change grows with the step
  (float32 Winograd convolutions leak 1e-7 through weights that are exactly zero; a function
  given float64 inputs that computes in float32); a forged derivative's error grows with the
  step and fails every one of them.

Choices:
- The steps are in the dtype the test gave (float32 or float64), never converted: a float32
  module would raise on float64 inputs or cast them back. Step ``h`` (times ``max(1, |x|)``) is
  1e-3 for float32 (the outputs' rounding, ~1e-7 / h of the change, stays small), 1e-6 for
  float64. Measured on float32 MLPs, convolutions, attention, LayerNorm, saturated tanh and a
  softplus at +-200 (8 inputs each): no false alarm; a 3-layer ReLU net of 8192 units crossed
  kinks at the first step (up to 13 times the allowance for a projected gradient) and passed at
  the shorter one. One step cannot serve both: at 5e-5 the rounding alone was 5% of the change.
  The differences are taken in float64 on the grader's side, and ``J`` is applied to the step
  as it was rounded (``x+ - x-`` in float64), so rounding ``x + d`` to float32 costs nothing.
  Other dtypes (no test uses them) are not checked.
- A claim with NaN or inf is not checked: every test fails on those values itself, so a forger
  gains nothing from them. A finite claim next to outputs that are not finite fails.
- The directions are seeded from the input's bytes: a grade is reproducible. They can be
  computed by anyone who reads this module, so a forger who also knows the true Jacobian could
  hide an error in the directions' orthogonal complement; that takes a deliberate construction
  per test, not a replaced probe. So does the kink exemption's gap: a leak routed through a kink
  built to sit exactly at the test's input (binary images are predictable) next to a forged zero.
- The extra calls run the student's function as any call would: a module with state (BatchNorm
  in training mode, a call counter) sees 6 more forward passes, within the test's time limit.

Other probes:
- ``reinitialize``, ``optimizer`` set things up rather than measure; a forged one changes only
  the student's own objects, whose outputs (and weights after a step) the tests then compare
  with the key's, in the grader.
- ``gradients`` reads ``.grad``, state that no output of the function reveals, and
  ``fit_bernoulli`` returns a training curve; neither can be recomputed from plain outputs
  without running the student's training again, so neither is checked here. A forged
  ``gradients`` can only hide a gradient that reached the generator (hw3's detach test);
  a forged ``fit_bernoulli`` can train more than asked, and the test grades the model it gets.
"""

from __future__ import annotations

import inspect
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from autograder.grade.compare import GradingFailure

F64 = torch.float64
STEPS = {torch.float32: 1e-3, torch.float64: 1e-6}
FINER = 10  # a failed step is tried again this many times shorter
COARSER = (10, 100)  # ... and then this many times longer: noise above the rounding estimate stays put
KINK = 0.02  # a failed step bending this much at x (relative to its change) is at a kink (smooth: ~h)
RTOL = 0.03  # random directions: |F(x+) - F(x-) - J step| <= RTOL |J step| + SPREAD_RTOL |spread|
SPREAD_RTOL = 0.01
CUT_RTOL = 1e-2  # ... or of a hundredth of the random step's change per unit of step, whichever is larger
ZERO_RTOL = 1e-3  # the cut: |F(x+) - F(x-)| on U <= ZERO_RTOL * (largest row of J, times the step)
ROUNDING = 8  # rounding allowance: this many units of the dtype's epsilon, times the outputs' size (and |J| |x|)
DIRECTIONS = 1  # one catches a wrong Jacobian (scaled, of another function) with near certainty
CUTS = 2  # each tests the zeros on one side of a random cut

ALTERED = ("the derivative reported by the sandbox does not match your function's outputs: "
           "the sandbox's measurement was altered")


class ProbeMismatch(GradingFailure):
    """A probe's answer disagrees with the outputs of the function it measured."""


@dataclass(frozen=True)
class Claim:
    """What a probe reported: ``jacobian`` (M, N) of ``reduce(terms(x))`` (N inputs -> M values) at ``x``.

    ``terms`` are the values the grader computes from one call (the outputs, or for a projected
    gradient each output times its projection); ``reduce`` sums them into the M measured values.
    """

    terms: Callable[[torch.Tensor], torch.Tensor]
    reduce: Callable[[torch.Tensor], torch.Tensor]
    x: torch.Tensor
    jacobian: torch.Tensor
    what: str


def checked(name: str, args: list, kwargs: dict, result: Any) -> Any:
    """``result`` of probe ``name``, after checking it where it can be checked (see the module docstring)."""
    if name in CLAIMS:
        claim = CLAIMS[name](result, *args, **kwargs)
        if claim is not None:
            verify(claim)
    return result


def _signature_of(probe: Callable) -> Callable:
    """The probe's arguments bound as the sandbox's probe binds them (a forged probe may accept more)."""
    signature = inspect.signature(probe)

    def bind(result: Any, *args: Any, **kwargs: Any) -> Claim | None:
        try:
            bound = signature.bind(result, *args, **kwargs)
        except TypeError as exc:
            raise ProbeMismatch(f"the sandbox answered a probe called with wrong arguments ({exc})") from None
        bound.apply_defaults()
        return probe(**bound.arguments)

    return bind


def _first(output: Any) -> Any:
    return output[0] if isinstance(output, (tuple, list)) else output


def _plain(output: Any, what: str) -> torch.Tensor:
    output = _first(output)
    if not isinstance(output, torch.Tensor):
        raise ProbeMismatch(f"{what}: your function returned a {type(output).__name__} when the grader called it, "
                            "a tensor when the sandbox measured it")
    return output.detach().to("cpu", F64)


def _measurable(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and x.dtype in STEPS and x.numel() > 0


def _claimed(result: Any, x: torch.Tensor, what: str, rows: int | None = None) -> torch.Tensor | None:
    """The reported Jacobian as (M, N) float64; None where it holds NaN or inf (not checked)."""
    n = x.numel()
    if not isinstance(result, torch.Tensor) or result.numel() % n or rows is not None and result.numel() != rows * n:
        shape = tuple(result.shape) if isinstance(result, torch.Tensor) else type(result).__name__
        raise ProbeMismatch(f"{what}: the sandbox returned {shape} for an input of shape {tuple(x.shape)}: {ALTERED}")
    jacobian = result.detach().to("cpu", F64).reshape(-1, n)
    return jacobian if bool(torch.isfinite(jacobian).all()) else None


def _jacobian(result: Any, function: Any, x: Any, before: list | tuple = ()) -> Claim | None:
    if not _measurable(x):
        return None
    jacobian = _claimed(result, x, "jacobian")
    outputs = lambda v: _plain(function(*before, v), "jacobian").reshape(-1)  # noqa: E731
    return None if jacobian is None else Claim(outputs, lambda terms: terms, x, jacobian, "jacobian")


def _projected_gradient(result: Any, function: Any, inputs: list, projection: Any, wrt: int = 0) -> Claim | None:
    inputs = list(inputs)
    if not (-len(inputs) <= wrt < len(inputs)) or not _measurable(inputs[wrt]) \
            or not isinstance(projection, torch.Tensor):
        return None
    weights = projection.detach().to("cpu", F64)

    def outputs(v: torch.Tensor) -> torch.Tensor:
        inputs[wrt] = v
        return (_plain(function(*inputs), "projected_gradient") * weights).reshape(-1)

    jacobian = _claimed(result, inputs[wrt], "projected_gradient", rows=1)
    total = lambda terms: terms.sum().reshape(1)  # noqa: E731
    return None if jacobian is None else Claim(outputs, total, inputs[wrt], jacobian, "projected_gradient")


CLAIMS = {"jacobian": _signature_of(_jacobian), "projected_gradient": _signature_of(_projected_gradient)}


# --- the check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One central difference: the outputs' change, what the claim predicts, and the rounding allowance."""

    change: torch.Tensor  # F(x+) - F(x-), (M,)
    predicted: torch.Tensor  # J (x+ - x-), (M,)
    spread: torch.Tensor  # the sum of the terms' changes' sizes, (M,): the change before terms cancel
    rounding: torch.Tensor  # (M,)
    ends: tuple[torch.Tensor, torch.Tensor]  # F(x+), F(x-), (M,) each


def verify(claim: Claim) -> None:
    """Raise :class:`ProbeMismatch` unless the claim predicts its function's outputs along a few steps."""
    x64 = claim.x.detach().to("cpu", F64)
    generator = torch.Generator().manual_seed(zlib.crc32(x64.numpy().tobytes()))
    scale = STEPS[claim.x.dtype] * x64.abs().clamp(min=1.0).reshape(-1)  # (N,)
    per_unit = torch.zeros(claim.jacobian.shape[0], dtype=F64)
    for _ in range(DIRECTIONS):
        direction = scale * torch.randn(x64.numel(), generator=generator, dtype=F64)
        random = _check(claim, direction, lambda step, size: _norm_error(step), "along a random direction")
        per_unit = random.change.abs() / direction.norm()  # each output's change per unit of step
    allowed = ZERO_RTOL * (claim.jacobian * scale).norm(dim=1).max()  # for a step of size 1
    for _ in range(CUTS):
        cut = _cut(claim.jacobian, generator)
        if cut is None:
            return
        columns, rows = cut
        direction = columns * scale * torch.randn(x64.numel(), generator=generator, dtype=F64)
        # a dependence a hundredth of the random step's is not judged: seen in hw2's PixelCNN at
        # 2e-3 of it (in float64, so no rounding), with autograd's zeros exact
        floor = CUT_RTOL * per_unit[rows].norm() * direction.norm()
        _check(claim, direction, lambda step, size: _zero_error(step, rows, size * torch.maximum(allowed, floor)),
               f"for the {int(rows.sum())} outputs it says do not depend on {int(columns.sum())} input entries", rows)


def _check(claim: Claim, direction: torch.Tensor, error: Callable[[Step, float], float], where: str,
           rows: torch.Tensor | None = None) -> Step:
    """One step; if it fails, the same step again (nondeterminism?), a kink at ``x``, and a step
    FINER times shorter.

    At a kink exactly at ``x`` (a ReLU whose input is exactly 0, common with binary images and
    convolutions without bias) autograd's derivative is a convention, not a limit of differences:
    the outputs ``rows`` bend there, and the step is not judged. The shorter step tells a kink
    crossed near ``x`` (its error shrinks with the step) from a forged derivative (whose does not).
    """
    first = _step(claim, direction)
    if error(first, 1.0) <= 1.0:
        return first
    again = _step(claim, direction)
    if bool(((first.change - again.change).abs() > first.rounding + again.rounding).any()):
        raise ProbeMismatch(f"{claim.what}: your function gave different outputs for the same input in two calls, "
                            "so the grader cannot check the derivative the sandbox reported (a module in training "
                            "mode with dropout, or a random draw inside the function?)")
    if _bends(claim, first, rows):
        return first
    for factor in (1.0 / FINER, *COARSER):
        if error(_step(claim, direction * factor), factor) <= 1.0:
            return first
    raise ProbeMismatch(f"{claim.what}: {ALTERED} ({where}, the outputs changed by {first.change.norm():.3g}, "
                        f"the reported derivative predicts {first.predicted.norm():.3g}, off by "
                        f"{(first.change - first.predicted).norm():.3g})")


def _step(claim: Claim, direction: torch.Tensor) -> Step:
    x64 = claim.x.detach().to("cpu", F64)
    d = direction.reshape(x64.shape)
    plus = (x64 + d).to(claim.x.dtype).to(claim.x.device)
    minus = (x64 - d).to(claim.x.dtype).to(claim.x.device)
    high, low = claim.terms(plus), claim.terms(minus)
    if high.shape != low.shape:
        raise ProbeMismatch(f"{claim.what}: your function's output changed size between calls of the same shape")
    if not bool(torch.isfinite(high).all() and torch.isfinite(low).all()):
        raise ProbeMismatch(f"{claim.what}: your function's outputs are NaN or inf next to the input where the "
                            "sandbox reported a finite derivative")
    change = claim.reduce(high - low)
    if change.numel() != claim.jacobian.shape[0]:
        raise ProbeMismatch(f"{claim.what}: your function has {change.numel()} outputs, the sandbox's Jacobian "
                            f"{claim.jacobian.shape[0]}: {ALTERED}")
    taken = (plus.to("cpu", F64) - minus.to("cpu", F64)).reshape(-1)
    epsilon = torch.finfo(claim.x.dtype).eps
    # Rounding: of the outputs themselves, and of what the function computes on the way, which
    # is bounded (to first order) by the inputs' own rounding carried through: |J| |x| eps. At
    # logits of +-100 in float32 a loss near 0 still carries errors of 100 eps.
    carried = claim.jacobian.abs() @ x64.abs().reshape(-1)
    rounding = ROUNDING * epsilon * (claim.reduce(high.abs() + low.abs()) + 2 * carried)
    return Step(change, claim.jacobian @ taken, claim.reduce((high - low).abs()), rounding,
                (claim.reduce(high), claim.reduce(low)))


def _bends(claim: Claim, step: Step, rows: torch.Tensor | None) -> bool:
    """Whether the outputs ``rows`` (all if None) bend at ``x`` along the step: F(x+) - 2 F(x) + F(x-)
    is a fiftieth of the change or more (a smooth function's is ~h times smaller than its change)."""
    centre = claim.reduce(claim.terms(claim.x))
    high, low = step.ends
    rows = slice(None) if rows is None else rows
    bend = (high - 2 * centre + low)[rows].norm() - 2 * step.rounding[rows].norm()
    return bool(bend > KINK * step.change[rows].norm())


def _norm_error(step: Step) -> float:
    """The step's error as a fraction of what is allowed (<= 1 passes)."""
    allowed = RTOL * step.predicted.norm() + SPREAD_RTOL * step.spread.norm() + step.rounding.norm()
    return float((step.change - step.predicted).norm() / allowed) if allowed > 0 else float(step.change.norm() > 0) * 2


def _zero_error(step: Step, rows: torch.Tensor, allowed: torch.Tensor) -> float:
    """How far the outputs the claim calls independent of the step moved, as a fraction of what is allowed."""
    moved = (step.change[rows].abs() - step.rounding[rows]).clamp(min=0).max()
    return float(moved / allowed) if allowed > 0 else float(moved > 0) * 2


def _cut(jacobian: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(columns S, rows U) with J[U, S] == 0, grown from a random column that has a zero; None without zeros."""
    zero = jacobian == 0
    candidates = zero.any(dim=0).nonzero().reshape(-1)
    if candidates.numel() == 0:
        return None
    column = candidates[torch.randint(candidates.numel(), (1,), generator=generator)].item()
    rows = zero[:, column]
    columns = zero[rows].all(dim=0)
    return columns.to(F64), rows
