"""The container engine: which one, how to reach it, which image, which GPU.

Any engine with Docker's API works through the ``docker`` Python SDK: Docker itself, or
Podman's ``podman system service`` (``scripts/podman-setup.sh`` starts it here). The
engine is ``DOCKER_HOST`` when set, else the first socket of :data:`SOCKETS` that exists.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from autograder.errors import GraderError

SOCKETS = ("/run/podman/podman.sock", "/var/run/docker.sock")
IMAGES = {"cpu": "localhost/autograder:latest", "cuda": "localhost/autograder:cuda"}
API_TIMEOUT = 60.0  # seconds for one API call (waiting for a container has its own deadline)
GPU_LOCKS = Path(os.environ.get("AUTOGRADER_GPU_LOCKS", "/tmp/autograder-gpu-locks"))


def engine_url() -> str | None:
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    for socket_path in SOCKETS:
        if Path(socket_path).exists():
            return f"unix://{socket_path}"
    return None


def connect(url: str | None = None) -> Any:
    """A client for the engine (a ``docker.DockerClient``), checked with a ping."""
    try:
        import docker
    except ImportError:
        raise GraderError("the container runner needs the docker package: pip install 'autograder[container]'") from None
    url = url or engine_url()
    if url is None:
        raise GraderError("no container engine: set DOCKER_HOST, or start one (scripts/podman-setup.sh starts Podman)")
    try:
        client = docker.DockerClient(base_url=url, timeout=API_TIMEOUT)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - the SDK raises several unrelated types here
        raise GraderError(f"the container engine at {url} does not answer: {exc}") from None
    return client


PODMAN_CDI_VERSION = (5, 4)  # the first Podman whose Docker-compatible API honours CDI device requests


def gpu_request(client: Any, gpu: str) -> Any:
    """The device request that gives a container GPU ``gpu``, in the form this engine honours.

    Docker (with the NVIDIA Container Toolkit) takes a "gpu" capability and the device id;
    Podman takes a CDI device name (``nvidia-ctk cdi generate`` writes them), and only from
    5.4 on: older Podman accepts the request and silently attaches nothing.
    """
    from docker.types import DeviceRequest

    components = {c.get("Name", ""): c.get("Version", "") for c in client.version().get("Components", [])}
    podman = components.get("Podman Engine")
    if podman is None:
        return DeviceRequest(device_ids=[gpu], capabilities=[["gpu"]])
    version = tuple(int(part) for part in re.findall(r"\d+", podman)[:2])
    if version < PODMAN_CDI_VERSION:
        raise GraderError(f"--device cuda in containers needs Podman 5.4 or later (CDI device requests); "
                          f"this engine is Podman {podman}")
    return DeviceRequest(driver="cdi", device_ids=[f"nvidia.com/gpu={gpu}"])


def image_name(device: str, image: str | None = None) -> str:
    """The image to grade in: ``image``, else ``AUTOGRADER_IMAGE`` (or ``AUTOGRADER_CUDA_IMAGE``), else the default."""
    if image:
        return image
    variable = "AUTOGRADER_CUDA_IMAGE" if device == "cuda" else "AUTOGRADER_IMAGE"
    return os.environ.get(variable) or IMAGES[device]


def gpu_ids() -> list[str]:
    """The GPUs submissions may use: ``AUTOGRADER_GPUS`` ("0,1"), else CUDA_VISIBLE_DEVICES, else /dev/nvidiaN."""
    for variable in ("AUTOGRADER_GPUS", "CUDA_VISIBLE_DEVICES"):
        value = os.environ.get(variable)
        if value is not None:
            return [v.strip() for v in value.split(",") if v.strip()]
    nodes = [p.name for p in Path("/dev").glob("nvidia*") if re.fullmatch(r"nvidia\d+", p.name)]
    return sorted((n.removeprefix("nvidia") for n in nodes), key=int)


@contextmanager
def gpu_slot(poll_s: float = 0.5) -> Iterator[str]:
    """Hold one GPU for one submission; waits while every GPU is held.

    A ``flock`` per GPU, so concurrent gradings in threads or in separate processes on this
    machine never share a GPU (an OOM or a stuck kernel stays with its own submission).
    """
    ids = gpu_ids()
    if not ids:
        raise GraderError("--device cuda was asked for, but this machine has no GPU (set AUTOGRADER_GPUS to name them)")
    GPU_LOCKS.mkdir(parents=True, exist_ok=True)
    while True:
        for gpu in ids:
            handle = open(GPU_LOCKS / f"gpu-{gpu}.lock", "a")  # noqa: SIM115 - held until the submission ends
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield gpu
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        time.sleep(poll_s)
