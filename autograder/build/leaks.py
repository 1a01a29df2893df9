"""Build stage, step 3: the leak check, run on what the build wrote (or on any tampered copy).

From the assignment's sources (through the same region parser) it learns the secrets:
lines of solution regions, lines of hidden-test regions and of files under
``tests/hidden/``, and the names of hidden test functions. A secret line must be
non-trivial and must not also appear outside those regions in a non-hidden source (a
``return x`` in provided code is no secret). Then it reads every file of a release:

- a solution line, a hidden-test line or a ``def test_<hidden name>`` is a finding;
- so is a file under ``tests/hidden/``, or any file that is neither a released source
  file nor a generated one (``README.md``, ``assignment.toml``);
- so is a notebook cell with outputs, and a copied (non-text) file that differs from
  its source.

The solution key is checked the same way, except that solution lines belong there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from autograder.build.files import (
    GENERATED,
    display_path,
    is_hidden_test,
    is_text,
    read_text,
    release_files,
    walk,
)
from autograder.build.notebooks import cells, parse_cell
from autograder.build.regions import STUDENT_STUB, Line, Region, Segment, parse, solution_line_code, split_lines
from autograder.config import AssignmentConfig
from autograder.errors import RegionError

TRIVIAL = frozenset({"...", "pass", "return", "continue", "break", "raise", "else:", "try:", "finally:", *STUDENT_STUB})
_TEST_DEF = re.compile(r"\bdef\s+(test_\w*)")


@dataclass(frozen=True)
class Finding:
    path: str  # as shown, e.g. "student_release/hw1/sampling.py"
    line: int | None  # in the file, or within the cell for notebooks
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Secrets:
    """What must not reach students: stripped line (or test name) -> where it comes from."""

    solution: Mapping[str, str]
    hidden: Mapping[str, str]
    hidden_tests: Mapping[str, str]


@dataclass(frozen=True)
class _Place:
    display: str  # the file, as shown
    cell: int | None  # 1-based notebook cell, or None for a plain file

    def at(self, line: int) -> str:
        return f"{self.display}:{line}" + (f" (cell {self.cell})" if self.cell is not None else "")


def _trivial(stripped: str) -> bool:
    return stripped in TRIVIAL or not any(char.isalnum() for char in stripped)


def _parsed(text: str, display: str, relative: str) -> Iterator[tuple[_Place, tuple[Segment, ...]]]:
    if relative.endswith(".ipynb"):
        for cell in cells(text, display):
            yield _Place(display, cell.number), parse_cell(cell, display)
    else:
        yield _Place(display, None), parse(text, display)


def _raw(text: str, display: str, relative: str) -> Iterator[tuple[_Place, list[str]]]:
    if relative.endswith(".ipynb"):
        for cell in cells(text, display):
            yield _Place(display, cell.number), split_lines(cell.source)
    else:
        yield _Place(display, None), split_lines(text)


def _source_display(assignment: AssignmentConfig, relative: str, root: Path | None) -> str:
    if root is not None:
        return display_path(assignment.source / relative, root)
    return f"{assignment.source.parent.name}/{assignment.source.name}/{relative}"


def collect_secrets(assignment: AssignmentConfig, *, root: Path | None = None) -> Secrets:
    """The secrets of one assignment; ``root`` (the course root) shortens source paths.

    Public lines (the exemption) come from released files only: a line in a staff note
    that students never see does not make a solution line safe to ship.
    """
    public: set[str] = set()
    solution: dict[str, str] = {}
    hidden: dict[str, str] = {}
    released = set(release_files(assignment))
    for relative in walk(assignment.source):
        if not is_text(relative) or not (is_hidden_test(relative) or relative in released):
            continue
        display = _source_display(assignment, relative, root)
        text = read_text(assignment.source / relative, display)
        if is_hidden_test(relative):
            for place, lines in _raw(text, display, relative):
                for number, line in enumerate(lines, start=1):
                    hidden.setdefault(line.strip(), place.at(number))
            continue
        for place, segments in _parsed(text, display, relative):
            for segment in segments:
                _sort_segment(segment, place, public, solution, hidden)
    public_tests = _test_names(dict.fromkeys(public, ""))
    return Secrets(
        solution={k: v for k, v in solution.items() if k not in public and not _trivial(k)},
        hidden={k: v for k, v in hidden.items() if k not in public and not _trivial(k)},
        hidden_tests={k: v for k, v in _test_names(hidden).items() if k not in public_tests},
    )


def _test_names(lines: Mapping[str, str]) -> dict[str, str]:
    """``test_*`` functions defined in ``lines`` -> where the first definition is."""
    names: dict[str, str] = {}
    for line, where in lines.items():
        match = _TEST_DEF.search(line)
        if match:
            names.setdefault(match[1], where)
    return names


def _sort_segment(segment: Segment, place: _Place, public: set[str], solution: dict[str, str], hidden: dict[str, str]) -> None:
    if isinstance(segment, Line):
        public.add(segment.text.strip())
        return
    if segment.kind == "prompt":
        public.update(line.text.strip() for line in segment.lines)
        return
    secret = solution if segment.is_solution else hidden
    for line in segment.lines:
        secret.setdefault(line.text.strip(), place.at(line.number))
    if isinstance(segment, Region) and segment.kind == "solution_line":
        solution.setdefault(solution_line_code(segment).strip(), place.at(segment.start))


def check_release(
    assignment: AssignmentConfig, release_dir: Path, *, root: Path | None = None, secrets: Secrets | None = None
) -> list[Finding]:
    """Every leak in a student release folder (empty = clean).

    ``root`` (the course root) shortens the source paths in messages; ``secrets`` saves
    reading the sources again when the caller has them already.
    """
    return _scan(assignment, Path(release_dir), secrets or collect_secrets(assignment, root=root), student=True)


def check_solutions(
    assignment: AssignmentConfig, solutions_dir: Path, *, root: Path | None = None, secrets: Secrets | None = None
) -> list[Finding]:
    """Every hidden-test leak or unexpected file in a solution-key folder (empty = clean)."""
    return _scan(assignment, Path(solutions_dir), secrets or collect_secrets(assignment, root=root), student=False)


def _scan(assignment: AssignmentConfig, folder: Path, secrets: Secrets, *, student: bool) -> list[Finding]:
    allowed = set(release_files(assignment)) | set(GENERATED)
    label = f"{folder.parent.name}/{folder.name}"
    findings: list[Finding] = []
    for relative in walk(folder, everything=True):
        shown = f"{label}/{relative}"
        if is_hidden_test(relative):
            findings.append(Finding(shown, None, "hidden test file: nothing under tests/hidden/ is released"))
        elif relative not in allowed:
            message = f"unexpected file: neither a released source file nor one of {', '.join(GENERATED)}"
            findings.append(Finding(shown, None, message))
        elif not is_text(relative) and relative not in GENERATED:
            source = assignment.source / relative
            if (folder / relative).read_bytes() != source.read_bytes():
                findings.append(Finding(shown, None, "differs from its source (copied files must be byte-identical)"))
        findings.extend(_scan_file(folder / relative, relative, shown, secrets, student=student))
    return findings


def _scan_file(path: Path, relative: str, shown: str, secrets: Secrets, *, student: bool) -> Iterator[Finding]:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return  # binary: only its name and bytes were checked
    try:
        units = list(_raw(text, shown, relative))
        if relative.endswith(".ipynb"):
            yield from _notebook_outputs(text, shown)
    except RegionError as exc:
        yield Finding(shown, exc.line, f"unreadable notebook, scanned as text: {exc.message}")
        units = [(_Place(shown, None), split_lines(text))]
    for place, lines in units:
        prefix = f"cell {place.cell}: " if place.cell is not None else ""
        for number, line in enumerate(lines, start=1):
            message = _leak(line, secrets, student=student)
            if message:
                yield Finding(shown, number, prefix + message)


def _notebook_outputs(text: str, shown: str) -> Iterator[Finding]:
    for cell in cells(text, shown):
        if cell.outputs:
            yield Finding(shown, None, f"cell {cell.number}: has outputs (the build clears them; they may show solution results)")


def _leak(line: str, secrets: Secrets, *, student: bool) -> str | None:
    stripped = line.strip()
    test = _TEST_DEF.search(line)
    if test and test[1] in secrets.hidden_tests:
        return f"hidden test function {test[1]} from {secrets.hidden_tests[test[1]]}"
    if stripped in secrets.solution:
        return f"solution line from {secrets.solution[stripped]}" if student else None
    if stripped in secrets.hidden:
        return f"hidden-test line from {secrets.hidden[stripped]}"
    return None
