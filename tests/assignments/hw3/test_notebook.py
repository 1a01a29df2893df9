"""hw3.ipynb runs top to bottom on small settings (the solution key's copy, executed with nbclient)."""

from __future__ import annotations

import shutil

import pytest

from tests.assignments import notebooks
from tests.conftest import REPO


@pytest.mark.slow
def test_hw3_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    folder = tmp_path / "hw3"
    shutil.copytree(REPO / "solutions" / "hw3", folder)
    notebook, _ = notebooks.execute(folder, "hw3.ipynb", monkeypatch,
                                    unset=("HW3_FULL", "MNIST_DIR", "CLASSIFIER_WEIGHTS", "CLASSIFIER_SHA256"))
    assert notebooks.errors(notebook) == []
    text = notebooks.printed(notebook)
    assert "(stable: 50)" in text and "expected 16" in text and "Inception score" in text
    assert text.count("modes covered") == 3  # GAN, WGAN and WGAN-GP on the ring
    assert len(notebooks.images(notebook)) >= 9  # every experiment draws its plot: losses, three rings, grids, curves
