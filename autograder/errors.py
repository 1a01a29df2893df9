"""The project's exceptions and exit codes: raised with a location, reported once at the edge."""

from __future__ import annotations

import enum
from pathlib import Path


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  # a check found problems (build --check, validate, leaks)
    USAGE = 2  # bad command line or configuration
    GRADER_ERROR = 3  # the grader itself could not run


class AutograderError(Exception):
    """Base class: an error the command line reports as ``error: <message>``."""

    exit_code = ExitCode.FAILED


class LocatedError(AutograderError):
    """An error in a file, optionally at a line: ``path:line: message``."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ConfigError(LocatedError):
    """``grading.toml`` (or an ``assignment.toml``) has a bad key or value."""

    exit_code = ExitCode.USAGE


class RegionError(LocatedError):
    """A marked region in a source file is malformed (unclosed, nested, END without BEGIN)."""


class LeakError(AutograderError):
    """Solution or hidden-test material reached the student release."""


class SubmissionError(AutograderError):
    """The submission cannot be staged (corrupt zip, missing file, bad notebook)."""


class GraderError(AutograderError):
    """The grader itself could not run (bad tests, sandbox cannot start)."""

    exit_code = ExitCode.GRADER_ERROR
