"""Benchmark of the container runner and the Gradescope package: overhead, image, memory.

Prints (and the raw timings behind them):
1. container overhead per submission: wall time and CPU seconds of `autograder grade ID
   <key> --runner container` minus `--runner local` (interleaved, medians; hw1's sampling
   tests by default), and the same inside one long-lived process (what `batch` pays:
   grade() against grade_in_container());
2. the grader's image: its size, and with --build the time of a build without cache;
3. with --memory: the peak memory of grading each assignment's solution key the way
   Gradescope runs it (the zip's run_autograder in a simulated /autograder, in a memory
   cgroup of its own): the numbers behind the README's Gradescope settings.
Run: `make bench-container` (or .venv/bin/python benchmarks/container.py [--repeat N] [--build] [--memory]).
Needs the engine and image of scripts/podman-setup.sh.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.config import load_config  # noqa: E402
from autograder.container import engine, grade_in_container  # noqa: E402
from tree_cpu import TreeCpu  # noqa: E402

CGROUP_MEMORY = Path("/sys/fs/cgroup/memory")
CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
CGROUP_CPUACCT = Path("/sys/fs/cgroup/cpuacct")
ENGINE_GROUP = "libpod_parent"  # where Podman (cgroupfs manager, cgroup v1) puts every container


class CpuMeter:
    """CPU seconds of this process's descendants and of Podman's containers (cgroup v1 cpuacct).

    Wall time on a busy machine mostly measures the other load; CPU seconds do not. This
    process's tree is counted by :class:`tree_cpu.TreeCpu` (the local runner's processes
    follow it, even those re-parented when a sandbox is killed); containers are read from the
    engine's group (no other containers may run meanwhile). It also moves into a cpu group of
    the same weight as the engine's, so the two runners' wall times compete on equal terms.
    """

    def __init__(self) -> None:
        self.ok = os.geteuid() == 0 and (CGROUP_CPUACCT / ENGINE_GROUP / "cpuacct.usage").is_file()
        if not self.ok:
            return
        self.tree = TreeCpu()
        self.ok = self.tree.ok and self.tree.kind == "cgroup v1 cpuacct"
        name = f"autograder-bench-{os.getpid()}"
        self.weight = CGROUP_CPU / name
        self.weight.mkdir(exist_ok=True)
        (self.weight / "cpu.shares").write_text((CGROUP_CPU / ENGINE_GROUP / "cpu.shares").read_text())
        (self.weight / "cgroup.procs").write_text(str(os.getpid()))
        atexit.register(self.leave)

    def leave(self) -> None:
        (CGROUP_CPU / "cgroup.procs").write_text(str(os.getpid()))
        self.weight.rmdir()

    def read(self) -> tuple[float, float]:
        """(seconds used by this process and its descendants, seconds used by containers) so far."""
        if not self.ok:
            return 0.0, 0.0
        engine_group = int((CGROUP_CPUACCT / ENGINE_GROUP / "cpuacct.usage").read_text()) / 1e9
        return self.tree.seconds(), engine_group


def measure(meter: CpuMeter, action) -> tuple[float, float]:
    """(wall seconds, CPU seconds of everything involved) of ``action()``."""
    ours, containers = meter.read()
    start = time.perf_counter()
    action()
    wall = time.perf_counter() - start
    ours_after, containers_after = meter.read()
    return wall, (ours_after - ours) + (containers_after - containers)


def cli_overhead(meter: CpuMeter, assignment: str, repeat: int, tests: list[str]) -> dict[str, tuple[float, float]]:
    key = ROOT / "solutions" / assignment
    times: dict[str, list[tuple[float, float]]] = {"local": [], "container": []}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(repeat):
            for runner in times:
                command = [sys.executable, "-m", "autograder", "grade", assignment, str(key), "--runner", runner,
                           "--out", f"{scratch}/results.json"] + (["--tests", *tests] if tests else [])
                times[runner].append(measure(meter, lambda: subprocess.run(
                    command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    return {runner: _medians(values) for runner, values in times.items()}


def in_process_overhead(meter: CpuMeter, assignment: str, repeat: int, tests: list[str]) -> dict[str, tuple[float, float]]:
    from autograder.grade import grade

    course = load_config(ROOT / "grading.toml")
    config = course.assignment(assignment)
    key = ROOT / "solutions" / assignment
    grade(config, key, out=None, solution_dir=key, select=tests)  # warm up: imports, page cache
    times: dict[str, list[tuple[float, float]]] = {"local": [], "container": []}
    for _ in range(repeat):
        times["local"].append(measure(meter, lambda: grade(config, key, out=None, solution_dir=key, select=tests)))
        times["container"].append(measure(meter, lambda: grade_in_container(course, config, key, out=None,
                                                                            tests=tests)))
    return {runner: _medians(values) for runner, values in times.items()}


def _medians(values: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)


def trivial_container_s(repeat: int) -> float:
    """Start-to-exit of a container running `true`, with the runner's confinement options."""
    client = engine.connect()
    image = engine.image_name("cpu")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.containers.run(image, ["true"], remove=True, network_mode="none", read_only=True,
                              cap_drop=["ALL"], security_opt=["no-new-privileges"])
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def image_size_mb() -> float:
    return engine.connect().images.get(engine.image_name("cpu")).attrs["Size"] / 1e6


def build_without_cache_s() -> float:
    """A full build of the grader's image (the base and the wheelhouse already there), then removed."""
    tag = "localhost/autograder:bench"
    start = time.perf_counter()
    subprocess.run(["podman", "build", "--quiet", "--no-cache", "--build-arg",
                    f"BASE={os.environ.get('AUTOGRADER_BASE_IMAGE', 'localhost/autograder-base:bookworm')}",
                    "-t", tag, "."], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    subprocess.run(["podman", "rmi", tag], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return seconds


def gradescope_peak_mb(assignment: str) -> tuple[float, float, float]:
    """Peak memory of the zip's run_autograder grading the key, the way Gradescope runs it.

    In a container of the grader's image (root, the engine's default capabilities, like
    Gradescope's), with the image's files evicted from the page cache first, so the
    libraries it maps are charged to it as on a fresh Gradescope machine. Returns (peak of
    the container's memory cgroup, page cache included; peak resident + tmpfs; score).
    """
    import json

    from autograder.gradescope import write_autograder_zip

    course = load_config(ROOT / "grading.toml")
    image = engine.image_name("cpu")
    _evict_image_files(image)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "autograder"
        upload = write_autograder_zip(course, course.assignment(assignment), out=Path(scratch) / "upload.zip")
        with zipfile.ZipFile(upload) as archive:
            archive.extractall(root / "source")
            for info in archive.infolist():
                os.chmod(root / "source" / info.filename, (info.external_attr >> 16) & 0o777)
        shutil.copytree(ROOT / "solutions" / assignment, root / "submission",
                        ignore=shutil.ignore_patterns("tests", "*.md", "*.toml"))
        client = engine.connect()
        container = client.containers.run(image, ["/autograder/source/run_autograder"], detach=True,
                                          network_mode="none", environment={"AUTOGRADER_PYTHON": "/opt/venv/bin/python"},
                                          volumes={str(root): {"bind": "/autograder", "mode": "rw"}})
        try:
            group = CGROUP_MEMORY / ENGINE_GROUP / f"libpod-{container.id}"
            peak, peak_rss = 0, 0
            while client.api.inspect_container(container.id)["State"]["Status"] not in ("exited", "stopped", "dead"):
                try:
                    peak = max(peak, int((group / "memory.max_usage_in_bytes").read_text()))
                    stat = dict(line.split() for line in (group / "memory.stat").read_text().splitlines())
                    peak_rss = max(peak_rss, int(stat["total_rss"]) + int(stat["total_shmem"]))
                except (OSError, KeyError, ValueError):
                    pass
                time.sleep(0.02)
        finally:
            container.remove(force=True)
        score = json.loads((root / "results" / "results.json").read_text())["score"]
    return peak / 1e6, peak_rss / 1e6, score


def _evict_image_files(image: str) -> None:
    """Drop the image's files from the page cache (nothing maps them while no container runs)."""
    mounted = subprocess.run(["podman", "image", "mount", image], capture_output=True, text=True)
    if mounted.returncode != 0:
        return
    try:
        for path in Path(mounted.stdout.strip()).joinpath("opt").rglob("*"):
            if path.is_file() and not path.is_symlink():
                with open(path, "rb") as handle:
                    os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        subprocess.run(["podman", "image", "unmount", image], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--assignment", default="hw1")
    parser.add_argument("--tests", nargs="*", default=["sampling"],
                        help="only these tests (default: hw1's sampling tests; the overhead does not depend on "
                             "them, and a short run is less at the mercy of other load); none: all")
    parser.add_argument("--build", action="store_true", help="also time a build of the image without cache")
    parser.add_argument("--memory", action="store_true", help="also measure Gradescope's peak memory per assignment")
    args = parser.parse_args()
    meter = CpuMeter()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; CPU seconds "
          + ("measured (cgroup v1 cpuacct), CPU weights equalised" if meter.ok else "not measured (needs root, cgroup v1)"))
    print(f"{'':44s}{'wall s':>8s}{'CPU s':>8s}   (medians of {args.repeat})")
    selection = f" --tests {' '.join(args.tests)}" if args.tests else ""
    for label, found in (
            (f"CLI `autograder grade {args.assignment} <key>{selection}`",
             cli_overhead(meter, args.assignment, args.repeat, args.tests)),
            ("in one process (what batch pays)", in_process_overhead(meter, args.assignment, args.repeat, args.tests))):
        (wall_local, cpu_local), (wall_container, cpu_container) = found["local"], found["container"]
        print(f"{label}")
        print(f"  {'--runner local':42s}{wall_local:8.2f}{cpu_local:8.2f}")
        print(f"  {'--runner container':42s}{wall_container:8.2f}{cpu_container:8.2f}")
        print(f"  {'container overhead per submission':42s}{wall_container - wall_local:8.2f}"
              f"{cpu_container - cpu_local:8.2f}   (target <= 1.5 s)")
    print(f"a container running `true`, start to exit:  {trivial_container_s(args.repeat):7.2f} s")
    print(f"image {engine.image_name('cpu')}: {image_size_mb():7.0f} MB   (target <= 1200 MB)")
    if args.build:
        print(f"image build without cache (base and wheels there): {build_without_cache_s():6.1f} s")
    if args.memory:
        for assignment in load_config(ROOT / "grading.toml").assignments:
            with_cache, rss, score = gradescope_peak_mb(assignment.id)
            print(f"Gradescope run of {assignment.id} key (score {score:g}): peak {with_cache:6.0f} MB with "
                  f"page cache, {rss:6.0f} MB resident + tmpfs")


if __name__ == "__main__":
    main()
