"""Tests for autograder/build/notebooks.py: cells through the region parser, outputs cleared."""

from __future__ import annotations

import json
from typing import Any

import pytest

from autograder.build.notebooks import cells, render_notebook
from autograder.errors import RegionError


def notebook(*sources: str, nbformat: int = 4) -> str:
    cell_list: list[dict[str, Any]] = [
        {
            "cell_type": "code",
            "execution_count": 3,
            "id": f"c{i}",
            "metadata": {"execution": {"shell.execute_reply": "2024-05-01T10:00:00Z"}, "tags": ["t"]},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "secret output\n"}],
            "source": source,
        }
        for i, source in enumerate(sources)
    ]
    cell_list.append({"cell_type": "markdown", "id": "md", "metadata": {}, "source": "# Title"})
    return json.dumps({"cells": cell_list, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": nbformat, "nbformat_minor": 5})


def test_cells_are_rendered_and_cleared():
    text = notebook("x = 1\n# BEGIN SOLUTION\ny = 2\n# END SOLUTION", "z = 3  # SOLUTION\n")
    student = json.loads(render_notebook(text, "nb.ipynb", "student"))
    solution = json.loads(render_notebook(text, "nb.ipynb", "solution"))
    assert [c["source"] for c in student["cells"]] == [["x = 1\n", "..."], ["z = ...\n"], ["# Title"]]
    assert [c["source"] for c in solution["cells"]] == [["x = 1\n", "y = 2"], ["z = 3\n"], ["# Title"]]
    for cell in student["cells"][:2] + solution["cells"][:2]:
        assert cell["outputs"] == [] and cell["execution_count"] is None
        assert cell["metadata"] == {"tags": ["t"]}  # run timestamps dropped, the rest kept
    assert "outputs" not in student["cells"][2]
    assert [c["id"] for c in student["cells"]] == ["c0", "c1", "md"]
    assert student["metadata"] == {"kernelspec": {"name": "python3"}}


def test_output_is_sorted_indented_json_with_a_final_newline():
    text = notebook("print('é')")
    out = render_notebook(text, "nb.ipynb", "student")
    assert out == json.dumps(json.loads(out), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    assert "é" in out
    assert render_notebook(out, "nb.ipynb", "student") == out  # idempotent


def test_source_as_list_or_string_is_the_same():
    as_list = json.loads(notebook("a\n", "b"))
    as_list["cells"][0]["source"] = ["a\n"]
    as_string = notebook("a\n", "b")
    assert render_notebook(json.dumps(as_list), "nb.ipynb", "student") == render_notebook(as_string, "nb.ipynb", "student")


def test_region_error_names_the_cell_and_its_line():
    text = notebook("ok = 1\n", "a\nb\n### END SOLUTION\n")
    with pytest.raises(RegionError) as caught:
        render_notebook(text, "hw1.ipynb", "student")
    assert str(caught.value) == "hw1.ipynb:3: cell 2: '### END SOLUTION' without '### BEGIN SOLUTION'"
    assert caught.value.line == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not a notebook: invalid JSON"),
        (notebook("x", nbformat=3), "not an nbformat 4 notebook (nbformat: 3)"),
        ("[1, 2]", "not an nbformat 4 notebook"),
        (json.dumps({"nbformat": 4, "cells": {}}), "'cells' must be a list"),
        (json.dumps({"nbformat": 4, "cells": [{"source": "x"}]}), "cell 1: not a cell"),
        (json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": 3}]}), "cell 1: 'source' must be"),
    ],
)
def test_bad_notebooks_name_the_file(text: str, message: str):
    with pytest.raises(RegionError) as caught:
        render_notebook(text, "assignments/hw1/hw1.ipynb", "student")
    assert caught.value.path == "assignments/hw1/hw1.ipynb"
    assert message in caught.value.message


def test_cells_reports_outputs_and_joined_sources():
    found = cells(notebook("a\n", "b"), "nb.ipynb")
    assert [(c.number, c.cell_type, c.source, c.outputs) for c in found] == [
        (1, "code", "a\n", 1),
        (2, "code", "b", 1),
        (3, "markdown", "# Title", 0),
    ]
