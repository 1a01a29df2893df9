"""hw3.ipynb runs top to bottom on small settings (the solution key's copy, executed with nbclient)."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import REPO

nbclient = pytest.importorskip("nbclient", reason="nbclient is in the dev extra: pip install -e '.[dev]'")
nbformat = pytest.importorskip("nbformat", reason="nbformat is in the dev extra: pip install -e '.[dev]'")


@pytest.mark.slow
def test_hw3_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    folder = tmp_path / "hw3"
    shutil.copytree(REPO / "solutions" / "hw3", folder)
    monkeypatch.delenv("HW3_FULL", raising=False)
    notebook = nbformat.read(folder / "hw3.ipynb", as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(folder)}})
    client.execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    text = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "(stable: 50)" in text and "expected 16" in text and "Inception score" in text
    assert text.count("modes covered") == 3  # GAN, WGAN and WGAN-GP on the ring
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert len(images) >= 9  # every experiment draws its plot: losses, three rings, grids, curves
