"""hw1.ipynb runs top to bottom on small settings (the solution key's copy, executed with nbclient)."""

from __future__ import annotations

import shutil

import pytest

from tests.assignments import notebooks
from tests.conftest import REPO


@pytest.mark.slow
def test_hw1_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    folder = tmp_path / "hw1"
    shutil.copytree(REPO / "solutions" / "hw1", folder)
    notebook, _ = notebooks.execute(folder, "hw1.ipynb", monkeypatch, unset=("HW1_FULL",))
    assert notebooks.errors(notebook) == []
    text = notebooks.printed(notebook)
    assert "never negative" in text and "validation perplexity" in text
    assert len(notebooks.images(notebook)) >= 6  # every experiment draws its plot
