"""`make demo`: grade the hw1 solution key, the blank release and the example submissions.

Run after `autograder build`. Writes one results file per submission under demo-out/ and
prints a summary line for each.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from autograder.config import load_config  # noqa: E402
from autograder.errors import GraderError  # noqa: E402
from autograder.grade import grade  # noqa: E402

SUBMISSIONS = {
    "solution key": ROOT / "solutions" / "hw1",
    "blank release": ROOT / "student_release" / "hw1",
    "notebook (sampling only)": ROOT / "examples" / "hw1" / "notebook" / "sampling.ipynb",
    "sampling only, Box-Muller bug": ROOT / "examples" / "hw1" / "box_muller_missing_factor_2",
    "corrupt zip": ROOT / "examples" / "hw1" / "broken.zip",
}


def main() -> int:
    assignment = load_config(ROOT / "grading.toml").assignment("hw1")
    out = ROOT / "demo-out"
    print(f"{'submission':<32} {'score':>9}  {'status':<20} {'time':>6}  failed tests")
    for index, (label, path) in enumerate(SUBMISSIONS.items(), start=1):
        try:
            results = grade(assignment, path, out=out / f"{index}.json", solution_dir=ROOT / "solutions" / "hw1")
        except GraderError as exc:
            print(f"{label:<32} grader error: {exc}")
            return 1
        failed = [t.name.split("::")[1] for t in results.tests if not t.passed]
        shown = ", ".join(failed[:3]) + (f" (+{len(failed) - 3} more)" if len(failed) > 3 else "")
        print(f"{label:<32} {results.score:>4g}/{results.max_score:<4g}  {results.status:<20} "
              f"{results.execution_time:5.1f}s  {shown}")
    print(f"\nresults files: {out}/1.json ... {out}/{len(SUBMISSIONS)}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
