"""Export stage: the autograder zip an instructor uploads to Gradescope (``autograder gradescope ID``).

The zip holds, at its root::

    setup.sh             installs the grader's runtime, pinned (Gradescope runs it once per upload)
    run_autograder       grades one submission (Gradescope runs it for each)
    requirements.txt     the pins (autograder/container/requirements.txt)
    grader/autograder/   this package, as it is now
    course/              the assignment's folder (tests, data) and its assignment.toml
    key/                 the solution key (solutions/<id>)

It is written deterministically (sorted entries, fixed timestamps), so the same course
gives the same bytes, and atomically.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from autograder.build.generated import assignment_toml
from autograder.config import AssignmentConfig, CourseConfig
from autograder.errors import GraderError

PACKAGE = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
REQUIREMENTS = PACKAGE / "container" / "requirements.txt"
SKIPPED = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
TIMESTAMP = (2024, 1, 1, 0, 0, 0)


def write_autograder_zip(course: CourseConfig, assignment: AssignmentConfig, *, out: Path) -> Path:
    """Write the zip for ``assignment`` to ``out``; returns its path."""
    key = course.root / "solutions" / assignment.id
    if not key.is_dir():
        raise GraderError(f"no solution key at {key}: run `autograder build {assignment.id}` first")
    entries = dict(autograder_entries(course, assignment, key))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(entries):
                data, mode = entries[name]
                info = zipfile.ZipInfo(name, date_time=TIMESTAMP)
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return out


def autograder_entries(course: CourseConfig, assignment: AssignmentConfig,
                       key: Path) -> Iterator[tuple[str, tuple[bytes, int]]]:
    """(name in the zip, (bytes, mode)) for every file of the upload."""
    run = (HERE / "run_autograder").read_text(encoding="utf-8").replace("@ASSIGNMENT@", assignment.id)
    yield "run_autograder", (run.encode("utf-8"), 0o755)
    yield "setup.sh", ((HERE / "setup.sh").read_bytes(), 0o755)
    yield "requirements.txt", (REQUIREMENTS.read_bytes(), 0o644)
    yield from _tree(PACKAGE, "grader/autograder")
    yield from _tree(assignment.source, "course", skip={"assignment.toml"}, links_within=course.root)
    yield "course/assignment.toml", (assignment_toml(course_name=course.name, assignment=assignment).encode(), 0o644)
    yield from _tree(key, "key")


def _tree(folder: Path, prefix: str, skip: set[str] = frozenset(),
          links_within: Path | None = None) -> Iterator[tuple[str, tuple[bytes, int]]]:
    """The files under ``folder``. A link is packed as the plain file it points to when that file
    lies inside ``links_within`` (hw3's ``mnist.py`` is hw2's, linked); any other link is refused."""
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if SKIPPED & set(relative.parts) or path.suffix == ".pyc" or str(relative) in skip:
            continue
        if path.is_symlink():
            target = path.resolve()
            if links_within is None or not target.is_file() or not target.is_relative_to(links_within.resolve()):
                raise GraderError(f"{path}: a link; the autograder zip holds plain files only")
        if path.is_file():
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            yield f"{prefix}/{relative.as_posix()}", (path.read_bytes(), mode)
