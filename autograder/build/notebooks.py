"""Build stage, step 1 for notebooks: each cell's source through the region parser, outputs cleared.

Reads nbformat-4 JSON without the ``nbformat`` package. Cells are numbered from 1 in
errors (``assignments/hw1/hw1.ipynb:4: cell 3: ...``, the line counted within the cell).
The output is ``json.dumps(indent=1, sort_keys=True, ensure_ascii=False)`` plus a newline,
so two builds of the same notebook are byte-identical.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterator

from autograder.build.regions import Segment, Version, parse, render_text
from autograder.errors import RegionError

# Cell metadata that records when a cell last ran: dropped so builds do not depend on it.
VOLATILE_METADATA = ("execution", "ExecuteTime")


@dataclass(frozen=True)
class Cell:
    number: int  # 1-based
    cell_type: str
    source: str
    outputs: int  # how many outputs it carries (0 for non-code cells)


def read_notebook(text: str, path: str | Path) -> dict[str, Any]:
    """The notebook's JSON, checked to be nbformat 4 with well-formed cells."""
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegionError(path, f"not a notebook: invalid JSON ({exc.msg})", exc.lineno) from None
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4:
        found = notebook.get("nbformat") if isinstance(notebook, dict) else type(notebook).__name__
        raise RegionError(path, f"not an nbformat 4 notebook (nbformat: {found!r})")
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise RegionError(path, "not an nbformat 4 notebook: 'cells' must be a list")
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise RegionError(path, f"cell {number}: not a cell (needs a 'cell_type')")
        source = cell.get("source", "")
        if not (isinstance(source, str) or isinstance(source, list) and all(isinstance(s, str) for s in source)):
            raise RegionError(path, f"cell {number}: 'source' must be a string or a list of strings")
    return notebook


def cells(text: str, path: str | Path) -> tuple[Cell, ...]:
    """The cells of a notebook, with their sources joined into one string."""
    return tuple(_cell(cell, number) for number, cell in enumerate(read_notebook(text, path)["cells"], start=1))


def _cell(cell: dict[str, Any], number: int) -> Cell:
    source = cell.get("source", "")
    outputs = cell.get("outputs") or []
    return Cell(
        number=number,
        cell_type=cell["cell_type"],
        source=source if isinstance(source, str) else "".join(source),
        outputs=len(outputs) if isinstance(outputs, list) else 1,
    )


def parse_cell(cell: Cell, path: str | Path) -> tuple[Segment, ...]:
    """:func:`~autograder.build.regions.parse` for one cell; errors say which cell."""
    with _in_cell(cell, path):
        return parse(cell.source, path)


@contextmanager
def _in_cell(cell: Cell, path: str | Path) -> Iterator[None]:
    try:
        yield
    except RegionError as exc:
        raise RegionError(path, f"cell {cell.number}: {exc.message}", exc.line) from None


def render_notebook(text: str, path: str | Path, version: Version) -> str:
    """One version of a notebook: sources rendered, outputs and execution counts cleared."""
    notebook = read_notebook(text, path)
    rendered = [_render_cell(raw, number, path, version) for number, raw in enumerate(notebook["cells"], start=1)]
    return json.dumps({**notebook, "cells": rendered}, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _render_cell(raw: dict[str, Any], number: int, path: str | Path, version: Version) -> dict[str, Any]:
    cell = _cell(raw, number)
    with _in_cell(cell, path):
        source = render_text(cell.source, path, version)
    metadata = raw.get("metadata", {})
    if isinstance(metadata, dict):
        metadata = {k: v for k, v in metadata.items() if k not in VOLATILE_METADATA}
    out = {**raw, "source": _source_lines(source), "metadata": metadata}
    if cell.cell_type == "code":
        out["outputs"] = []
        out["execution_count"] = None
    return out


def _source_lines(source: str) -> list[str]:
    """Jupyter's on-disk form: one string per line, each but the last ending in "\\n"."""
    parts = source.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
