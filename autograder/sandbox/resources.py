"""What this machine lets the grader use: its cgroup's memory limit and CPU quota.

Containers and Gradescope set these limits with cgroups, while ``os.sched_getaffinity`` and
``/proc/meminfo`` still show the whole host. Two consequences:

Cores. torch would start one thread per host core on a machine that has one CPU's worth of
quota, and its threads then wait on each other: measured here, two gradings sharing two
cores with 2 threads each took 120 s and more for a training test that takes 1.7 s alone.
:func:`available_cores` counts the quota too.

Memory. The sandbox stops student code at ``memory_mb`` of added address space, and the test fails
with a message that says so. If the machine's memory limit (its cgroup's) is lower than
the grader's own use plus ``memory_mb``, the machine's out-of-memory killer would strike
first and take the grader with it: no results file. So the limit is lowered to fit, and the
results say so.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

GRADER_RESERVE_MB = 768  # the grader and the sandbox server, resident (hw1 measured 464 MB), plus room
UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a number near 2**63
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def available_cores(proc_cgroup: Path = PROC_CGROUP, root: Path = CGROUP_ROOT) -> int:
    """The cores this process may use: its CPU affinity, capped by its cgroup's CPU quota (rounded up)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota(proc_cgroup, root)
    return max(1, min(cores, math.ceil(quota))) if quota else cores


def cgroup_cpu_quota(proc_cgroup: Path = PROC_CGROUP, root: Path = CGROUP_ROOT) -> float | None:
    """The smallest CPU quota (in CPUs) on this process's cgroup path, v2 or v1; None when unlimited."""
    quotas = []
    for mount, path in hierarchies(proc_cgroup, root, "cpu"):
        for folder in folders(mount, path):
            if mount == root:  # v2: "max 100000" or "150000 100000"
                fields = read(folder / "cpu.max").split()
                if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit() and int(fields[1]):
                    quotas.append(int(fields[0]) / int(fields[1]))
            else:  # v1: cpu.cfs_quota_us is -1 when unlimited
                quota, period = read(folder / "cpu.cfs_quota_us"), read(folder / "cpu.cfs_period_us")
                if quota.isdigit() and period.isdigit() and int(quota) > 0 and int(period):
                    quotas.append(int(quota) / int(period))
    return min(quotas) if quotas else None


def cgroup_memory_limit(proc_cgroup: Path = PROC_CGROUP, root: Path = CGROUP_ROOT) -> int | None:
    """The smallest memory limit (bytes) on this process's cgroup path, v2 or v1; None when unlimited."""
    limits = []
    for mount, path in hierarchies(proc_cgroup, root, "memory"):
        name = "memory.max" if mount == root else "memory.limit_in_bytes"
        for folder in folders(mount, path):
            text = read(folder / name)
            if text.isdigit() and int(text) < UNLIMITED:
                limits.append(int(text))
    return min(limits) if limits else None


def hierarchies(proc_cgroup: Path, root: Path, controller: str) -> list[tuple[Path, str]]:
    """(mount, path) of each hierarchy that can limit ``controller``: v2's one (mount is ``root``),
    v1's own mount. A hybrid machine lists both."""
    found = []
    for line in read(proc_cgroup).splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            found.append((root, path))
        elif controller in controllers.split(","):
            mount = root / controllers  # v1 mounts "cpu,cpuacct" under that name (and links "cpu" to it)
            found.append((mount if mount.is_dir() else root / controller, path))
    return found


def folders(mount: Path, path: str) -> list[Path]:
    """The cgroup's folder and its parents up to the mount. In a container whose cgroup namespace
    hides the path, the folder is the mount itself."""
    folder = mount / path.strip("/")
    if not folder.is_dir():
        folder = mount
    found = [folder]
    while folder != mount and mount in folder.parents:
        folder = folder.parent
        found.append(folder)
    return found


def read(path: Path) -> str:
    """The file's text, stripped; empty where it cannot be read (a controller this kernel lacks)."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def fit(memory_mb: int, limit_bytes: int | None) -> tuple[int, str | None]:
    """``memory_mb`` lowered to fit under ``limit_bytes`` with the grader's reserve; and a note if it was."""
    if limit_bytes is None:
        return memory_mb, None
    limit_mb = limit_bytes >> 20
    room = max(limit_mb - GRADER_RESERVE_MB, 128)
    if memory_mb <= room:
        return memory_mb, None
    return room, (f"memory limit for your code lowered from {memory_mb} MB to {room} MB, to fit this machine's "
                  f"{limit_mb} MB")
