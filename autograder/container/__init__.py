"""Grading in containers: one container per submission, through Docker's API (Docker or Podman).

The grader's image is built from the repository's ``Dockerfile``; :func:`grade_in_container`
(``autograder grade --runner container``) runs one submission in it. See README, Containers.
Imported lazily: inside the container, ``python -m autograder.container.inside`` must not
pay for the host side's imports (torch, pytest) before its sandbox starts importing torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["grade_in_container"]


def __getattr__(name: str) -> Any:
    if name == "grade_in_container":
        from autograder.container.runner import grade_in_container

        return grade_in_container
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
