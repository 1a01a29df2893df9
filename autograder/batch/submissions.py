"""Finding the submissions of a batch: a folder with one entry per student, or a Gradescope export.

Each :class:`Submission` gets a student id that names its files in the output folder
(``results/<student>.json``, ``feedback/<student>.md``): the entry's name without its
extension for a plain folder; for an export, the first submitter's sid (else email, else
the export's folder name), so the same student keeps the same id across exports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from autograder.batch import export
from autograder.batch.fingerprint import content_hash
from autograder.errors import AutograderError, ExitCode

SUBMISSION_SUFFIXES = (".zip", ".py", ".ipynb")


class BatchError(AutograderError):
    """The batch cannot run at all (no submissions, unreadable export)."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class Submission:
    student: str  # unique, safe as a file name
    path: Path  # what is graded: a folder, .zip, .py or .ipynb
    name: str  # as it appears in the folder or export, for the gradebook
    submitters: tuple[export.Submitter, ...] = ()
    sha256: str = ""  # of the content as handed in: a changed submission is graded again

    def to_json(self) -> dict:
        return {"student": self.student, "submission": self.name, "sha256": self.sha256,
                "submitters": [{"name": s.name, "sid": s.sid, "email": s.email} for s in self.submitters]}


@dataclass(frozen=True)
class Found:
    submissions: tuple[Submission, ...]
    notes: tuple[str, ...]  # entries left out, and why
    export: bool  # whether they came from a Gradescope export


def find_submissions(source: Path, scratch: Path, *, exclude: Path | None = None) -> Found:
    """Every submission in ``source``, sorted by student id. Zips of many are unpacked into ``scratch``."""
    source = Path(source).resolve()
    if not source.exists():
        raise BatchError(f"{source}: no such folder or file")
    notes: list[str] = []
    if source.is_file():
        if source.suffix != ".zip":
            raise BatchError(f"{source}: expected a folder of submissions or a Gradescope export .zip")
        target = scratch / "export"
        notes += export.unpack(source, target)
        source = target
        metadata = export.find_metadata(target)
        if metadata is None:  # a zip of a plain folder of submissions
            entries = [p for p in target.iterdir() if not _ignored(p.name)]
            if len(entries) == 1 and entries[0].is_dir():
                source = entries[0]
    else:
        metadata = source / export.METADATA if (source / export.METADATA).is_file() else None
    if metadata is not None:
        found = _from_export(metadata, notes)
    else:
        found = _from_folder(source, notes, exclude)
    if not found:
        raise BatchError(f"{source}: no submissions found (expected folders, .zip, .py or .ipynb files)")
    return Found(tuple(sorted(found, key=lambda s: s.student)), tuple(notes), metadata is not None)


def _ignored(name: str) -> bool:
    return name.startswith((".", "__MACOSX", "__pycache__")) or name == "Thumbs.db"


def safe_id(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._@+-]+", "_", text.strip()).strip("._-")
    return cleaned[:100] or "submission"


def _from_folder(folder: Path, notes: list[str], exclude: Path | None) -> list[Submission]:
    taken: set[str] = set()
    found = []
    excluded = exclude.resolve() if exclude is not None else None
    for entry in sorted(folder.iterdir()):
        if _ignored(entry.name) or (excluded is not None and entry.resolve() == excluded):
            continue
        if entry.is_file() and entry.suffix not in SUBMISSION_SUFFIXES:
            notes.append(f"{entry.name}: graded as an invalid submission (not a folder, .zip, .py or .ipynb)")
        stem = entry.name if entry.is_dir() else entry.stem
        student = _unique(safe_id(stem), entry.suffix, taken)
        found.append(Submission(student=student, path=entry, name=entry.name, sha256=_hash(entry)))
    return found


def _unique(student: str, suffix: str, taken: set[str]) -> str:
    candidate = student
    if candidate in taken and suffix:
        candidate = f"{student}_{suffix.lstrip('.')}"
    counter = 2
    while candidate in taken:
        candidate, counter = f"{student}_{counter}", counter + 1
    taken.add(candidate)
    return candidate


def _from_export(metadata_path: Path, notes: list[str]) -> list[Submission]:
    root = metadata_path.parent
    try:
        text = metadata_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"{metadata_path}: cannot read ({exc})") from None
    try:
        entries = export.parse_metadata(text, metadata_path)
    except export.ExportError as exc:
        raise BatchError(str(exc)) from None
    folders = {p.name: p for p in root.iterdir() if p.is_dir() and not _ignored(p.name)}
    for name in sorted(set(entries) - set(folders)):
        notes.append(f"{name}: listed in {export.METADATA} but not in the export")
    taken: set[str] = set()
    found = []
    for name in sorted(folders):
        entry = entries.get(name)
        if entry is None:
            notes.append(f"{name}: not in {export.METADATA}; graded under its folder name")
        submitters = tuple(sorted(entry.submitters, key=lambda s: (s.sid, s.email, s.name))) if entry else ()
        first = submitters[0] if submitters else export.Submitter()
        student = _unique(safe_id(first.sid or first.email or name), "", taken)
        found.append(Submission(student=student, path=folders[name], name=name, submitters=submitters,
                                sha256=_hash(folders[name])))
    return found


def _hash(path: Path) -> str:
    try:
        return content_hash(path)
    except OSError:
        return ""
