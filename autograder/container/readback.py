"""Reading a results file that came out of a container: size-capped, schema-checked, rebuilt.

The only thing the host takes from a grading container is ``results.json``. It is read
without following links, at most :data:`MAX_BYTES`, parsed as plain JSON, checked against
``autograder/grade/results_schema.json`` and for consistency (scores within their maxima,
the total the sum of the tests), then rebuilt as a fresh :class:`Results`. The host writes
its own file from that object; it never copies the container's bytes.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from autograder.grade.results import SCHEMA_PATH, Results, TestResult

MAX_BYTES = 16 << 20
STATUSES = ("graded", "invalid submission", "timed out", "grader error")


class BadResults(Exception):
    """The container's results file is missing, too large, not JSON or not in the schema."""


def read_file(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file (never through a link), or BadResults."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise BadResults("it wrote no results file") from None
    except OSError as exc:
        raise BadResults(f"its results file cannot be opened: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise BadResults("its results file is not a regular file")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BadResults(f"its results file is larger than {max_bytes >> 20} MB")
    return data


def load_results(path: Path, *, assignment: str, max_bytes: int = MAX_BYTES) -> Results:
    data = read_file(path, max_bytes)
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadResults(f"its results file is not valid JSON: {exc}") from None
    problems = schema_problems(document, _schema())
    if problems:
        raise BadResults("its results file does not match the schema: " + "; ".join(problems[:5]))
    try:
        return rebuild(document, assignment=assignment)
    except (TypeError, ValueError, AttributeError) as exc:  # e.g. a time that is not a number
        raise BadResults(f"its results file has a malformed value: {exc}") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def rebuild(document: dict[str, Any], *, assignment: str) -> Results:
    """A :class:`Results` from a schema-valid document, after the checks the schema cannot make."""
    extra = dict(document.get("extra_data", {}))
    if extra.pop("assignment", None) != assignment:
        raise BadResults(f"its results file is not for assignment {assignment!r}")
    status = extra.pop("status", None)
    claimed_max = extra.pop("max_score", None)
    if status not in STATUSES:
        raise BadResults(f"its results file has an unknown status {status!r}")
    tests = []
    for number, test in enumerate(document.get("tests", []), 1):
        for key in ("name", "score", "max_score", "status"):
            if key not in test:
                raise BadResults(f"test {number} has no {key!r}")
        score, max_score = float(test["score"]), float(test["max_score"])
        if not (0 <= score <= max_score + 1e-9 and math.isfinite(max_score)):
            raise BadResults(f"test {test['name']!r} scores {score:g} of {max_score:g}")
        tests.append(TestResult(
            name=test["name"], number=test.get("number", str(number)), score=score, max_score=max_score,
            passed=test["status"] == "passed", output=test.get("output", ""),
            visibility=test.get("visibility", "visible"), time_s=float(test.get("extra_data", {}).get("time_s", 0.0)),
            tags=tuple(test.get("tags", ())),
        ))
    results = Results(assignment=assignment, tests=tuple(tests), output=document.get("output", ""),
                      execution_time=float(document.get("execution_time", 0.0)), status=status, extra=extra)
    if abs(results.score - float(document.get("score", results.score))) > 1e-6:
        raise BadResults(f"its total {document['score']} is not the sum of its tests ({results.score:g})")
    if claimed_max is not None and abs(results.max_score - float(claimed_max)) > 1e-6:
        raise BadResults("its maximum score is not the sum of its tests' maxima")
    return results


_SCHEMA: dict[str, Any] = {}


def _schema() -> dict[str, Any]:
    if not _SCHEMA:
        _SCHEMA.update(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    return _SCHEMA


_TYPES = {"object": dict, "array": list, "string": str, "number": (int, float), "integer": int, "boolean": bool}


def schema_problems(value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None,
                    where: str = "$") -> list[str]:
    """Check ``value`` against the part of JSON Schema that results_schema.json uses.

    (type, enum, minimum, required, anyOf, properties, additionalProperties, items, $ref.)
    A structural check, so the host needs no jsonschema package; the tests check it agrees
    with jsonschema on the project's own results files.
    """
    root = root or schema
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return schema_problems(value, target, root, where)
    problems: list[str] = []
    kinds = schema.get("type")
    if kinds is not None:
        names = kinds if isinstance(kinds, list) else [kinds]
        ok = any(isinstance(value, _TYPES[n]) and not (isinstance(value, bool) and n != "boolean") for n in names)
        if not ok:
            return [f"{where}: expected {' or '.join(names)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
        problems.append(f"{where}: {value} is below {schema['minimum']}")
    if "anyOf" in schema and all(schema_problems(value, s, root, where) for s in schema["anyOf"]):
        problems.append(f"{where}: matches none of the allowed forms")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{where}: {key!r} is missing")
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                problems += schema_problems(item, properties[key], root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{where}: unexpected key {key!r}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems += schema_problems(item, schema["items"], root, f"{where}[{index}]")
    return problems

