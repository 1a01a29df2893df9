"""The machine's cgroup limits, read from v1 and v2 layouts written the way the kernel shows
them: the memory limit the sandbox's fits under, and the CPU quota that caps torch's threads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder.sandbox import resources

MB = 1 << 20


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_v2_smallest_limit_along_the_path(tmp_path):
    root = tmp_path / "cgroup"
    write(tmp_path / "self", "0::/grading/submission\n")
    write(root / "memory.max", "max\n")
    write(root / "grading" / "memory.max", f"{3072 * MB}\n")
    write(root / "grading" / "submission" / "memory.max", "max\n")
    assert resources.cgroup_memory_limit(tmp_path / "self", root) == 3072 * MB


def test_v2_inside_a_cgroup_namespace(tmp_path):
    """In a container the path reads "/" and the limit sits at the mount itself."""
    root = tmp_path / "cgroup"
    write(tmp_path / "self", "0::/\n")
    write(root / "memory.max", f"{2048 * MB}\n")
    assert resources.cgroup_memory_limit(tmp_path / "self", root) == 2048 * MB


def test_v1_hybrid_and_unlimited(tmp_path):
    root = tmp_path / "cgroup"
    write(tmp_path / "self", "9:name=systemd:/\n4:memory:/docker/abc\n1:cpu,cpuacct:/\n0::/\n")
    write(root / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
    write(root / "memory" / "docker" / "abc" / "memory.limit_in_bytes", "9223372036854771712\n")
    assert resources.cgroup_memory_limit(tmp_path / "self", root) is None
    write(root / "memory" / "docker" / "memory.limit_in_bytes", f"{6144 * MB}\n")
    assert resources.cgroup_memory_limit(tmp_path / "self", root) == 6144 * MB


def test_v1_path_hidden_by_the_namespace_falls_back_to_the_mount(tmp_path):
    root = tmp_path / "cgroup"
    write(tmp_path / "self", "4:memory:/docker/not-visible-here\n")
    write(root / "memory" / "memory.limit_in_bytes", f"{1024 * MB}\n")
    assert resources.cgroup_memory_limit(tmp_path / "self", root) == 1024 * MB


def test_no_cgroup_file(tmp_path):
    assert resources.cgroup_memory_limit(tmp_path / "missing", tmp_path) is None


@pytest.mark.parametrize("requested, limit_mb, expected", [
    (4096, None, 4096),  # no machine limit
    (4096, 8192, 4096),  # room enough
    (4096, 2048, 2048 - resources.GRADER_RESERVE_MB),  # Gradescope at 2 GB
    (4096, 512, 128),  # never below a floor the grader can still start workers in
])
def test_fit(requested, limit_mb, expected):
    got, note = resources.fit(requested, None if limit_mb is None else limit_mb * MB)
    assert got == expected
    assert (note is None) == (got == requested)
    if note:
        assert f"from {requested} MB to {expected} MB" in note and f"{limit_mb} MB" in note


def test_this_machine_reads_without_error():
    limit = resources.cgroup_memory_limit()
    assert limit is None or limit > 0


def test_cpu_quota_v2(tmp_path):
    root = tmp_path / "cgroup"
    write(tmp_path / "self", "0::/gradescope\n")
    write(root / "cpu.max", "max 100000\n")
    write(root / "gradescope" / "cpu.max", "150000 100000\n")
    assert resources.cgroup_cpu_quota(tmp_path / "self", root) == 1.5
    write(root / "gradescope" / "cpu.max", "max 100000\n")
    assert resources.cgroup_cpu_quota(tmp_path / "self", root) is None


def test_cpu_quota_v1_and_cores(tmp_path):
    root = tmp_path / "cgroup"
    write(tmp_path / "self", "3:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n")
    folder = root / "cpu,cpuacct" / "docker" / "abc"
    write(folder / "cpu.cfs_quota_us", "50000\n")
    write(folder / "cpu.cfs_period_us", "100000\n")
    assert resources.cgroup_cpu_quota(tmp_path / "self", root) == 0.5
    assert resources.available_cores(tmp_path / "self", root) == 1  # half a CPU (Gradescope's default) is one thread
    write(folder / "cpu.cfs_quota_us", "-1\n")
    assert resources.cgroup_cpu_quota(tmp_path / "self", root) is None
    assert resources.available_cores(tmp_path / "self", root) == len(os.sched_getaffinity(0))
