"""Running a homework's notebook top to bottom, as its tests do: nbclient, a tmp copy, one thread.

The notebooks read environment variables (``HW1_FULL``, ``MNIST_DIR``, ...) to switch to the
full settings; the tests unset them, so CI runs the small settings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient", reason="nbclient is in the dev extra: pip install -e '.[dev]'")
nbformat = pytest.importorskip("nbformat", reason="nbformat is in the dev extra: pip install -e '.[dev]'")


def execute(folder: Path, name: str, monkeypatch: pytest.MonkeyPatch, *, unset: tuple[str, ...] = (),
            allow_errors: bool = True):
    """(the executed notebook, the error that stopped it or None); ``allow_errors=False`` stops at the first."""
    for variable in unset:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the kernel inherits it: one core, as in CI
    notebook = nbformat.read(folder / name, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=allow_errors,
                                     resources={"metadata": {"path": str(folder)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        return notebook, error
    return notebook, None


def outputs(notebook, kind: str) -> list:
    """Every output of the given type ("stream", "error", "display_data", ...) of the code cells."""
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == kind]


def errors(notebook) -> list[str]:
    return [f"{e.ename}: {e.evalue}" for e in outputs(notebook, "error")]


def printed(notebook) -> str:
    return "".join(o.get("text", "") for o in outputs(notebook, "stream"))


def images(notebook) -> list:
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
