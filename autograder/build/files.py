"""Build stage, step 0: which source files go out, and one file rendered into one version.

A file goes out when its posix path relative to the assignment's source folder matches
one of the assignment's ``release`` globs (``*`` stays within a folder, ``**`` matches
any depth). Never released, whatever the globs say: anything under ``tests/hidden/``,
``__pycache__`` folders, and dotfiles. Text files go through the region renderer; all
other files are copied byte for byte.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from autograder.build.notebooks import render_notebook
from autograder.build.regions import Version, render_text
from autograder.config import AssignmentConfig
from autograder.errors import RegionError

TEXT_SUFFIXES = frozenset({".py", ".ipynb", ".md", ".txt", ".toml"})
HIDDEN_TESTS = "tests/hidden/"
GENERATED = ("README.md", "assignment.toml")  # written by the build, not copied


def walk(root: Path, *, everything: bool = False) -> tuple[str, ...]:
    """Sorted posix paths of the files under ``root``, relative to it.

    Unless ``everything``, dotfiles, dot-folders and ``__pycache__`` are left out.
    """
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        if not everything:
            dirs[:] = [d for d in dirs if not _skipped(d)]
            files = [f for f in files if not _skipped(f)]
        base = Path(folder).relative_to(root)
        found.extend((base / name).as_posix() for name in files)
    return tuple(sorted(found))


def _skipped(name: str) -> bool:
    return name.startswith(".") or name == "__pycache__"


def is_hidden_test(relative: str) -> bool:
    return relative.startswith(HIDDEN_TESTS)


@functools.lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def glob_matches(pattern: str, relative: str) -> bool:
    """Whether the posix path ``relative`` matches ``pattern`` (``**`` = any depth)."""
    return _glob_regex(pattern).fullmatch(relative) is not None


def release_files(assignment: AssignmentConfig) -> tuple[str, ...]:
    """The source files (posix, relative to ``assignment.source``) that go to students."""
    return tuple(
        relative
        for relative in walk(assignment.source)
        if not is_hidden_test(relative) and any(glob_matches(g, relative) for g in assignment.release)
    )


def is_text(relative: str) -> bool:
    return Path(relative).suffix in TEXT_SUFFIXES


def read_text(path: Path, display: str | Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RegionError(display, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def render_file(path: Path, version: Version, *, display: str | Path) -> bytes:
    """One source file in one version; ``display`` names it in errors."""
    if not is_text(path.name):
        return path.read_bytes()
    text = read_text(path, display)
    if path.suffix == ".ipynb":
        return render_notebook(text, display, version).encode("utf-8")
    return render_text(text, display, version).encode("utf-8")


def display_path(path: Path, root: Path | None) -> str:
    """``path`` relative to ``root`` when it lies inside, else as given (for messages)."""
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()
