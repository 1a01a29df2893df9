"""Batch grading for TAs: every submission of a folder (or a Gradescope export), in parallel, resumable.

The stages are in :mod:`autograder.batch.run` (:func:`run_batch`); workers
(:mod:`~autograder.batch.worker`) import only what grading needs, so this package imports
nothing heavy by itself.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_batch"]


def __getattr__(name: str) -> Any:
    if name == "run_batch":
        from autograder.batch.run import run_batch

        return run_batch
    raise AttributeError(name)
