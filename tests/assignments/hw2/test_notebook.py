"""hw2.ipynb runs top to bottom on small settings (the solution key's copy, executed with nbclient).

On one thread and generated data in MNIST's format (no download): about a minute on an idle
core. The student's copy is checked too: its data cells must run, and the first error must
come from the first cell that needs the student's code (the stubs there return None).
"""

from __future__ import annotations

import shutil

import pytest

from tests.assignments import notebooks
from tests.conftest import REPO

UNSET = ("HW2_FULL", "MNIST_DIR")


@pytest.mark.slow
def test_hw2_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    folder = tmp_path / "hw2"
    shutil.copytree(REPO / "solutions" / "hw2", folder)
    notebook, _ = notebooks.execute(folder, "hw2.ipynb", monkeypatch, unset=UNSET)
    assert notebooks.errors(notebook) == []
    text = notebooks.printed(notebook)
    for expected in ("generated data in MNIST's format", "Gaussian VAE test -ELBO",
                     "binary VAE (1 IAF flow) test -ELBO",
                     "IWAE-100 estimate of log p(x)", "autoregressive binary VAE IWAE-10", "PixelCNN test NLL",
                     "bits/dim", "RealNVP test", "(exactly 0 for a causal model)", "the notebook ran in"):
        assert expected in text
    assert "pixels at or after (14, 14): 0.0e+00" in text  # the key's PixelCNN is causal
    assert len(notebooks.images(notebook)) >= 11  # data, 3 (Gaussian VAE), 3 (binary VAEs), 2 (PixelCNN), 2 (RealNVP)
    assert (folder / "data" / "generated-mnist" / "train-images-idx3-ubyte.gz").is_file()


@pytest.mark.slow
def test_student_notebook_stops_at_the_first_missing_function(tmp_path, monkeypatch):
    folder = tmp_path / "hw2"
    shutil.copytree(REPO / "student_release" / "hw2", folder)
    notebook, error = notebooks.execute(folder, "hw2.ipynb", monkeypatch, unset=UNSET, allow_errors=False)
    assert error is not None, "the student's copy ran through: are the solutions stripped?"
    failed = next(c for c in notebook.cells if c.cell_type == "code" and any(
        o.output_type == "error" for o in c.outputs))
    assert "VAEEncoder(capacity=8, depth=1)" in failed.source, str(error)[-2000:]  # the first cell using their code
    assert "generated data in MNIST's format" in notebooks.printed(notebook)
