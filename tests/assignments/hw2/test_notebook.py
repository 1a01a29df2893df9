"""hw2.ipynb runs top to bottom on small settings (the solution key's copy, executed with nbclient).

On one thread and generated data in MNIST's format (no download): about a minute on an idle
core. The student's copy is checked too: its data cells must run, and the first error must
come from the first cell that needs the student's code (the stubs there return None).
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import REPO

nbclient = pytest.importorskip("nbclient", reason="nbclient is in the dev extra: pip install -e '.[dev]'")
nbformat = pytest.importorskip("nbformat", reason="nbformat is in the dev extra: pip install -e '.[dev]'")


def run_notebook(folder, monkeypatch, allow_errors=True):
    """The executed notebook; with allow_errors=False, execution stops at the first error (raised)."""
    monkeypatch.delenv("HW2_FULL", raising=False)
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the kernel inherits it: one core, as in CI
    notebook = nbformat.read(folder / "hw2.ipynb", as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=allow_errors,
                                     resources={"metadata": {"path": str(folder)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        return notebook, error
    return notebook, None


def outputs(notebook, kind):
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == kind]


@pytest.mark.slow
def test_hw2_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    folder = tmp_path / "hw2"
    shutil.copytree(REPO / "solutions" / "hw2", folder)
    notebook, _ = run_notebook(folder, monkeypatch)
    assert [f"{e.ename}: {e.evalue}" for e in outputs(notebook, "error")] == []
    text = "".join(o.get("text", "") for o in outputs(notebook, "stream"))
    for expected in ("generated data in MNIST's format", "Gaussian VAE test -ELBO",
                     "binary VAE (1 IAF flow) test -ELBO",
                     "IWAE-100 estimate of log p(x)", "autoregressive binary VAE IWAE-10", "PixelCNN test NLL",
                     "bits/dim", "RealNVP test", "(exactly 0 for a causal model)", "the notebook ran in"):
        assert expected in text
    assert "pixels at or after (14, 14): 0.0e+00" in text  # the key's PixelCNN is causal
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert len(images) >= 11  # data, 3 (Gaussian VAE), 3 (binary VAEs), 2 (PixelCNN), 2 (RealNVP)
    assert (folder / "data" / "generated-mnist" / "train-images-idx3-ubyte.gz").is_file()


@pytest.mark.slow
def test_student_notebook_stops_at_the_first_missing_function(tmp_path, monkeypatch):
    folder = tmp_path / "hw2"
    shutil.copytree(REPO / "student_release" / "hw2", folder)
    notebook, error = run_notebook(folder, monkeypatch, allow_errors=False)
    assert error is not None, "the student's copy ran through: are the solutions stripped?"
    failed = next(c for c in notebook.cells if c.cell_type == "code" and any(
        o.output_type == "error" for o in c.outputs))
    assert "VAEEncoder(capacity=8, depth=1)" in failed.source, str(error)[-2000:]  # the first cell using their code
    assert "generated data in MNIST's format" in "".join(o.get("text", "") for o in outputs(notebook, "stream"))
