"""A cgroup per sandbox: one memory limit for all its processes together, a CPU quota, a process count.

The grader (``client.py``, trusted) makes a :class:`SandboxGroup` for each sandbox server and
moves the server into it; every worker the server forks, and all they start, follow.

Why. RLIMIT_AS bounds one process: 40 children of 120 MB each, every one under it, filled a
2 GB machine and the kernel's OOM killer took the grader (no results file); in ``batch --jobs 2``
the neighbour went down too. A memory cgroup bounds them together, and when it is full its OOM
killer chooses among the group's processes only. Where the machine runs out first, the sandbox's
processes go first: :func:`first_for_oom_killer`. CPU: 30 busy processes that called setsid()
slowed a neighbour's test from 7 s to 60 s; a quota holds the sandbox to its share of cores
whatever it forks. ``pids.max`` stops a fork bomb under any uid (RLIMIT_NPROC is ignored for root).

Layout: ``<the grader's cgroup>/autograder/<pid>.<start>-<name>``, once in v2's unified hierarchy
or in each of v1's memory, cpu and pids hierarchies. The owner's pid and start time in the name
let :func:`remove_stale` tell a dead grader's leftovers from a live neighbour's.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.sandbox import resources

PARENT = "autograder"
LEAF = "autograder-grader"  # v2: the grader's own processes, moved out of a cgroup that is to hold groups
CONTROLLERS = ("memory", "cpu", "pids")
CPU_PERIOD_US = 100_000
KILL_TIMEOUT = 5.0
OOM_SCORE_ADJ = Path("/proc/self/oom_score_adj")


class CgroupUnavailable(Exception):
    """No cgroup can be had here; the message says why, for the results' notes."""


@dataclass(frozen=True)
class SandboxGroup:
    """One sandbox's cgroup: its folder in each controller's hierarchy (v2: the same folder for all)."""

    version: int
    folders: dict[str, Path]

    @classmethod
    def create(cls, name: str, *, memory_mb: int, cpus: float, processes: int,
               proc_cgroup: Path = resources.PROC_CGROUP, root: Path = resources.CGROUP_ROOT) -> SandboxGroup:
        """A new group with these limits, inside the grader's own cgroup; CgroupUnavailable says why not."""
        if memory_mb <= 0 or cpus <= 0 or processes <= 0 or "/" in name or name.startswith("."):
            raise ValueError(f"bad cgroup request: {name!r}, {memory_mb} MB, {cpus} CPUs, {processes} processes")
        version, graders = grader_folders(proc_cgroup, root)
        cpus = min(cpus, resources.cgroup_cpu_quota(proc_cgroup, root) or cpus)  # v1 refuses more than the parent
        folder_name = f"{owner_tag(os.getpid())}-{name}"
        group = cls(version, {controller: folder / PARENT / folder_name for controller, folder in graders.items()})
        made: list[Path] = []
        try:
            if version == 2:
                _delegate(graders["memory"])
            for folder in group.unique_folders():
                folder.parent.mkdir(exist_ok=True)
                folder.mkdir()
                made.append(folder)
            group._limit(memory_mb << 20, max(1000, round(cpus * CPU_PERIOD_US)), processes)
        except OSError as exc:
            for folder in made:  # still empty: nothing was added
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise CgroupUnavailable(_why(exc)) from None
        return group

    def unique_folders(self) -> list[Path]:
        return list(dict.fromkeys(self.folders.values()))

    def _limit(self, memory_bytes: int, cpu_quota_us: int, processes: int) -> None:
        if self.version == 2:
            files = [("memory", "memory.max", memory_bytes, True), ("memory", "memory.swap.max", 0, False),
                     ("cpu", "cpu.max", f"{cpu_quota_us} {CPU_PERIOD_US}", True)]
        else:  # the memory limit first: v1 refuses a memsw limit below it
            files = [("memory", "memory.limit_in_bytes", memory_bytes, True),
                     ("memory", "memory.memsw.limit_in_bytes", memory_bytes, False),  # only with swap accounting
                     ("cpu", "cpu.cfs_period_us", CPU_PERIOD_US, True), ("cpu", "cpu.cfs_quota_us", cpu_quota_us, True)]
        for controller, file, value, required in [*files, ("pids", "pids.max", processes, True)]:
            path = self.folders[controller] / file
            if required or path.exists():
                _write(path, value)

    def add(self, pid: int) -> None:
        """Move a process in; its future children are born inside. OSError if it cannot be moved."""
        for folder in self.unique_folders():
            _write(folder / "cgroup.procs", pid)

    def add_tree(self, pid: int) -> None:
        """Move a process and every descendant it has now: children forked before the move stay
        where they were (bubblewrap's). Scans until a pass finds nothing new, for children forked meanwhile."""
        moved: set[int] = set()
        while todo := ({pid} | descendants(pid)) - moved:
            for each in todo:
                try:
                    self.add(each)
                except ProcessLookupError:  # exited: nothing to move
                    pass
            moved |= todo

    def members(self) -> set[int]:
        return {int(pid) for folder in self.unique_folders() for pid in resources.read(folder / "cgroup.procs").split()}

    def oom_kills(self) -> int:
        """How many processes the group's own OOM killer has killed so far (cumulative)."""
        events = "memory.events" if self.version == 2 else "memory.oom_control"  # v1: field since Linux 4.13
        for line in resources.read(self.folders["memory"] / events).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.isdigit():
                return int(value)
        return 0

    def limit_hits(self) -> int:
        """How often the group's memory use reached its limit so far (cumulative): the kernel then
        reclaims, stalls or kills. v1: memory.failcnt; v2: memory.events ``max``."""
        if self.version == 1:
            count = resources.read(self.folders["memory"] / "memory.failcnt").strip()
            return int(count) if count.isdigit() else 0
        for line in resources.read(self.folders["memory"] / "memory.events").splitlines():
            key, _, value = line.partition(" ")
            if key == "max" and value.isdigit():
                return int(value)
        return 0

    def kill(self, timeout: float = KILL_TIMEOUT) -> bool:
        """SIGKILL every member, setsid() or not, until none is left; False if some outlived ``timeout``.

        v2's cgroup.kill does it in one write. Elsewhere a member may fork between the read
        and the kill; pids.max bounds how often, so repeating converges. Zombies are not members.
        """
        deadline = time.monotonic() + timeout
        kill_file = self.folders["memory"] / "cgroup.kill"
        if self.version == 2 and kill_file.exists():
            _write(kill_file, 1)
        while pids := self.members():
            if time.monotonic() > deadline:
                return False
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.005)
        return True

    def close(self, timeout: float = KILL_TIMEOUT) -> bool:
        """Kill the members and remove the folders; False if something is left (remove_stale retries it later)."""
        if not self.kill(timeout):
            return False
        deadline = time.monotonic() + timeout
        for folder in self.unique_folders():
            # groups made inside this one (a grader run inside it makes its sandboxes' there), deepest first
            nested = sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
            for child in nested:
                with contextlib.suppress(OSError):
                    child.rmdir()
            while True:
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:  # EBUSY while the last members finish exiting
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        return False
                    time.sleep(0.01)
        return True


def grader_folders(proc_cgroup: Path = resources.PROC_CGROUP,
                   root: Path = resources.CGROUP_ROOT) -> tuple[int, dict[str, Path]]:
    """The cgroup version and the grader's own cgroup folder for each controller.

    v2 when ``root`` is the unified hierarchy (it has cgroup.controllers); otherwise v1's
    per-controller mounts, ignoring a hybrid machine's controller-less v2 mount.
    """
    if (root / "cgroup.controllers").is_file():
        paths = [path for mount, path in resources.hierarchies(proc_cgroup, root, "memory") if mount == root]
        if not paths:
            raise CgroupUnavailable(f"{proc_cgroup} names no cgroup v2 path")
        folder = resources.folders(root, paths[0])[0]
        if folder.name == LEAF:  # moved there by an earlier group: the groups go beside it
            folder = folder.parent
        return 2, dict.fromkeys(CONTROLLERS, folder)
    found, missing = {}, []
    for controller in CONTROLLERS:
        mounts = [(mount, path) for mount, path in resources.hierarchies(proc_cgroup, root, controller)
                  if mount != root and mount.is_dir()]
        if mounts:
            found[controller] = resources.folders(*mounts[0])[0]
        else:
            missing.append(controller)
    if missing:
        raise CgroupUnavailable(f"no cgroup hierarchy for {', '.join(missing)} (neither v2 nor v1 under {root})")
    return 1, found


def _delegate(folder: Path) -> None:
    """Let v2 groups under ``folder``/autograder use the controllers.

    v2's "no internal processes" rule: a cgroup other than the root that has processes cannot
    hand controllers to children. So the processes there (the grader's) move to a leaf first.
    """
    offered = resources.read(folder / "cgroup.controllers").split()
    missing = [controller for controller in CONTROLLERS if controller not in offered]
    if missing:
        raise CgroupUnavailable(f"{folder} does not offer the {', '.join(missing)} controller(s)")
    enable = " ".join(f"+{controller}" for controller in CONTROLLERS)
    if not set(CONTROLLERS) <= set(resources.read(folder / "cgroup.subtree_control").split()):
        if (folder / "cgroup.type").exists() and resources.read(folder / "cgroup.procs"):  # not the root
            leaf = folder / LEAF
            leaf.mkdir(exist_ok=True)
            for pid in resources.read(folder / "cgroup.procs").split():
                try:
                    _write(leaf / "cgroup.procs", pid)
                except ProcessLookupError:
                    pass
        _write(folder / "cgroup.subtree_control", enable)
    (folder / PARENT).mkdir(exist_ok=True)
    _write(folder / PARENT / "cgroup.subtree_control", enable)


def remove_stale(proc_cgroup: Path = resources.PROC_CGROUP, root: Path = resources.CGROUP_ROOT) -> list[str]:
    """Close the groups of graders that died before closing them; the names of those removed.

    Call once when the grader starts. A group whose owner is alive (a neighbour) is left alone.
    """
    try:
        version, graders = grader_folders(proc_cgroup, root)
    except CgroupUnavailable:
        return []
    parents = {controller: folder / PARENT for controller, folder in graders.items()}
    names = {entry.name for parent in set(parents.values()) if parent.is_dir()
             for entry in parent.iterdir() if entry.is_dir()}
    removed = []
    for name in sorted(names):
        tag = name.partition("-")[0]
        if tag.count(".") == 1 and not owner_alive(tag):
            group = SandboxGroup(version, {controller: parent / name for controller, parent in parents.items()})
            if group.close():
                removed.append(name)
    return removed


def owner_tag(pid: int) -> str:
    """``pid.start``: a process's pid and start time, which together never name another process."""
    return f"{pid}.{_start_time(pid)}"


def owner_alive(tag: str) -> bool:
    pid, _, start = tag.partition(".")
    return pid.isdigit() and _start_time(int(pid)) == start


def _start_time(pid: int) -> str:
    """Field 22 of /proc/PID/stat (clock ticks since boot); empty once the process is gone."""
    stat = resources.read(Path(f"/proc/{pid}/stat"))
    fields = stat.rpartition(")")[2].split()  # the command name in parentheses may hold spaces
    return fields[19] if len(fields) > 19 else ""


def descendants(pid: int) -> set[int]:
    """The process's children, their children, and so on, as /proc shows them now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = resources.read(entry / "stat").rpartition(")")[2].split()
            if len(fields) > 1:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def first_for_oom_killer(path: Path = OOM_SCORE_ADJ) -> None:
    """Make this process, and all it forks, the OOM killer's first choice, before the grader, when
    the whole machine runs out. Called in the sandbox's loader after the fork and before its uid drop:
    the score survives both, while after setuid() /proc/self is root's and this write is refused."""
    path.write_text("1000")


def _write(path: Path, value: object) -> None:
    path.write_text(str(value))  # one write() call: cgroup files take one value per write


def _why(exc: OSError) -> str:
    reason = f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)
    return reason + (" (the grader does not run as root)" if os.geteuid() else "")
