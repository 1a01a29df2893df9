"""The container engine for tests marked ``container``: found, or prepared, or skipped with the reason.

``make test`` runs ``scripts/podman-setup.sh`` first; run alone, these tests run it once
themselves when no engine answers. Where it cannot work (not root, no apt-get, no
Podman), they skip and say why (the script's reason, from build/podman-setup.status).
"""

from __future__ import annotations

import subprocess

import pytest

from autograder.container import engine
from autograder.errors import GraderError
from tests.conftest import REPO

SETUP = REPO / "scripts" / "podman-setup.sh"
STATUS = REPO / "build" / "podman-setup.status"
_state: dict[str, object] = {}


def _ready() -> str | None:
    """None when the engine answers and has the image; else why not."""
    try:
        client = engine.connect()
    except GraderError as exc:
        return str(exc)
    try:
        client.images.get(engine.image_name("cpu"))
    except Exception as exc:  # noqa: BLE001 - docker.errors.ImageNotFound and transport errors alike
        return f"no image {engine.image_name('cpu')}: {exc}"
    finally:
        client.close()
    return None


def _prepare() -> str | None:
    reason = _ready()
    if reason is None:
        return None
    status = STATUS.read_text().strip() if STATUS.is_file() else ""
    if status.startswith("failed"):  # make test ran the script just before, and it could not work
        return f"{reason}; scripts/podman-setup.sh {status}"
    try:
        run = subprocess.run([str(SETUP)], cwd=REPO, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{reason}; scripts/podman-setup.sh did not run: {exc}"
    if run.returncode != 0:
        return f"{reason}; scripts/podman-setup.sh: {run.stderr.strip().splitlines()[-1:] or run.returncode}"
    return _ready()


@pytest.fixture(scope="session")
def container_engine() -> None:
    """Skips the test, with the reason, when no engine and image can be had."""
    if "reason" not in _state:
        _state["reason"] = _prepare()
    if _state["reason"] is not None:
        pytest.skip(f"no container engine: {_state['reason']}")
