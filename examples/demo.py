"""`make demo`: grade each homework's solution key and blank release, and hw1's example submissions.

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

SUBMISSIONS = [  # (assignment, label, submission)
    ("hw1", "solution key", ROOT / "solutions" / "hw1"),
    ("hw1", "blank release", ROOT / "student_release" / "hw1"),
    ("hw1", "notebook (sampling only)", ROOT / "examples" / "hw1" / "notebook" / "sampling.ipynb"),
    ("hw1", "sampling only, Box-Muller bug", ROOT / "examples" / "hw1" / "box_muller_missing_factor_2"),
    ("hw1", "corrupt zip", ROOT / "examples" / "hw1" / "broken.zip"),
    ("hw2", "solution key", ROOT / "solutions" / "hw2"),
    ("hw2", "blank release", ROOT / "student_release" / "hw2"),
    ("hw3", "solution key", ROOT / "solutions" / "hw3"),
    ("hw3", "blank release", ROOT / "student_release" / "hw3"),
]


def main() -> int:
    course = load_config(ROOT / "grading.toml")
    out = ROOT / "demo-out"
    print(f"{'submission':<38} {'score':>9}  {'status':<20} {'time':>6}  failed tests")
    for index, (assignment_id, label, path) in enumerate(SUBMISSIONS, start=1):
        label = f"{assignment_id}: {label}"
        try:
            results = grade(course.assignment(assignment_id), path, out=out / f"{index}.json",
                            solution_dir=ROOT / "solutions" / assignment_id)
        except GraderError as exc:
            print(f"{label:<38} grader error: {exc}")
            return 1
        failed = [t.name.split("::")[1] for t in results.tests if not t.passed]
        shown = ", ".join(failed[:3]) + (f" (+{len(failed) - 3} more)" if len(failed) > 3 else "")
        print(f"{label:<38} {results.score:>4g}/{results.max_score:<4g}  {results.status:<20} "
              f"{results.execution_time:5.1f}s  {shown}")
    print(f"\nresults files: {out}/1.json ... {out}/{len(SUBMISSIONS)}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
