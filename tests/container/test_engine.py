"""The engine helpers that need no engine: which GPU a submission gets, and how it is requested."""

from __future__ import annotations

import threading
import time

import pytest

from autograder.container import engine, runner
from autograder.config import load_config
from autograder.errors import GraderError
from tests.conftest import REPO


@pytest.fixture
def two_gpus(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_GPUS", "0,1")
    monkeypatch.setattr(engine, "GPU_LOCKS", tmp_path / "locks")


def test_one_submission_per_gpu_across_threads(two_gpus):
    held: list[str] = []
    release = threading.Event()
    third: list[str] = []

    def hold():
        with engine.gpu_slot(poll_s=0.01) as gpu:
            held.append(gpu)
            release.wait(5)

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for thread in holders:
        thread.start()
    while len(held) < 2:
        time.sleep(0.01)
    assert sorted(held) == ["0", "1"]

    def wait_for_one():
        with engine.gpu_slot(poll_s=0.01) as gpu:
            third.append(gpu)

    waiter = threading.Thread(target=wait_for_one)
    waiter.start()
    time.sleep(0.2)
    assert third == []  # both GPUs are held: the third submission waits
    release.set()
    waiter.join(5)
    for thread in holders:
        thread.join(5)
    assert third and third[0] in ("0", "1")


def test_no_gpu_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_GPUS", "")
    monkeypatch.setattr(engine, "GPU_LOCKS", tmp_path / "locks")
    with pytest.raises(GraderError, match="no GPU"):
        with engine.gpu_slot():
            pass


class FakeClient:
    def __init__(self, components):
        self.components = components

    def version(self):
        return {"Components": self.components}


def test_gpu_request_in_each_engine_form():
    docker_request = engine.gpu_request(FakeClient([{"Name": "Engine", "Version": "27.1.0"}]), "1")
    assert docker_request["DeviceIDs"] == ["1"] and docker_request["Capabilities"] == [["gpu"]]
    podman_request = engine.gpu_request(FakeClient([{"Name": "Podman Engine", "Version": "5.4.2"}]), "1")
    assert podman_request["Driver"] == "cdi" and podman_request["DeviceIDs"] == ["nvidia.com/gpu=1"]
    with pytest.raises(GraderError, match="Podman 5.4 or later"):
        engine.gpu_request(FakeClient([{"Name": "Podman Engine", "Version": "4.3.1"}]), "0")


def test_container_spec_confines_and_sizes_from_grading_toml(tmp_path):
    hw1 = load_config(REPO / "grading.toml").assignment("hw1")
    spec = runner.container_spec(hw1, REPO / "solutions" / "hw1", tmp_path, solution=REPO / "solutions" / "hw1",
                                 device="cpu", tests=(), gpu=None)
    assert spec["network_mode"] == "none" and spec["read_only"] is True
    assert spec["cap_drop"] == ["ALL"] and set(spec["cap_add"]) == set(runner.CAPABILITIES)
    assert spec["security_opt"] == ["no-new-privileges"]
    assert spec["mem_limit"] == spec["memswap_limit"] == f"{hw1.sandbox.memory_mb + runner.GRADER_MEMORY_MB}m"
    assert spec["pids_limit"] > hw1.sandbox.processes
    assert "size=" in spec["tmpfs"]["/tmp"]
    writable = [m for m in spec["mounts"] if not m["ReadOnly"]]
    assert [m["Target"] for m in writable] == ["/results"]
    assert all(m["Target"].startswith(("/grading", "/input", "/results")) for m in spec["mounts"])
    assert 'source = "/grading/assignment"' in (tmp_path / "assignment.toml").read_text()
