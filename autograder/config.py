"""``grading.toml``: the course description, read once at the edge into frozen dataclasses.

The file has three kinds of table::

    [course]                      name
    [defaults]                    values every assignment inherits
    [assignments.<id>]            one per assignment; may override any default

A student release carries an ``assignment.toml`` of the same form with one assignment
whose ``source`` is ``"."``, so ``autograder check`` reads it with the same code.
Every unknown key and every bad value is a :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from autograder.errors import ConfigError

DEVICES = ("cpu", "cuda")
ISOLATIONS = ("auto", "bubblewrap", "namespaces", "rlimits")
DEFAULT_RELEASE = ("*.py", "*.ipynb", "tests/public/**", "data/**")


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


@dataclass(frozen=True)
class SandboxLimits:
    memory_mb: int = 4096  # address space the student's code may add (lowered to fit the machine: sandbox.resources)
    processes: int = 64  # processes and threads of the sandbox's user
    file_size_mb: int = 64  # largest file it may write; also sizes its tmpfs
    isolation: str = "auto"  # see autograder.sandbox.isolation
    threads: int = 1  # torch intra-op threads in the sandbox; 0 = the cores available (see grading.toml)
    reply_mb: int = 256  # the largest reply the grader accepts from student code


HANDED_IN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\.(py|ipynb)")


def module_name(filename: str) -> str:
    """The module a handed-in file is imported as: its stem, a hyphen read as ``_``."""
    return filename.rsplit(".", 1)[0].replace("-", "_")


@dataclass(frozen=True)
class CheckpointConfig:
    """Trained weights students may hand in, scored by a window on a metric the grader computes.

    The tests marked ``@pytest.mark.checkpoint("<name>")`` grade them; where a checkpoint is
    not configured, its tests are left out (and its points are not part of the total).
    """

    name: str
    files: tuple[str, ...]  # names the student may hand in, the first one present is read
    points: float
    full: float  # the metric's value at which full marks start
    zero: float  # the value at which no marks are left; linear in between (either direction)
    data: Path | None = None  # evaluation data the grader reads (never enters the sandbox); absolute
    examples: int = 0  # how many evaluation examples the tests use; 0 = all of them
    settings: dict[str, str | int | float | bool] = field(default_factory=dict, hash=False)  # for the tests
    root: Path | None = None  # the folder of grading.toml: relative paths in settings start there

    def fraction(self, value: float) -> float:
        """The share of the points ``value`` earns: 1 at ``full`` or better, 0 at ``zero`` or worse."""
        if value != value:  # nan earns nothing
            return 0.0
        return min(1.0, max(0.0, (value - self.zero) / (self.full - self.zero)))


@dataclass(frozen=True)
class AssignmentConfig:
    id: str
    title: str
    source: Path  # absolute
    files: tuple[str, ...]  # what students hand in: modules (.py) and notebooks run top to bottom (.ipynb)
    points: float  # the total the tests must add up to
    time_limit: float  # seconds for the whole submission
    test_time_limit: float  # default seconds per test
    tolerances: dict[str, Tolerance] = field(hash=False)
    sandbox: SandboxLimits = SandboxLimits()
    release: tuple[str, ...] = DEFAULT_RELEASE  # globs of source files that go to students
    checkpoints: tuple[CheckpointConfig, ...] = ()  # trained weights graded by windows (hidden tests)
    seed: int | None = None  # a handed-in notebook's cells each start from this seed, as otter-grader's do

    @property
    def modules(self) -> dict[str, str]:
        """The name tests use for each handed-in file (``student.<name>``): ``ps-1.ipynb`` is ``ps_1``."""
        return {module_name(f): f for f in self.files}

    @property
    def load_limit(self) -> float:
        """Seconds a submission may take to load: its modules' imports, or running its notebooks
        (each cell within the per-test limit, all of them within half the submission's)."""
        if any(f.endswith(".ipynb") for f in self.files):
            return max(self.test_time_limit, self.time_limit / 2)
        return self.test_time_limit

    def checkpoint(self, name: str) -> CheckpointConfig | None:
        return next((c for c in self.checkpoints if c.name == name), None)

    def tolerance(self, device: str) -> Tolerance:
        return self.tolerances[device]

    @property
    def public_tests(self) -> Path:
        return self.source / "tests" / "public"

    @property
    def hidden_tests(self) -> Path:
        return self.source / "tests" / "hidden"


@dataclass(frozen=True)
class CourseConfig:
    name: str
    root: Path  # the folder holding grading.toml
    assignments: tuple[AssignmentConfig, ...]
    package: str = "autograder"  # what students `pip install` to run `autograder check`

    def assignment(self, assignment_id: str) -> AssignmentConfig:
        for a in self.assignments:
            if a.id == assignment_id:
                return a
        known = ", ".join(a.id for a in self.assignments) or "none"
        raise ConfigError(self.root / "grading.toml", f"no assignment {assignment_id!r} (known: {known})")

    def select(self, ids: list[str] | tuple[str, ...]) -> tuple[AssignmentConfig, ...]:
        return tuple(self.assignment(i) for i in ids) if ids else self.assignments


def find_config(start: Path | None = None) -> Path:
    """The nearest ``grading.toml`` (or ``assignment.toml``) at or above ``start``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in ("grading.toml", "assignment.toml"):
            if (folder / name).is_file():
                return folder / name
    raise ConfigError(here, "no grading.toml or assignment.toml here or in any parent folder")


def load_config(path: Path | None = None) -> CourseConfig:
    path = (path or find_config()).resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, f"not valid TOML: {exc}") from None
    return _Reader(path).course(data)


class _Reader:
    """Turns the parsed TOML into dataclasses; every error names the dotted key."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.path, f"{key}: {message}")

    def table(self, data: Any, key: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.error(key, f"must be a table, got {type(data).__name__}")
        for name in data:
            if name not in allowed:
                full = f"{key}.{name}" if key else name
                raise self.error(full, f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return data

    def value(self, data: dict, key: str, name: str, kind: type | tuple, default: Any = ...) -> Any:
        full = f"{key}.{name}" if key else name
        if name not in data:
            if default is ...:
                raise self.error(full, "missing")
            return default
        value = data[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            expected = " or ".join(k.__name__ for k in kinds)
            raise self.error(full, f"must be {expected}, got {value!r}")
        return value

    def positive(self, data: dict, key: str, name: str, default: Any = ...) -> float:
        value = self.value(data, key, name, (int, float), default)
        if not value > 0:  # also refuses nan
            raise self.error(f"{key}.{name}", f"must be positive, got {value!r}")
        return value

    def course(self, data: dict) -> CourseConfig:
        self.table(data, "", {"course", "defaults", "assignments"})
        course = self.table(data.get("course", {}), "course", {"name", "package"})
        defaults = self.defaults(data.get("defaults", {}))
        raw = data.get("assignments", {})
        assignments = self.table(raw, "assignments", set(raw) if isinstance(raw, dict) else set())
        if not assignments:
            raise self.error("assignments", "at least one [assignments.<id>] table is needed")
        parsed = tuple(self.assignment(i, a, defaults) for i, a in assignments.items())
        name = self.value(course, "course", "name", str, "course")
        package = self.value(course, "course", "package", str, "autograder")
        return CourseConfig(name=name, root=self.path.parent, assignments=parsed, package=package)

    def defaults(self, data: dict) -> dict[str, Any]:
        key = "defaults"
        self.table(data, key, {"time_limit", "test_time_limit", "tolerance", "sandbox", "release"})
        return {
            "time_limit": self.positive(data, key, "time_limit", 900.0),
            "test_time_limit": self.positive(data, key, "test_time_limit", 60.0),
            "tolerances": self.tolerances(data.get("tolerance", {}), f"{key}.tolerance", None),
            "sandbox": self.sandbox(data.get("sandbox", {}), f"{key}.sandbox", SandboxLimits()),
            "release": self.globs(data, key, DEFAULT_RELEASE),
        }

    def assignment(self, assignment_id: str, data: Any, defaults: dict[str, Any]) -> AssignmentConfig:
        key = f"assignments.{assignment_id}"
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", assignment_id):
            raise self.error(key, "an assignment id is letters, digits, '-' and '_', starting with a letter")
        allowed = {"title", "source", "files", "points", "time_limit", "test_time_limit", "tolerance", "sandbox",
                   "release", "checkpoints", "seed"}
        self.table(data, key, allowed)
        files = self.value(data, key, "files", list)
        if not files or not all(isinstance(f, str) and HANDED_IN.fullmatch(f) for f in files):
            raise self.error(f"{key}.files", "must be a non-empty list of module or notebook file names like "
                                              f"'sampling.py' or 'ps-1.ipynb', got {files!r}")
        names = [module_name(f) for f in files]
        if len(set(names)) != len(names):
            raise self.error(f"{key}.files", f"two files would be the same module for the tests ({', '.join(names)})")
        source = (self.path.parent / self.value(data, key, "source", str)).resolve()
        if not source.is_dir():
            raise self.error(f"{key}.source", f"folder {source} does not exist")
        return AssignmentConfig(
            id=assignment_id,
            title=self.value(data, key, "title", str, assignment_id),
            source=source,
            files=tuple(files),
            points=self.positive(data, key, "points"),
            time_limit=self.positive(data, key, "time_limit", defaults["time_limit"]),
            test_time_limit=self.positive(data, key, "test_time_limit", defaults["test_time_limit"]),
            tolerances=self.tolerances(data.get("tolerance", {}), f"{key}.tolerance", defaults["tolerances"]),
            sandbox=self.sandbox(data.get("sandbox", {}), f"{key}.sandbox", defaults["sandbox"]),
            release=self.globs(data, key, defaults["release"]),
            checkpoints=self.checkpoints(data.get("checkpoints", {}), f"{key}.checkpoints"),
            seed=self.value(data, key, "seed", int, None),
        )

    def checkpoints(self, data: Any, key: str) -> tuple[CheckpointConfig, ...]:
        names = set(data) if isinstance(data, dict) else set()
        self.table(data, key, names)
        return tuple(self.checkpoint(name, table, f"{key}.{name}") for name, table in data.items())

    def checkpoint(self, name: str, data: Any, key: str) -> CheckpointConfig:
        self.table(data, key, {"files", "points", "full", "zero", "data", "examples", "settings"})
        files = self.value(data, key, "files", list)
        if not files or not all(isinstance(f, str) and re.fullmatch(r"[A-Za-z0-9_.-]+\.(safetensors|pt|pth)", f)
                                for f in files):
            raise self.error(f"{key}.files", "must be a non-empty list of file names ending in .safetensors, .pt "
                                              f"or .pth, got {files!r}")
        full = self.value(data, key, "full", (int, float))
        zero = self.value(data, key, "zero", (int, float))
        if not (math.isfinite(full) and math.isfinite(zero)) or full == zero:
            raise self.error(key, f"full ({full!r}) and zero ({zero!r}) must be different finite numbers")
        path = self.value(data, key, "data", str, "")
        examples = self.value(data, key, "examples", int, 0)
        if examples < 0:
            raise self.error(f"{key}.examples", "must be 0 (all) or positive")
        settings = self.table(data.get("settings", {}), f"{key}.settings", set(data.get("settings", {})))
        for setting, value in settings.items():
            if not isinstance(value, (str, int, float, bool)):
                raise self.error(f"{key}.settings.{setting}", f"must be a string, number or boolean, got {value!r}")
        return CheckpointConfig(name=name, files=tuple(files), points=self.positive(data, key, "points"),
                                full=float(full), zero=float(zero), examples=examples, settings=dict(settings),
                                root=self.path.parent,
                                data=(self.path.parent / path).resolve() if path else None)

    def tolerances(self, data: Any, key: str, base: dict[str, Tolerance] | None) -> dict[str, Tolerance]:
        self.table(data, key, set(DEVICES))
        fallback = {"cpu": Tolerance(rtol=1e-5, atol=1e-8), "cuda": Tolerance(rtol=1e-3, atol=1e-5)}
        result = dict(base or fallback)
        for device, table in data.items():
            self.table(table, f"{key}.{device}", {"rtol", "atol"})
            old = result[device]
            rtol = self.value(table, f"{key}.{device}", "rtol", (int, float), old.rtol)
            atol = self.value(table, f"{key}.{device}", "atol", (int, float), old.atol)
            if not (rtol >= 0 and atol >= 0):  # also refuses nan
                raise self.error(f"{key}.{device}", "tolerances must not be negative")
            result[device] = Tolerance(rtol=float(rtol), atol=float(atol))
        return result

    def sandbox(self, data: Any, key: str, base: SandboxLimits) -> SandboxLimits:
        self.table(data, key, {"memory_mb", "processes", "file_size_mb", "reply_mb", "isolation", "threads"})
        changes: dict[str, Any] = {}
        for name in ("memory_mb", "processes", "file_size_mb", "reply_mb"):
            if name in data:
                value = self.positive(data, key, name)
                if not float(value).is_integer():
                    raise self.error(f"{key}.{name}", f"must be a whole number, got {value!r}")
                changes[name] = int(value)
        if "threads" in data:
            threads = self.value(data, key, "threads", int)
            if threads < 0:
                raise self.error(f"{key}.threads", "must be 0 (all cores) or positive")
            changes["threads"] = threads
        if "isolation" in data:
            isolation = self.value(data, key, "isolation", str)
            if isolation not in ISOLATIONS:
                raise self.error(f"{key}.isolation", f"must be one of {', '.join(ISOLATIONS)}, got {isolation!r}")
            changes["isolation"] = isolation
        return replace(base, **changes)

    def globs(self, data: dict, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        globs = self.value(data, key, "release", list, list(default))
        if not all(isinstance(g, str) and g for g in globs):
            raise self.error(f"{key}.release", "must be a list of glob patterns")
        return tuple(globs)
