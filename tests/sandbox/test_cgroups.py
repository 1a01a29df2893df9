"""A cgroup per sandbox, against the real kernel: a memory limit that the group's own OOM killer
enforces, a CPU quota, a process count, a close() that leaves nothing behind; and v2's file
layout on a fake tree where this machine is v1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import autograder
from autograder.sandbox import cgroups
from autograder.sandbox.cgroups import CgroupUnavailable, SandboxGroup

MB = 1 << 20
REPO = Path(autograder.__file__).parents[1]
GATE = "import sys; sys.stdin.readline()\n"  # the process waits here until it is in its group


def machine_version() -> int | None:
    try:
        return cgroups.grader_folders()[0]
    except CgroupUnavailable:
        return None


@pytest.fixture
def make_group():
    """SandboxGroup.create on this machine's kernel; the test skips, saying why, where none can be had."""
    made = []

    def make(name: str, *, memory_mb: int = 256, cpus: float = 1.0, processes: int = 64) -> SandboxGroup:
        try:
            group = SandboxGroup.create(name, memory_mb=memory_mb, cpus=cpus, processes=processes)
        except CgroupUnavailable as exc:
            pytest.skip(f"no cgroup can be made on this machine: {exc}")
        made.append(group)
        return group

    yield make
    for group in made:
        group.close()


def start_in(group: SandboxGroup, code: str) -> subprocess.Popen:
    """A Python process running ``code`` once it has been moved into ``group``, as the grader moves a server."""
    process = subprocess.Popen([sys.executable, "-I", "-c", GATE + code], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    group.add(process.pid)
    process.stdin.write("go\n")
    process.stdin.flush()
    return process


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_created_with_its_limits_and_removed(make_group):
    group = make_group("limits", memory_mb=100, cpus=0.5, processes=8)
    memory, cpu, pids = group.folders["memory"], group.folders["cpu"], group.folders["pids"]
    assert pids.name.startswith(f"{os.getpid()}.") and pids.parent.name == cgroups.PARENT
    if group.version == 1:
        assert (memory / "memory.limit_in_bytes").read_text().strip() == str(100 * MB)
        if (memory / "memory.memsw.limit_in_bytes").exists():
            assert (memory / "memory.memsw.limit_in_bytes").read_text().strip() == str(100 * MB)
        assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert (cpu / "cpu.cfs_period_us").read_text().strip() == "100000"
    else:
        assert (memory / "memory.max").read_text().strip() == str(100 * MB)
        assert (cpu / "cpu.max").read_text().strip() == "50000 100000"
    assert (pids / "pids.max").read_text().strip() == "8"
    assert group.members() == set() and group.oom_kills() == 0
    assert group.close()
    assert not any(folder.exists() for folder in group.unique_folders())


def test_memory_spread_over_children_is_killed_inside_the_group(make_group):
    """Five children of 60 MB each, under 100 MB for the group: the kernel kills children, not us."""
    group = make_group("oom", memory_mb=100)
    process = start_in(group, """
import os, time
children = []
for _ in range(5):
    pid = os.fork()
    if pid == 0:
        block = b"x" * (60 << 20)  # written, so resident
        time.sleep(0.5)
        os._exit(0)
    children.append(pid)
print(*[os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children])
""")
    out, _ = process.communicate(timeout=60)
    codes = [int(code) for code in out.split()]
    assert process.returncode == 0 and len(codes) == 5  # the parent (10 MB) was not the one chosen
    assert codes.count(-9) >= 2, codes  # at most one 60 MB child fits beside the parent
    assert group.oom_kills() >= codes.count(-9)


def test_cpu_quota_holds_busy_processes_to_half_a_core(make_group):
    """Four busy processes want up to 2 cores; the group gets at most half of one.

    On a busy shared machine they may get less than that anyway; the kernel's count of
    quota periods still shows the quota was in force (it counts none for a group without one).
    """
    group = make_group("cpu", cpus=0.5)
    spin = "import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end:\n    pass\n"
    processes = [start_in(group, spin) for _ in range(4)]
    used = 0.0
    for process in processes:
        _, _, usage = os.wait4(process.pid, 0)
        used += usage.ru_utime + usage.ru_stime
    assert used / 1.5 < 0.75, f"{used / 1.5:.2f} cores"
    stat = dict(line.split() for line in (group.folders["cpu"] / "cpu.stat").read_text().splitlines())
    assert int(stat["nr_periods"]) > 0, stat


def test_pids_max_stops_a_fork_loop(make_group):
    group = make_group("pids", processes=4)
    process = start_in(group, """
import os, signal
children = []
try:
    while len(children) < 50:
        pid = os.fork()
        if pid == 0:
            signal.pause()
        children.append(pid)
except BlockingIOError:
    print("EAGAIN after", len(children))
for pid in children:
    os.kill(pid, signal.SIGKILL)
""")
    out, _ = process.communicate(timeout=30)
    assert out.strip() == "EAGAIN after 3"  # the parent is the fourth


def test_add_tree_moves_children_forked_before_the_move(make_group):
    """As bubblewrap's: its child and the server it runs exist by the time the grader can move bwrap."""
    group = make_group("tree")
    process = subprocess.Popen([sys.executable, "-I", "-c", """
import os, time
if os.fork() == 0:
    if os.fork() == 0:
        print(os.getpid(), flush=True)
    time.sleep(60)
time.sleep(60)
"""], stdout=subprocess.PIPE, text=True)
    grandchild = int(process.stdout.readline())
    assert cgroups.descendants(process.pid) >= {grandchild}
    group.add_tree(process.pid)
    assert group.members() == {process.pid, grandchild} | cgroups.descendants(process.pid)
    assert len(group.members()) == 3
    assert group.close() and process.wait(timeout=5) == -9


def test_close_kills_a_setsid_escapee(make_group):
    group = make_group("close")
    process = start_in(group, """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        print(os.getpid(), flush=True)
    time.sleep(60)
    os._exit(0)
print(os.getpid(), flush=True)
time.sleep(60)
""")
    pids = {int(process.stdout.readline()) for _ in range(2)}
    assert pids | {process.pid} <= group.members()
    assert group.close()
    assert process.wait(timeout=5) == -9
    deadline = time.monotonic() + 5
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.01)  # the escapees' new parent reaps them
    assert not any(running(pid) for pid in pids)
    assert not any(folder.exists() for folder in group.unique_folders())


def test_remove_stale_removes_a_dead_graders_group_and_leaves_a_live_one(make_group):
    live = make_group("live")
    if live.version != machine_version():
        pytest.skip("the machine's cgroup layout changed during the test")
    creator = subprocess.run([sys.executable, "-c", """
import subprocess
from autograder.sandbox.cgroups import SandboxGroup
group = SandboxGroup.create("stale", memory_mb=64, cpus=0.5, processes=8)
sleeper = subprocess.Popen(["sleep", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
group.add(sleeper.pid)
print(group.folders["pids"].name, sleeper.pid)
"""], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)  # exits without close()
    name, sleeper = creator.stdout.split()
    stale = SandboxGroup(live.version, {c: folder.parent / name for c, folder in live.folders.items()})
    assert all(folder.is_dir() for folder in stale.unique_folders()) and running(int(sleeper))
    assert name in cgroups.remove_stale()
    assert not any(folder.exists() for folder in stale.unique_folders())
    assert not running(int(sleeper))
    assert all(folder.is_dir() for folder in live.unique_folders())


@pytest.mark.skipif(os.geteuid() != 0 or machine_version() is None, reason="needs root (to drop it) and a cgroup")
def test_without_root_the_reason_says_so():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setuid(65534)
            SandboxGroup.create("unprivileged", memory_mb=100, cpus=1, processes=8)
            os.write(write, b"created")
        except CgroupUnavailable as exc:
            os.write(write, str(exc).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as message:
        assert message.read().endswith("Permission denied (the grader does not run as root)")


@pytest.mark.skipif(os.geteuid() != 0, reason="the worker's uid drop needs root")
def test_first_for_the_oom_killer_survives_the_uid_drop_and_forks():
    """The worker raises its score while still root (after setuid /proc/self is root's and not writable)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            cgroups.first_for_oom_killer()
            os.setuid(65534)
            child = os.fork()
            if child == 0:
                os._exit(0 if cgroups.OOM_SCORE_ADJ.read_text().strip() == "1000" else 2)
            code = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


@pytest.mark.skipif(machine_version() != 2,
                    reason="this machine's cgroups are v1 (memory, cpu, pids hierarchies): v2's limits run only on "
                           "a v2 kernel; their files are checked on a fake tree, cgroup.kill on a hybrid v2 mount")
def test_v2_kernel_kills_with_cgroup_kill(make_group):
    group = make_group("v2kill")
    folder = group.folders["memory"]
    assert (folder / "cgroup.kill").exists()
    process = start_in(group, "import time; time.sleep(60)")
    assert group.members() == {process.pid}
    assert group.close() and process.wait(timeout=5) == -9
    assert not folder.exists()


UNIFIED = Path("/sys/fs/cgroup/unified")  # a hybrid machine's v2 mount: v2's files, no controllers
hybrid = pytest.mark.skipif(not (UNIFIED / "cgroup.controllers").is_file() or os.geteuid() != 0,
                            reason="needs root and a hybrid layout's v2 mount at /sys/fs/cgroup/unified")


@hybrid
def test_v2_kernel_without_the_controllers_says_which():
    with pytest.raises(CgroupUnavailable, match="does not offer the memory, cpu, pids controller"):
        SandboxGroup.create("none", memory_mb=100, cpus=1, processes=8, root=UNIFIED)


@hybrid
def test_v2_kill_and_removal_on_a_real_v2_mount():
    """add, members, cgroup.kill and rmdir as v2's kernel does them (limits need the controllers)."""
    folder = UNIFIED / f"{cgroups.owner_tag(os.getpid())}-v2kill"
    folder.mkdir()
    group = SandboxGroup(2, dict.fromkeys(cgroups.CONTROLLERS, folder))
    try:
        process = start_in(group, "import os, time\nif os.fork() == 0:\n    os.setsid()\ntime.sleep(60)\n")
        deadline = time.monotonic() + 5
        while len(group.members()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(group.members()) == 2 and process.pid in group.members()
        assert group.close() and process.wait(timeout=5) == -9
        assert not folder.exists()
    finally:
        group.close()


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def v2_tree(tmp_path):
    """A unified hierarchy, written the way the kernel shows it, with the grader's cgroup at /grading
    holding the grader's own process (not run on a kernel: what is checked is which files get what)."""
    root = tmp_path / "cgroup"
    write(root / "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
    write(root / "grading" / "cgroup.controllers", "cpu io memory pids\n")
    write(root / "grading" / "cgroup.subtree_control", "\n")
    write(root / "grading" / "cgroup.type", "domain\n")
    write(root / "grading" / "cgroup.procs", "4242\n")
    write(tmp_path / "self", "0::/grading\n")
    return root, tmp_path / "self"


def test_v2_files_on_a_fake_tree(v2_tree):
    root, proc = v2_tree
    group = SandboxGroup.create("t1", memory_mb=100, cpus=0.5, processes=8, proc_cgroup=proc, root=root)
    grading = root / "grading"
    assert group.version == 2 and set(group.unique_folders()) == {grading / "autograder" / group.folders["cpu"].name}
    folder = group.folders["memory"]
    assert (folder / "memory.max").read_text() == str(100 * MB)
    assert (folder / "cpu.max").read_text() == "50000 100000"
    assert (folder / "pids.max").read_text() == "8"
    assert not (folder / "memory.swap.max").exists()  # written only where the kernel offers it
    # "no internal processes": the grader's process went to a leaf before the controllers were handed down
    assert (grading / cgroups.LEAF / "cgroup.procs").read_text() == "4242"
    assert (grading / "cgroup.subtree_control").read_text() == "+memory +cpu +pids"
    assert (grading / "autograder" / "cgroup.subtree_control").read_text() == "+memory +cpu +pids"


def test_v2_grader_already_in_the_leaf_puts_groups_beside_it(v2_tree):
    root, proc = v2_tree
    (root / "grading" / cgroups.LEAF).mkdir()
    proc.write_text(f"0::/grading/{cgroups.LEAF}\n")
    assert cgroups.grader_folders(proc, root) == (2, dict.fromkeys(cgroups.CONTROLLERS, root / "grading"))


def test_v2_missing_controller_says_which(v2_tree):
    root, proc = v2_tree
    (root / "grading" / "cgroup.controllers").write_text("io memory pids\n")
    with pytest.raises(CgroupUnavailable, match="does not offer the cpu controller"):
        SandboxGroup.create("t2", memory_mb=100, cpus=1, processes=8, proc_cgroup=proc, root=root)
    assert not (root / "grading" / "autograder").exists()


def test_v2_oom_kills_read_from_memory_events(tmp_path):
    write(tmp_path / "memory.events", "low 0\nhigh 0\nmax 31\noom 4\noom_kill 3\noom_group_kill 0\n")
    assert SandboxGroup(2, dict.fromkeys(cgroups.CONTROLLERS, tmp_path)).oom_kills() == 3


def test_v1_missing_hierarchies_say_which(tmp_path):
    root = tmp_path / "cgroup"
    (root / "memory").mkdir(parents=True)
    write(tmp_path / "self", "4:memory:/\n1:cpu:/\n0::/\n")  # cpu listed, not mounted; pids absent
    with pytest.raises(CgroupUnavailable, match="no cgroup hierarchy for cpu, pids"):
        SandboxGroup.create("t3", memory_mb=100, cpus=1, processes=8, proc_cgroup=tmp_path / "self", root=root)
