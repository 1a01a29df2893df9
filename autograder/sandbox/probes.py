"""Instructor probes: small measurements that must run next to the student's objects.

A test calls ``student.probe("name", ...)``; the probe runs inside the sandbox (where the
student's ``nn.Module`` lives) and returns plain data, which the grader then judges. A probe
measures, it never decides: pass/fail stays on the grader's side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

PROBES: dict[str, Callable[..., Any]] = {}


def probe(function: Callable[..., Any]) -> Callable[..., Any]:
    PROBES[function.__name__] = function
    return function


def run(name: str, *args: Any, **kwargs: Any) -> Any:
    if name not in PROBES:
        raise KeyError(f"unknown probe {name!r} (known: {', '.join(sorted(PROBES))})")
    return PROBES[name](*args, **kwargs)


def _first(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, (tuple, list)) else output


@probe
def projected_gradient(function: Callable, inputs: list, projection: torch.Tensor, wrt: int = 0) -> torch.Tensor:
    """d(function(*inputs) . projection) / d(inputs[wrt]); a random projection, not a sum,
    so that normalisation layers cannot hide a dependence."""
    inputs = list(inputs)
    x = inputs[wrt].detach().clone().requires_grad_(True)
    inputs[wrt] = x
    output = _first(function(*inputs))
    (gradient,) = torch.autograd.grad((output * projection.to(output.dtype)).sum(), x, allow_unused=True)
    return torch.zeros_like(x) if gradient is None else gradient


@probe
def jacobian(function: Callable, x: torch.Tensor) -> torch.Tensor:
    """The full Jacobian of ``function`` at ``x`` (outputs flattened first, inputs last)."""
    return torch.autograd.functional.jacobian(lambda v: _first(function(v)), x)


@probe
def reinitialize(module: torch.nn.Module, std: float = 0.2, seed: int = 0) -> int:
    """Redraw every parameter from N(0, std^2), so gradients that should flow are not tiny."""
    generator = torch.Generator().manual_seed(seed)
    count = 0
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype) * std)
            count += parameter.numel()
    return count
