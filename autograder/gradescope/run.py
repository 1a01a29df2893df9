"""On Gradescope: what ``run_autograder`` starts to grade ``/autograder/submission``.

Layout (see ``../shared/GRADESCOPE.md``; ``--root`` moves ``/autograder`` for the tests)::

    <root>/source/                  the uploaded zip, unpacked (see autograder.gradescope.package)
        course/assignment.toml      the assignment's settings; course/ is its folder (tests, data)
        key/                        the solution key
        grader/autograder/          this package
    <root>/submission/              the student's files
    <root>/results/results.json     written here, complete, whatever happens

Grading is the same as ``autograder grade`` (:func:`autograder.container.inside.grade_always`);
a summary goes to stdout, which Gradescope shows to instructors only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from autograder.container.inside import grade_always


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope.run", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    parser.add_argument("--assignment", required=True)
    args = parser.parse_args(argv)
    source = args.root / "source"
    out = args.root / "results" / "results.json"
    code = grade_always(config=source / "course" / "assignment.toml", assignment_id=args.assignment,
                        submission=args.root / "submission", out=out, solution_dir=source / "key")
    _summary(out)
    return int(code)


def _summary(out: Path) -> None:
    import json

    try:
        results = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"no readable results file: {exc}")
        return
    for test in results.get("tests", []):
        print(f"{test.get('number', ''):>6}  {test.get('name', '')}  {test.get('score', 0):g}/{test.get('max_score', 0):g}")
    status = results.get("extra_data", {}).get("status", "")
    print(f"total: {results.get('score', 0):g} ({status})")
    if status != "graded":
        print(results.get("output", ""))


if __name__ == "__main__":
    sys.exit(main())
