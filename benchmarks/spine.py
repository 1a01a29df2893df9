"""Benchmark of the spine: grading overhead, sandbox round trip, build time.

Prints three numbers (and the raw timings behind them):
1. grading overhead: wall time of `autograder grade hw1 <solution key>` minus the wall
   time of the same tests in one plain process (student code imported directly);
2. the round trip of a call carrying a 1 MB tensor each way through the sandbox;
3. `autograder build` of all assignments.
Run: `make bench` (or .venv/bin/python benchmarks/spine.py [--repeat N]).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import build  # noqa: E402
from autograder.config import SandboxLimits, load_config  # noqa: E402
from autograder.sandbox import codec, resources  # noqa: E402
from autograder.sandbox.client import Sandbox  # noqa: E402


def wall(command: list[str], env: dict[str, str] | None = None, *, check: bool = True) -> float:
    """Wall time of a command. The plain baseline is timed even if a test fails there: all
    tests share its one process (no fresh sandbox per test), so leaked state can fail one."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def grading_overhead(assignment: str, repeat: int) -> tuple[list[float], list[float]]:
    """Wall times of grading the solution key and of the same tests in one plain process, run
    in turns (graded, plain, graded, ...): on a shared machine whose speed drifts by a
    second between minutes, the differences of neighbouring runs are what stays stable."""
    key = ROOT / "solutions" / assignment
    tests = ROOT / "assignments" / assignment / "tests"
    threads = load_config().assignment(assignment).sandbox.threads or resources.available_cores()
    env = {**os.environ, "PLAIN_MODULES": str(key), "PYTHONPATH": str(ROOT / "benchmarks"),
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PLAIN_THREADS": str(threads)}
    graded, plain = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(repeat):
            graded.append(wall([sys.executable, "-m", "autograder", "grade", assignment, str(key),
                                "--out", f"{scratch}/results.json"]))
            plain.append(wall([sys.executable, "-m", "pytest", "-q", "-p", "plain_plugin", "-p", "no:cacheprovider",
                               "--import-mode=importlib", "--rootdir", str(tests), "-c", os.devnull,
                               str(tests / "public"), str(tests / "hidden")], env, check=False))
    return graded, plain


def round_trip_ms(calls: int) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "submission"
        folder.mkdir()
        (folder / "echo.py").write_text("def echo(x):\n    return x\n")
        sandbox = Sandbox(submission=folder, workdir=Path(scratch) / "sandbox", limits=SandboxLimits(), device="cpu")
        try:
            sandbox.start()
            worker = sandbox.spawn()
            handle = lambda body: codec.HandleRef(body["id"])  # noqa: E731
            echo = worker.request({"op": "getattr", "target": {"module": "echo"}, "name": "echo"},
                                  deadline=None, make_handle=handle)["ok"]
            x = torch.randn(1 << 17, dtype=torch.float64)  # 1 MiB
            times = []
            for _ in range(calls):
                start = time.perf_counter()
                y = worker.request({"op": "call", "target": {"handle": echo.id}, "args": [x], "kwargs": {}},
                                   deadline=None, make_handle=handle)["ok"]
                times.append(time.perf_counter() - start)
            assert torch.equal(x, y)
            return 1000 * statistics.median(times)
        finally:
            sandbox.kill()


def build_seconds(repeat: int) -> float:
    course = load_config(ROOT / "grading.toml")
    times = []
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(repeat):
            start = time.perf_counter()
            build.build(course, out_root=Path(scratch))
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--assignment", default="hw1")
    args = parser.parse_args()
    graded, plain = grading_overhead(args.assignment, args.repeat)
    differences = [g - p for g, p in zip(graded, plain)]
    print(f"grade {args.assignment} solution key, wall:      {statistics.median(graded):7.2f} s "
          f"(median of {args.repeat})")
    print(f"same tests in one plain process, wall:   {statistics.median(plain):7.2f} s")
    print(f"grading overhead per submission:         {statistics.median(differences):7.2f} s   (target < 0.3 s; "
          f"median of run-by-run differences, spread {min(differences):.2f} to {max(differences):.2f})")
    print(f"sandbox call, 1 MB tensor each way:      {round_trip_ms(200):7.2f} ms  (target < 5 ms)")
    print(f"build of all assignments (in process):   {build_seconds(args.repeat):7.3f} s   (target < 5 s)")
    cli = wall([sys.executable, "-m", "autograder", "build", "--check"])
    print(f"`autograder build --check`, wall:        {cli:7.2f} s")


if __name__ == "__main__":
    main()
