"""SECURITY.md's table and this suite agree: every test it names exists, every adversarial test is named,
every case of THREATS.md (1-21) has a row, and every defence it names is a file of the project."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from tests.conftest import REPO

SECURITY = REPO / "SECURITY.md"
SUITE = Path(__file__).parent
CASES = range(1, 22)


def _rows() -> list[list[str]]:
    """The table's body rows, as lists of cells (the header and the |---| line left out)."""
    lines = [line for line in SECURITY.read_text().splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]


def _node_ids(cell: str) -> list[str]:
    return re.findall(r"`([^`]+::[^`]+)`", cell)


def _ids(function) -> list[str]:
    """The ids a test function is collected under: its name, or name[id] per param (given ids, or plain strings)."""
    marks = [m for m in getattr(function, "pytestmark", []) if m.name == "parametrize"]
    if not marks:
        return [function.__name__]
    (mark,) = marks  # one parametrize per adversarial test keeps ids readable
    if "ids" in mark.kwargs:
        ids = list(mark.kwargs["ids"])
    else:
        ids = [param if isinstance(param, str) else getattr(param, "id", None) for param in mark.args[1]]
        assert None not in ids, f"{function.__name__}: give every param an id"
    return [f"{function.__name__}[{each}]" for each in ids]


def _module(path: str):
    return importlib.import_module(path.removesuffix(".py").replace("/", "."))


def _collected(path: str) -> set[str]:
    module = _module(path)
    return {f"{path}::{test_id}" for name in dir(module) if name.startswith("test_")
            and callable(getattr(module, name)) for test_id in _ids(getattr(module, name))}


def _suite() -> set[str]:
    files = sorted(p for p in SUITE.glob("test_*.py") if p.name != Path(__file__).name)
    return set().union(*(_collected(str(p.relative_to(REPO))) for p in files))


def test_every_case_of_the_threat_model_has_a_row():
    numbers = {int(row[0]) for row in _rows()}
    assert numbers == set(CASES), sorted(set(CASES) ^ numbers)
    assert all(_node_ids(row[3]) for row in _rows()), [row[1] for row in _rows() if not _node_ids(row[3])]


def test_every_test_named_exists():
    """A test outside this suite may be named without its params (all of them)."""
    named = [node for row in _rows() for node in _node_ids(row[3])]
    missing = [node for node in named if node not in _collected(node.split("::")[0])
               and not (not node.startswith("tests/adversarial/") and "[" not in node
                        and callable(getattr(_module(node.split("::")[0]), node.split("::")[1], None)))]
    assert missing == []


def test_every_adversarial_test_is_named_in_a_row():
    named = {node for row in _rows() for node in _node_ids(row[3])}
    assert sorted(_suite() - named) == []


def test_every_defence_named_is_a_module_of_the_project():
    for row in _rows():
        for path in re.findall(r"`(autograder/[\w/]+\.py)`", row[2]):
            assert (REPO / path).is_file(), (row[1], path)


def test_each_table_driven_case_sits_in_the_row_of_its_threat():
    from tests.adversarial.test_in_sandbox import CASES as IN_SANDBOX
    from tests.adversarial.test_submissions import SUBMISSIONS

    rows = {node: row[0] for row in _rows() for node in _node_ids(row[3])}
    expected = {f"tests/adversarial/test_in_sandbox.py::test_attack[{case.name}]": case.threat for case in IN_SANDBOX}
    expected |= {f"tests/adversarial/test_submissions.py::test_submission[{handed.name}]": handed.threat
                 for handed in SUBMISSIONS}
    assert {node: rows.get(node) for node in expected} == expected
