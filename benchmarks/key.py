"""Benchmark: grade an assignment's solution key N times through the CLI; time, scores, peak memory, slow tests.

For each run it prints the wall time and the score; then the median, whether every run gave
the same per-test scores and full marks, the peak memory of the grading, and the slowest
tests (their `time_s` in results.json, median over the runs).

Peak memory is that of the whole grader process tree (the grader, its sandboxes and their
workers), read from a memory cgroup made for the run inside this process's own one (v2
`memory.peak`, or v1 `memory.max_usage_in_bytes`, which counts page cache too). Where no
cgroup can be made (not root, no writable cgroup file system) it falls back to
`ru_maxrss` of the children: the largest single process that was waited for, not the
sum of the tree. The output says which it measured.

Run: .venv/bin/python benchmarks/key.py hw1 [--runs N] [--tests NAME ...]
(after `.venv/bin/python -m autograder build hw1`: the key graded is solutions/<id>)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CGROUP = Path("/sys/fs/cgroup")


class TreeMemory:
    """A memory cgroup for one child process tree, nested in this process's own (so its limits still hold)."""

    def __init__(self, name: str) -> None:
        self.group: Path | None = None
        self.peak_file = ""
        for root, peak, own in self._candidates():
            if os.geteuid() != 0 or own is None or not (root / own.lstrip("/") / "cgroup.procs").is_file():
                continue
            group = root / own.lstrip("/") / name
            try:
                group.mkdir(exist_ok=True)
            except OSError:
                continue
            if (group / peak).is_file():
                self.group, self.peak_file = group, peak
                return
            group.rmdir()

    @staticmethod
    def _candidates():
        """(hierarchy root, peak file, this process's cgroup path in it) for v2, then v1 memory."""
        own_v2 = own_v1 = None
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            number, controllers, path = line.split(":", 2)
            if number == "0" and controllers == "":
                own_v2 = path
            elif "memory" in controllers.split(","):
                own_v1 = path
        for root in (CGROUP, CGROUP / "unified"):
            controllers = root / "cgroup.controllers"
            if controllers.is_file() and "memory" in controllers.read_text().split():
                yield root, "memory.peak", own_v2
        yield CGROUP / "memory", "memory.max_usage_in_bytes", own_v1

    @property
    def kind(self) -> str:
        if self.group is None:
            return "ru_maxrss of the children (largest single process, not the whole tree)"
        return ("cgroup v2 memory.peak of the grader's process tree" if self.peak_file == "memory.peak"
                else "cgroup v1 memory.max_usage_in_bytes of the grader's process tree (includes page cache)")

    def enter(self) -> None:
        """Called in the child between fork and exec: the grader and everything it starts count here."""
        if self.group is not None:
            (self.group / "cgroup.procs").write_text(str(os.getpid()))

    def peak_bytes(self) -> int | None:
        return int((self.group / self.peak_file).read_text()) if self.group is not None else None

    def close(self) -> None:
        if self.group is not None:
            try:
                self.group.rmdir()
            except OSError:  # a straggler still inside: leave the empty-soon group, say nothing
                pass
            self.group = None


def largest_child() -> int:
    """Bytes of the largest resident set of any child waited for so far (ru_maxrss is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def grade_once(assignment: str, out: Path, tests: list[str], run: int) -> tuple[float, dict, int | None, str]:
    """(wall seconds, results, peak bytes of the tree or None, what the peak measured)."""
    memory = TreeMemory(f"autograder-key-{os.getpid()}-{run}")
    command = [sys.executable, "-m", "autograder", "grade", assignment, str(ROOT / "solutions" / assignment),
               "--out", str(out)] + (["--tests", *tests] if tests else [])
    try:
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, preexec_fn=memory.enter)
        seconds = time.perf_counter() - start
        peak = memory.peak_bytes()
        if peak is None:
            peak = largest_child()
        return seconds, json.loads(out.read_text()), peak, memory.kind
    finally:
        memory.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment", help="an assignment id of grading.toml (hw1, hw2, ...)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tests", nargs="+", default=[], metavar="NAME", help="only tests whose name contains NAME")
    parser.add_argument("--slowest", type=int, default=8, help="how many of the slowest tests to list")
    args = parser.parse_args()
    if not (ROOT / "solutions" / args.assignment).is_dir():
        print(f"error: solutions/{args.assignment} is missing: run `autograder build {args.assignment}` first",
              file=sys.stderr)
        return 2
    times, scores, peaks, test_times = [], [], [], {}
    kind = ""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "results.json"
        for run in range(args.runs):
            seconds, data, peak, kind = grade_once(args.assignment, out, args.tests, run)
            times.append(seconds)
            peaks.append(peak)
            maximum = data["extra_data"]["max_score"]
            scores.append((data["score"], maximum, tuple((t["name"], t["score"]) for t in data["tests"])))
            for test in data["tests"]:
                test_times.setdefault(test["name"], []).append(test.get("extra_data", {}).get("time_s", 0.0))
            print(f"run {run + 1:2d}: {seconds:6.1f} s  score {data['score']:g}/{maximum:g}  "
                  f"grader's execution_time {data['execution_time']:.1f} s  peak memory {peak / 2**20:7.0f} MiB")
    identical = len(set(scores)) == 1
    full = all(score == maximum for score, maximum, _ in scores)
    print(f"{args.assignment}: {args.runs} runs, median {statistics.median(times):.1f} s, "
          f"min {min(times):.1f} s, max {max(times):.1f} s")
    print(f"identical scores in every run: {identical}; full marks every run: {full}")
    print(f"peak memory: max {max(peaks) / 2**20:.0f} MiB over the runs ({kind}); "
          f"largest single process {largest_child() / 2**20:.0f} MiB (ru_maxrss of the children)")
    slowest = sorted(test_times.items(), key=lambda item: -statistics.median(item[1]))[: args.slowest]
    print(f"slowest tests (median time_s over the runs, of {len(test_times)} tests, "
          f"{sum(statistics.median(v) for v in test_times.values()):.1f} s in all):")
    for name, values in slowest:
        print(f"  {statistics.median(values):6.2f} s  {name}")
    return 0 if identical and full else 1


if __name__ == "__main__":
    sys.exit(main())
