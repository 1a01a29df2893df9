"""Where a container (or Gradescope's run_autograder) hands over to the grader: grade one
submission into a results file, and write a complete results file whatever happens.

The container runner (:mod:`autograder.container.runner`) starts::

    python -m autograder.container.inside --config /grading/assignment.toml --assignment hw1 \\
        --solution /grading/solution --submission /input/<name> --out /results/results.json

with the grading material under ``/grading`` (mode 0700: the uids student code runs under
cannot list it), the submission read-only and an empty ``/results``. The host reads back
nothing but that results file. Gradescope's ``run_autograder`` calls :func:`grade_always`
through :mod:`autograder.gradescope.run`.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from autograder import clock
from autograder.errors import ExitCode

# Nothing here imports torch or pytest (autograder.grade does) before the sandbox server is
# prelaunched: it imports torch while this process imports the grader, as the CLI does.


def grade_always(*, config: Path, assignment_id: str, submission: Path, out: Path, solution_dir: Path | None,
                 device: str = "cpu", hidden: bool = True, select: Sequence[str] = ()) -> ExitCode:
    """Grade, or write score 0 and the reason: ``out`` holds a complete results file afterwards."""
    start = clock.monotonic()
    handed_over = False  # once grade() runs, it writes the results file itself, even when it fails
    try:
        from autograder.config import load_config
        from autograder.sandbox import launch

        assignment = load_config(config).assignment(assignment_id)
        try:
            launch.prelaunch(assignment.sandbox.isolation)  # imports torch while we import pytest
        except Exception:  # noqa: BLE001 - the sandbox reports the same problem when grading starts
            pass
        from autograder.grade import grade

        handed_over = True
        grade(assignment, submission, out=out, device=device, solution_dir=solution_dir, hidden=hidden,
              select=select)
        return ExitCode.OK
    except BaseException as exc:  # noqa: BLE001 - the last-ditch handler: a result is never lost
        traceback.print_exc()
        if not handed_over or not out.is_file():
            from autograder.grade.results import failure_results, write_results

            reason = f"The grader failed and could not grade this submission: {type(exc).__name__}: {exc}"
            write_results(failure_results(assignment_id, reason, execution_time=clock.monotonic() - start), out)
        return ExitCode.GRADER_ERROR
    finally:
        _discard_prelaunched()


def _discard_prelaunched() -> None:
    try:
        from autograder.sandbox import launch

        launch.discard_warm()
    except Exception:  # noqa: BLE001
        pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder.container.inside", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="the assignment's grading.toml or assignment.toml")
    parser.add_argument("--assignment", required=True)
    parser.add_argument("--submission", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--solution", type=Path, help="the solution key (hidden tests compare against it)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--public-only", action="store_true")
    parser.add_argument("--tests", nargs="*", default=[])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(grade_always(config=args.config, assignment_id=args.assignment, submission=args.submission,
                            out=args.out, solution_dir=args.solution, device=args.device,
                            hidden=not args.public_only, select=args.tests))


if __name__ == "__main__":
    code = main()
    # The results file is written and synced: skip tearing down torch and pytest (a second or more).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
