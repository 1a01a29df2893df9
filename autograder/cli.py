"""The ``autograder`` command line: parses arguments and calls the keyword-only API.

Errors are reported once, here, as ``error: <message>`` with an :class:`ExitCode`;
tracebacks only with ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from autograder.errors import AutograderError, ExitCode


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograder", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="grading.toml (default: the nearest one above this folder)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="build student releases and solution keys")
    build.add_argument("ids", nargs="*", help="assignment ids (default: all)")
    build.add_argument("--check", action="store_true", help="do not write; list files that differ from the committed tree")

    grade = commands.add_parser("grade", help="grade one submission into a Gradescope results.json")
    grade.add_argument("id")
    grade.add_argument("submission", type=Path, help="a folder, .zip, .py or .ipynb")
    grade.add_argument("--out", type=Path, default=Path("results.json"))
    grade.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    grade.add_argument("--public-only", action="store_true", help="run only the public tests")
    grade.add_argument("--tests", nargs="+", default=(), metavar="NAME", help="only tests whose name contains NAME")
    grade.add_argument("--runner", choices=("local", "container"), default="local",
                       help="local: sandbox on this machine; container: the whole grader in a container")

    batch = commands.add_parser("batch", help="TAs: grade a folder of submissions (or a Gradescope export)")
    batch.add_argument("id")
    batch.add_argument("submissions", type=Path, help="a folder with one entry per student, or an export .zip")
    batch.add_argument("--out", type=Path, required=True, help="folder for results, feedback, gradebook, report")
    batch.add_argument("--jobs", type=int, default=0, help="parallel gradings (default: the cores; one per GPU)")
    batch.add_argument("--runner", choices=("local", "container"), default="local")
    batch.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    batch.add_argument("--force", action="store_true", help="regrade submissions that already have results")
    batch.add_argument("--tests", nargs="+", default=(), metavar="NAME", help="regrade only these tests")

    gradescope = commands.add_parser("gradescope", help="instructors: the autograder zip to upload to Gradescope")
    gradescope.add_argument("id")
    gradescope.add_argument("--out", type=Path, required=True, help="the .zip to write")

    check = commands.add_parser("check", help="students: run the public tests on this folder")
    check.add_argument("id", nargs="?", help="the assignment (default: the only one in assignment.toml)")
    check.add_argument("--folder", type=Path, default=Path("."), help="the folder holding your files")

    validate = commands.add_parser("validate", help="instructors: the key scores full marks, the blank release 0")
    validate.add_argument("id")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(_run(args))
    except AutograderError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _prelaunch_sandbox(course, assignment_id: str | None) -> None:
    """Start a sandbox server now, so it imports torch while we import the grader (2 cores, ~1 s saved)."""
    import atexit

    from autograder.sandbox import launch

    assignments = [a for a in course.assignments if a.id == assignment_id] or list(course.assignments[:1])
    if assignments:
        launch.prelaunch(assignments[0].sandbox.isolation)
        atexit.register(launch.discard_warm)


def _run(args: argparse.Namespace) -> ExitCode:
    from autograder.config import find_config, load_config

    config_path = args.config
    if config_path is None:
        config_path = find_config(args.folder if args.command == "check" else None)
    course = load_config(config_path)
    if args.command in ("grade", "check", "validate", "batch") and getattr(args, "runner", "local") == "local":
        _prelaunch_sandbox(course, getattr(args, "id", None))
    from autograder import commands  # imports torch and pytest: after the prelaunch

    if args.command == "build":
        return commands.build(course, args.ids, check=args.check)
    if args.command == "grade":
        return commands.grade(course, args.id, args.submission, out=args.out, device=args.device,
                              public_only=args.public_only, tests=args.tests, runner=args.runner)
    if args.command == "batch":
        return commands.batch(course, args.id, args.submissions, out=args.out, jobs=args.jobs, runner=args.runner,
                              device=args.device, force=args.force, tests=args.tests)
    if args.command == "gradescope":
        return commands.gradescope(course, args.id, out=args.out)
    if args.command == "check":
        return commands.check(course, args.id, folder=args.folder)
    if args.command == "validate":
        return commands.validate(course, args.id)
    raise AssertionError(args.command)
