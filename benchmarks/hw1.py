"""Benchmark: grade the hw1 solution key N times (default 10) through the CLI.

Prints the wall time of each grading and whether every run gave the same full score
(target: under 90 s per grading of the whole hw1 suite on a 2-core machine).
Run: .venv/bin/python benchmarks/hw1.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    times, scores = [], []
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "results.json"
        for run in range(args.runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "autograder", "grade", "hw1", str(ROOT / "solutions" / "hw1"),
                            "--out", str(out)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
            data = json.loads(out.read_text())
            scores.append((data["score"], data["extra_data"]["max_score"],
                           tuple(t["score"] for t in data["tests"])))
            print(f"run {run + 1:2d}: {times[-1]:6.1f} s  score {data['score']:g}/{data['extra_data']['max_score']:g}")
    identical = len(set(scores)) == 1
    full = all(score == maximum for score, maximum, _ in scores)
    print(f"median {statistics.median(times):.1f} s, max {max(times):.1f} s (target < 90 s); "
          f"identical scores in every run: {identical}; full marks every run: {full}")
    return 0 if identical and full else 1


if __name__ == "__main__":
    sys.exit(main())
