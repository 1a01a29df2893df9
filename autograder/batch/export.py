"""Gradescope's "Export Submissions" zip: unpack it defensively and read ``submission_metadata.yml``.

The export holds one folder per submission (``submission_<id>/``) and a
``submission_metadata.yml`` that maps each folder to its submitters. Gradescope writes
that file from Ruby, so keys are symbols (``:submitters:``, ``:name:``, ``:sid:``,
``:email:``, ``:created_at:``, ``:score:``), and each entry may also carry the full
previous ``:results:`` and a ``:history:`` of earlier submissions::

    submission_123456:
      :submitters:
      - :name: Ada Lovelace
        :sid: '1815'
        :email: ada@example.edu
      :created_at: 2025-02-03 21:14:07.412000000 -08:00
      :score: 17.0
      :results:
        tests:
        - name: ...

Only the submitters, the time and the score are read here. Rather than a YAML library,
a scanner that follows indentation: every field of an entry sits at the entry's
indentation, and everything nested in a field (results, history, block scalars) is
indented deeper, so it can be skipped without being understood.
"""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.errors import LocatedError

METADATA = "submission_metadata.yml"
MAX_FILES = 100_000
MAX_TOTAL_BYTES = 8 << 30


class ExportError(LocatedError):
    """The export (its zip or its metadata file) cannot be read."""


@dataclass(frozen=True)
class Submitter:
    name: str = ""
    sid: str = ""
    email: str = ""


@dataclass(frozen=True)
class ExportEntry:
    folder: str
    submitters: tuple[Submitter, ...] = ()
    created_at: str = ""
    score: str = ""


@dataclass
class _Entry:
    folder: str
    fields: dict[str, str] = field(default_factory=dict)
    submitters: list[dict[str, str]] = field(default_factory=list)


def parse_metadata(text: str, path: str | Path = METADATA) -> dict[str, ExportEntry]:
    """The entries of ``submission_metadata.yml`` by folder name."""
    lines = text.splitlines()
    entries: dict[str, _Entry] = {}
    current: _Entry | None = None
    fields_at: int | None = None  # the indentation of the current entry's fields
    in_submitters = False
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped, indent = line.strip(), _indent(line)
        if not stripped or (indent == 0 and (stripped.startswith("#") or stripped in ("---", "..."))):
            index += 1
            continue
        if line[:indent + 1].endswith("\t"):
            raise ExportError(path, "tabs are not allowed in YAML indentation", index + 1)
        if indent == 0:
            key, value = _key_value(stripped, path, index + 1)
            if value not in ("", "{}"):
                raise ExportError(path, f"expected the submission folder {key!r} to hold a mapping", index + 1)
            current, fields_at, in_submitters = entries.setdefault(key, _Entry(key)), None, False
            index += 1
            continue
        if current is None:
            raise ExportError(path, "indented line before any submission folder", index + 1)
        fields_at = indent if fields_at is None else fields_at
        if indent < fields_at:
            raise ExportError(path, "indentation does not match the fields above it", index + 1)
        if in_submitters and indent >= fields_at and (stripped.startswith("- ") or stripped == "-"):
            index = _read_submitter(lines, index, current, path)
        elif indent > fields_at or stripped.startswith("- "):
            index += 1  # inside a field we do not read (results, history)
        else:
            key = _key_value(stripped, path, index + 1)[0]
            in_submitters = key == "submitters"
            index = _read_field(lines, index, fields_at, {} if in_submitters else current.fields, path)
    return {name: _finish(entry) for name, entry in entries.items()}


def _finish(entry: _Entry) -> ExportEntry:
    submitters = tuple(Submitter(name=s.get("name", ""), sid=s.get("sid", ""), email=s.get("email", ""))
                       for s in entry.submitters)
    return ExportEntry(folder=entry.folder, submitters=submitters, created_at=entry.fields.get("created_at", ""),
                       score=entry.fields.get("score", ""))


def _read_submitter(lines: list[str], index: int, entry: _Entry, path: str | Path) -> int:
    """One ``- :name: ...`` item and the keys under it; returns the index of the line after it."""
    dash = _indent(lines[index])
    after_dash = lines[index][dash + 1:]
    submitter: dict[str, str] = {}
    entry.submitters.append(submitter)
    keys_at = None
    if after_dash.strip():
        keys_at = dash + 1 + _indent(after_dash)
        index = _read_field(lines, index, keys_at, submitter, path, text=after_dash.strip())
    else:
        index += 1
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        indent = _indent(line)
        if keys_at is None and indent > dash:
            keys_at = indent
        if keys_at is None or indent < keys_at:
            return index
        if indent > keys_at or line.strip().startswith("- "):
            index += 1  # nested under one of the submitter's keys: not read
            continue
        index = _read_field(lines, index, keys_at, submitter, path)
    return index


def _read_field(lines: list[str], index: int, indent: int, into: dict[str, str], path: str | Path,
                text: str | None = None) -> int:
    """``key: value`` at ``lines[index]`` (or ``text``), continued on deeper lines; returns the next index."""
    key, value = _key_value(lines[index].strip() if text is None else text, path, index + 1)
    first = index
    value, index = _continued(lines, index, indent, value)
    into[key] = _scalar(value, path, first + 1)
    return index + 1


def _continued(lines: list[str], index: int, indent: int, value: str) -> tuple[str, int]:
    """A scalar that goes on over deeper-indented lines (folded); returns it and its last line's index."""
    if value.startswith(("|", ">")):  # a block scalar: the deeper lines are its text
        parts = []
        while index + 1 < len(lines) and (not lines[index + 1].strip() or _indent(lines[index + 1]) > indent):
            index += 1
            parts.append(lines[index].strip())
        return "'" + "\n".join(parts).strip().replace("'", "''") + "'", index
    quoted = value[:1] in ("'", '"')
    while index + 1 < len(lines) and not _closed(value):
        following = lines[index + 1]
        if not following.strip() and quoted:  # an empty line inside quotes is a line break
            index += 1
            value += "\n"
            continue
        if not following.strip() or _indent(following) <= indent:
            break
        index += 1
        escaped_break = value[:1] == '"' and (len(value) - len(value.rstrip("\\"))) % 2 == 1
        if escaped_break:
            value = value[:-1] + following.strip()
        else:
            value += ("" if value.endswith("\n") else " ") + following.strip()
    return value, index


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _closed(value: str) -> bool:
    """Whether a value is complete: empty (a nested collection follows) or a quote that has ended.

    A plain scalar is never closed: deeper lines after it continue it (a scalar has no children).
    """
    if not value:
        return True
    if value[0] in ("'", '"'):
        return _quote_end(value) > 0
    return False


def _key_value(text: str, path: str | Path, line: int) -> tuple[str, str]:
    """``:name: value`` or ``name: value`` (also quoted keys); the key without its leading colon."""
    if text[:1] in ("'", '"'):
        end = _quote_end(text)
        if end < 0 or not text[end + 1:].startswith(":"):
            raise ExportError(path, f"cannot read the key in {text[:60]!r}", line)
        return _scalar(text[: end + 1], path, line).lstrip(":"), text[end + 2:].strip()
    match = re.match(r"(:?[^\s:][^:]*?|:[^\s]+?):(?:\s+|$)", text)
    if match is None:
        raise ExportError(path, f"expected 'key: value', got {text[:60]!r}", line)
    return match.group(1).lstrip(":"), text[match.end():].strip()


def _quote_end(text: str) -> int:
    quote = text[0]
    index = 1
    while index < len(text):
        char = text[index]
        if quote == "'" and char == "'":
            if text[index + 1: index + 2] == "'":
                index += 2
                continue
            return index
        if quote == '"' and char == "\\":
            index += 2
            continue
        if quote == '"' and char == '"':
            return index
        index += 1
    return -1


_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r",
            "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028",
            "P": "\u2029"}


def _scalar(value: str, path: str | Path, line: int) -> str:
    """A YAML scalar as text: plain, 'single' or "double" quoted; null as ''."""
    value = value.strip()
    if value.startswith(("&", "!")) and " " in value:  # an anchor or a tag before the value
        value = value.split(" ", 1)[1].strip()
    if not value or value in ("~", "null", "Null", "NULL"):
        return ""
    if value[0] == "'":
        if not _closed(value):
            raise ExportError(path, "unterminated quoted value", line)
        return value[1:-1].replace("''", "'")
    if value[0] == '"':
        end = _quote_end(value)
        if end < 0:
            raise ExportError(path, "unterminated quoted value", line)
        return _unescape(value[1:end], path, line)
    return re.split(r"\s+#", value, maxsplit=1)[0].rstrip()


def _unescape(body: str, path: str | Path, line: int) -> str:
    out = []
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        code = body[index + 1: index + 2]
        width = {"x": 2, "u": 4, "U": 8}.get(code)
        if width:
            digits = body[index + 2: index + 2 + width]
            if not re.fullmatch(r"[0-9A-Fa-f]+", digits) or len(digits) != width:
                raise ExportError(path, f"bad escape \\{code}{digits}", line)
            out.append(chr(int(digits, 16)))
            index += 2 + width
        elif code in _ESCAPES:
            out.append(_ESCAPES[code])
            index += 2
        else:
            raise ExportError(path, f"bad escape \\{code}", line)
    return "".join(out)


# -- the zip ------------------------------------------------------------------------


def is_export_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(PurePosixPath(n).name == METADATA and len(PurePosixPath(n).parts) <= 3
                       for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def unpack(path: Path, target: Path) -> list[str]:
    """Unpack a zip of submissions into ``target``; returns notes on entries left out.

    As careful as staging a submission: no absolute paths, no ``..``, no symbolic links,
    bounded count and size (counted on the bytes really written).
    """
    notes: list[str] = []
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportError(path, f"not a readable zip file ({exc})") from None
    count = total = 0
    with archive:
        for info in archive.infolist():
            parts = PurePosixPath(info.filename.replace("\\", "/")).parts
            if not parts or info.is_dir() or parts[0] == "__MACOSX":
                continue
            if stat.S_ISLNK(info.external_attr >> 16) or info.filename.startswith(("/", "\\")) \
                    or ".." in parts or ":" in parts[0]:
                notes.append(f"{info.filename}: left out (a link, or outside the export)")
                continue
            count += 1
            if count > MAX_FILES:
                raise ExportError(path, f"more than {MAX_FILES} files")
            destination = target.joinpath(*parts)
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, open(destination, "wb") as sink:
                    while chunk := source.read(1 << 20):
                        total += len(chunk)
                        if total > MAX_TOTAL_BYTES:
                            raise ExportError(path, f"larger than {MAX_TOTAL_BYTES >> 30} GB unpacked")
                        sink.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError) as exc:
                # one unreadable entry spoils one submission, not the batch: staging will say it is missing
                notes.append(f"{info.filename}: cannot be unpacked ({exc})")
                destination.unlink(missing_ok=True)
    return notes


def find_metadata(root: Path) -> Path | None:
    """The metadata file at the root of an unpacked export, or one or two folders down."""
    for depth in range(3):
        found = sorted(root.glob("/".join(["*"] * depth + [METADATA])))
        if found:
            return found[0]
    return None
