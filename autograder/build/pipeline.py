"""Build stage, in order: render every assignment, write it, check it for leaks, move it into place.

``assignments/<id>`` -> ``student_release/<id>`` (stubs, public tests, README.md,
assignment.toml) and ``solutions/<id>`` (the key). Everything is rendered in memory
first, so a malformed region stops the build before anything is written; both trees
are then written into a staging folder, leak-checked there, and only then replace
the old ones. Two builds of the same sources are byte-identical.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from autograder import tempdirs
from autograder.build.files import display_path, release_files, render_file, walk
from autograder.build.generated import assignment_toml, solutions_readme, student_readme
from autograder.build.leaks import Finding, check_release, check_solutions, collect_secrets
from autograder.config import AssignmentConfig, CourseConfig
from autograder.errors import ConfigError, LeakError

RELEASE = "student_release"
SOLUTIONS = "solutions"
# Left alone by `check`: what running the tests inside a release leaves behind (git ignores it).
CHECK_IGNORED = frozenset({"__pycache__", ".pytest_cache"})

Tree = Mapping[str, bytes]  # posix relative path -> content


@dataclass(frozen=True)
class Rendered:
    assignment: AssignmentConfig
    release: Tree
    solutions: Tree


@dataclass(frozen=True)
class BuiltAssignment:
    id: str
    release_dir: Path
    solutions_dir: Path
    release_files: tuple[str, ...]  # sorted posix paths, relative to release_dir
    solution_files: tuple[str, ...]  # sorted posix paths, relative to solutions_dir


@dataclass(frozen=True)
class BuildReport:
    out_root: Path
    assignments: tuple[BuiltAssignment, ...]


def render_assignment(*, course: CourseConfig, assignment: AssignmentConfig) -> Rendered:
    """Both versions of one assignment, in memory; raises RegionError or ConfigError."""
    sources = release_files(assignment)
    _check_sources(course, assignment, sources)
    release: dict[str, bytes] = {}
    solutions: dict[str, bytes] = {}
    for relative in sources:
        display = display_path(assignment.source / relative, course.root)
        release[relative] = render_file(assignment.source / relative, "student", display=display)
        solutions[relative] = render_file(assignment.source / relative, "solution", display=display)
    toml = assignment_toml(course_name=course.name, assignment=assignment).encode("utf-8")
    release["README.md"] = student_readme(assignment, package=course.package).encode("utf-8")
    solutions["README.md"] = solutions_readme(assignment).encode("utf-8")
    release["assignment.toml"] = solutions["assignment.toml"] = toml
    return Rendered(assignment=assignment, release=dict(sorted(release.items())), solutions=dict(sorted(solutions.items())))


def _check_sources(course: CourseConfig, assignment: AssignmentConfig, sources: tuple[str, ...]) -> None:
    config = course.root / "grading.toml"
    for generated in ("README.md", "assignment.toml"):
        if generated in sources:
            message = f"{generated} is written by the build; leave the source's {generated} out of `release`"
            raise ConfigError(config, f"assignments.{assignment.id}.release: {message}")
    missing = [name for name in assignment.files if name not in sources]
    if missing:
        raise ConfigError(config, f"assignments.{assignment.id}.files: not among the released source files: {', '.join(missing)}")


def write_tree(folder: Path, tree: Tree) -> None:
    """Write ``tree`` into ``folder`` (which must not exist yet)."""
    folder.mkdir(parents=True)
    for relative, content in tree.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def build(course: CourseConfig, ids: Sequence[str] = (), *, out_root: Path | None = None) -> BuildReport:
    """Build the student release and solution key of ``ids`` (default: every assignment).

    Writes ``out_root/student_release/<id>`` and ``out_root/solutions/<id>`` (``out_root``
    defaults to the course root), replacing them entirely. Raises RegionError for a
    malformed region, ConfigError for a bad selection, LeakError (nothing replaced) for a leak.
    """
    root = Path(out_root if out_root is not None else course.root).resolve()
    rendered = [render_assignment(course=course, assignment=a) for a in _select(course, ids)]
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".autograder-build-", dir=root))
    try:
        for r in rendered:
            write_tree(staging / RELEASE / r.assignment.id, r.release)
            write_tree(staging / SOLUTIONS / r.assignment.id, r.solutions)
        findings = [f for r in rendered for f in _leaks(course, r.assignment, staging)]
        if findings:
            raise LeakError(_leak_message(findings))
        for r in rendered:
            for kind in (RELEASE, SOLUTIONS):
                _replace(staging / kind / r.assignment.id, root / kind / r.assignment.id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuildReport(out_root=root, assignments=tuple(_built(root, r) for r in rendered))


def _select(course: CourseConfig, ids: Sequence[str]) -> tuple[AssignmentConfig, ...]:
    """The assignments named by ``ids`` (all when empty); a lone string is one id, not its letters."""
    return course.select((ids,) if isinstance(ids, str) else tuple(ids))


def _leaks(course: CourseConfig, assignment: AssignmentConfig, staging: Path) -> list[Finding]:
    secrets = collect_secrets(assignment, root=course.root)
    release = check_release(assignment, staging / RELEASE / assignment.id, secrets=secrets)
    return release + check_solutions(assignment, staging / SOLUTIONS / assignment.id, secrets=secrets)


def _leak_message(findings: list[Finding]) -> str:
    count = f"{len(findings)} finding{'s' * (len(findings) != 1)}"
    return f"the build would leak ({count}); nothing was replaced:\n" + "\n".join(f"  {f}" for f in findings)


def _replace(new: Path, old: Path) -> None:
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old)
    elif old.exists() or old.is_symlink():
        old.unlink()
    old.parent.mkdir(parents=True, exist_ok=True)
    new.replace(old)


def _built(root: Path, rendered: Rendered) -> BuiltAssignment:
    name = rendered.assignment.id
    return BuiltAssignment(
        id=name,
        release_dir=root / RELEASE / name,
        solutions_dir=root / SOLUTIONS / name,
        release_files=tuple(rendered.release),
        solution_files=tuple(rendered.solutions),
    )


def check(course: CourseConfig, ids: Sequence[str] = ()) -> list[str]:
    """Paths (``student_release/hw1/sampling.py``...) where the committed tree under the
    course root differs from a fresh build: changed, missing or extra. Empty = clean.

    With no ``ids``, every file under ``student_release/`` and ``solutions/`` is compared,
    so folders of assignments no longer in grading.toml show up as extra.
    """
    with tempdirs.private("check") as fresh:
        build(course, ids, out_root=fresh)
        scopes = [RELEASE, SOLUTIONS]
        if ids:
            scopes = [f"{kind}/{a.id}" for a in _select(course, ids) for kind in (RELEASE, SOLUTIONS)]
        changed = [f"{scope}/{relative}" for scope in scopes for relative in _differences(fresh / scope, course.root / scope)]
    return sorted(changed)


def _differences(expected_dir: Path, actual_dir: Path) -> list[str]:
    expected, actual = _files(expected_dir), _files(actual_dir)
    return [
        relative
        for relative in sorted(expected.keys() | actual.keys())
        if relative not in expected or relative not in actual or expected[relative].read_bytes() != actual[relative].read_bytes()
    ]


def _files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    files = walk(folder, everything=True)
    return {f: folder / f for f in files if not CHECK_IGNORED.intersection(f.split("/"))}
