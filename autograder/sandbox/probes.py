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
def jacobian(function: Callable, x: torch.Tensor, before: list | tuple = ()) -> torch.Tensor:
    """The full Jacobian of ``function(*before, x)`` with respect to ``x`` (output dimensions
    first, input dimensions last); ``before`` holds the arguments it is not taken over."""
    return torch.autograd.functional.jacobian(lambda v: _first(function(*before, v)), x)


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


OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}


@probe
def optimizer(module: torch.nn.Module, kind: str = "adam", **settings: Any) -> torch.optim.Optimizer:
    """An optimizer over ``module``'s parameters, made in the sandbox so a test can hand it to
    the student's training step (it comes back to the grader as a handle)."""
    if kind not in OPTIMIZERS:
        raise KeyError(f"unknown optimizer {kind!r} (known: {', '.join(sorted(OPTIMIZERS))})")
    if "betas" in settings:  # a JSON list; torch 2.x wants a tuple of floats
        settings["betas"] = tuple(float(b) for b in settings["betas"])
    return OPTIMIZERS[kind](module.parameters(), **settings)


@probe
def gradients(module: torch.nn.Module) -> dict[str, torch.Tensor | None]:
    """Each parameter's ``.grad`` by name (None where no gradient reached it)."""
    return {name: None if p.grad is None else p.grad.detach().clone() for name, p in module.named_parameters()}


@probe
def fit_bernoulli(module: torch.nn.Module, images: torch.Tensor, *, steps: int, batch_size: int, lr: float,
                  seed: int = 0) -> list[float]:
    """Train ``module`` (binary images -> logits of the same shape) with Adam on the binary
    cross-entropy summed over pixels; returns the loss per step in nats per image.

    The loop is the grader's, so a training check measures the student's model, not their loop.
    """
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    losses = []
    module.train()
    for _ in range(steps):
        batch = images[torch.randint(len(images), (batch_size,), generator=generator)]
        logits = module(batch)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch, reduction="sum") / batch_size
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    module.eval()
    return losses
