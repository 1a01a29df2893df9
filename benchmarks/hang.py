"""Benchmark: a submission that hangs when imported costs one per-test limit, not one per test.

The submission is hw1's solution key with one module replaced by a loop (or a sleep, or a
runaway recursion) at import. Prints, per kind of hang, the wall time of grading it
against the target of one ``test_time_limit`` plus 10 s (before the loader, one hw1
submission took 939 s: the limit once per test).

Run: .venv/bin/python benchmarks/hang.py [--assignment hw1] [--module sampling]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.config import load_config  # noqa: E402
from autograder.grade import grade  # noqa: E402

HANGS = {
    "loop": "while True:\n    pass\n",
    "sleep": "import time\ntime.sleep(1e9)\n",
    "recursion": "import sys\nsys.setrecursionlimit(10**6)\ndef deeper(n):\n    return deeper(n + 1) + 1\ndeeper(0)\n",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="hw1")
    parser.add_argument("--module", default="sampling", help="the module that hangs at import")
    args = parser.parse_args()
    assignment = load_config(ROOT / "grading.toml").assignment(args.assignment)
    key = ROOT / "solutions" / args.assignment
    limit = assignment.test_time_limit
    print(f"{args.assignment}: {len(assignment.files)} modules, test_time_limit {limit:g} s, "
          f"target at most {limit + 10:g} s")
    for kind, code in HANGS.items():
        with tempfile.TemporaryDirectory() as scratch:
            submission = Path(scratch) / "submission"
            shutil.copytree(key, submission, ignore=shutil.ignore_patterns("__pycache__"))
            module = submission / f"{args.module}.py"
            module.write_text(module.read_text() + "\n" + code)
            start = time.perf_counter()
            results = grade(assignment, submission, out=Path(scratch) / "results.json", solution_dir=key)
            took = time.perf_counter() - start
        failed = [t for t in results.tests if not t.passed]
        first = next((t.output for t in failed), "").splitlines()[:1]
        print(f"  {kind:10s} {took:7.1f} s  ({took / (limit + 10):.2f} of the target)  "
              f"score {results.score:g}/{results.max_score:g}, {len(failed)} tests failed; first: {first}")


if __name__ == "__main__":
    main()
