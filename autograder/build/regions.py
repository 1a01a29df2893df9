"""Build stage, step 1: the one parser for marked regions, and the renderer of both versions.

Every source file and every notebook cell goes through :func:`parse` once. It accepts
otter-grader's and nbgrader's markers (matched on the stripped line, case-sensitive)::

    # BEGIN SOLUTION / # END SOLUTION              student: "..."   solution: kept
    # BEGIN SOLUTION NO PROMPT / # END SOLUTION    student: removed solution: kept
    x = f(y)  # SOLUTION                           student: "x = ..." (other lines: "...", indented)
    \"\"\" # BEGIN PROMPT / \"\"\" # END PROMPT          student: kept    solution: removed
    ### BEGIN SOLUTION / ### END SOLUTION          student: "# YOUR CODE HERE" + raise
    ### BEGIN HIDDEN TESTS / ### END HIDDEN TESTS  removed from both

A PROMPT region directly followed by a SOLUTION region stands in for its "...".
Regions do not nest. :func:`render` turns the segments into either version, and
:mod:`autograder.build.leaks` reads the same segments to learn what must not leak.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence, Union

from autograder.errors import RegionError

RegionKind = Literal["solution", "solution_no_prompt", "solution_line", "prompt", "nb_solution", "nb_hidden"]
Version = Literal["student", "solution"]
VERSIONS: tuple[Version, ...] = ("student", "solution")

SOLUTION_KINDS = frozenset({"solution", "solution_no_prompt", "solution_line", "nb_solution"})
HIDDEN_KINDS = frozenset({"nb_hidden"})


@dataclass(frozen=True)
class Marker:
    begin: str
    end: str
    kind: RegionKind


MARKERS = (
    Marker(begin="# BEGIN SOLUTION", end="# END SOLUTION", kind="solution"),
    Marker(begin="# BEGIN SOLUTION NO PROMPT", end="# END SOLUTION", kind="solution_no_prompt"),
    Marker(begin='""" # BEGIN PROMPT', end='""" # END PROMPT', kind="prompt"),
    Marker(begin="''' # BEGIN PROMPT", end="''' # END PROMPT", kind="prompt"),
    Marker(begin="### BEGIN SOLUTION", end="### END SOLUTION", kind="nb_solution"),
    Marker(begin="### BEGIN HIDDEN TESTS", end="### END HIDDEN TESTS", kind="nb_hidden"),
)
_BEGINS = {m.begin: m for m in MARKERS}
_BEGIN_OF_END = {m.end: m.begin for m in reversed(MARKERS)}  # "# END SOLUTION" -> "# BEGIN SOLUTION"

# A line that looks like a marker but is none (typo, wrong case, wrong number of '#'):
# an error, since silently treating it as code would ship the solution.
_NEAR_MISS = re.compile(r"^(?:[\"']{3}\s*)?#+\s*(?:BEGIN|END)\s+(?:SOLUTION|PROMPT|HIDDEN)", re.IGNORECASE)
_SOLUTION_COMMENT = re.compile(r"\s*#\s*SOLUTION$")  # otter writes "# SOLUTION" and accepts "#SOLUTION"
# `lhs = rhs`, also `x: int = rhs`; not `==`, `<=`, `+=`, nor `f(a=1)`.
_ASSIGNMENT = re.compile(r"^(?P<lhs>[^=()#]*?[^=!<>+\-*/%&|^@:\s])\s*=(?!=)")
STUDENT_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")


@dataclass(frozen=True)
class Line:
    number: int  # 1-based, in the parsed text
    text: str  # without the newline


@dataclass(frozen=True)
class Region:
    kind: RegionKind
    start: int  # line of the BEGIN marker (for "solution_line", the line itself)
    end: int  # line of the END marker
    indent: str  # leading whitespace of the BEGIN marker
    lines: tuple[Line, ...]  # between the markers; for "solution_line", the marked line

    @property
    def is_solution(self) -> bool:
        return self.kind in SOLUTION_KINDS

    @property
    def is_hidden(self) -> bool:
        return self.kind in HIDDEN_KINDS


Segment = Union[Line, Region]


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` without their newlines ("\\r\\n" counts as "\\n")."""
    text = text.replace("\r\n", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n") if text else []


def parse(text: str, path: str | Path) -> tuple[Segment, ...]:
    """The plain lines and marked regions of ``text``; ``path`` only names the file in errors."""
    segments: list[Segment] = []
    opened: tuple[Marker, int, str] | None = None  # marker, its line, its indent
    inside: list[Line] = []
    for number, text_line in enumerate(split_lines(text), start=1):
        stripped = text_line.strip()
        if stripped in _BEGINS:
            if opened is not None:
                raise _nested(path, stripped, opened, number)
            opened, inside = (_BEGINS[stripped], number, _indent(text_line)), []
        elif stripped in _BEGIN_OF_END:
            marker, start, indent = _closing(path, stripped, opened, number)
            segments.append(Region(kind=marker.kind, start=start, end=number, indent=indent, lines=tuple(inside)))
            opened = None
        elif _NEAR_MISS.match(stripped):
            known = ", ".join(sorted({m.begin for m in MARKERS} | {m.end for m in MARKERS}))
            raise RegionError(path, f"'{stripped}' looks like a region marker but is not one (markers: {known})", number)
        elif _SOLUTION_COMMENT.search(stripped):
            if opened is not None:
                raise _nested(path, "# SOLUTION", opened, number)
            line = Line(number=number, text=text_line)
            segments.append(Region(kind="solution_line", start=number, end=number, indent=_indent(text_line), lines=(line,)))
        elif opened is not None:
            inside.append(Line(number=number, text=text_line))
        else:
            segments.append(Line(number=number, text=text_line))
    if opened is not None:
        marker, start, _ = opened
        raise RegionError(path, f"unclosed region: '{marker.begin}' is never closed by '{marker.end}'", start)
    return tuple(segments)


def _indent(text: str) -> str:
    return text[: len(text) - len(text.lstrip())]


def _nested(path: str | Path, what: str, opened: tuple[Marker, int, str], number: int) -> RegionError:
    marker, start, _ = opened
    message = f"nested region: '{what}' inside the '{marker.begin}' region opened at line {start} (regions do not nest)"
    return RegionError(path, message, number)


def _closing(path: str | Path, end: str, opened: tuple[Marker, int, str] | None, number: int) -> tuple[Marker, int, str]:
    if opened is None:
        raise RegionError(path, f"'{end}' without '{_BEGIN_OF_END[end]}'", number)
    marker, start, _ = opened
    if end != marker.end:
        expected = f"(expected '{marker.end}')"
        message = f"mismatched END: '{end}' cannot close the '{marker.begin}' region opened at line {start} {expected}"
        raise RegionError(path, message, number)
    return opened


def render(segments: Sequence[Segment], version: Version) -> str:
    """The text of one version: every output line ends with "\\n"."""
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}, got {version!r}")
    out: list[str] = []
    previous: Segment | None = None
    for segment in segments:
        if isinstance(segment, Line):
            out.append(segment.text)
        elif version == "student":
            out.extend(_student(segment, previous))
        else:
            out.extend(_solution(segment))
        previous = segment
    return "".join(line + "\n" for line in out)


def _student(region: Region, previous: Segment | None) -> list[str]:
    if region.kind == "solution":
        after_prompt = isinstance(previous, Region) and previous.kind == "prompt"
        return [] if after_prompt else [region.indent + "..."]
    if region.kind == "prompt":
        return [line.text for line in region.lines]
    if region.kind == "nb_solution":
        return [region.indent + stub for stub in STUDENT_STUB]
    if region.kind == "solution_line":  # as otter-grader: an assignment keeps its target, other code is "..."
        code = solution_line_code(region)
        match = _ASSIGNMENT.match(code)
        if match:
            return [f"{match['lhs']} = ..."]
        return [code[: len(code) - len(code.lstrip())] + "..."] if code.strip() else []
    return []  # solution_no_prompt, nb_hidden


def _solution(region: Region) -> list[str]:
    if region.kind == "solution_line":
        code = solution_line_code(region)
        return [code] if code.strip() else []
    if region.kind in SOLUTION_KINDS:
        return [line.text for line in region.lines]
    return []  # prompt, nb_hidden


def solution_line_code(region: Region) -> str:
    """For a "solution_line" region, the marked line without its ``# SOLUTION`` comment."""
    return _SOLUTION_COMMENT.sub("", region.lines[0].text)


def render_text(text: str, path: str | Path, version: Version) -> str:
    """Parse and render ``text``; a text without a final newline keeps none."""
    rendered = render(parse(text, path), version)
    if rendered and not text.replace("\r\n", "\n").endswith("\n"):
        rendered = rendered[:-1]
    return rendered
