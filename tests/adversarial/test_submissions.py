"""Attacks made by what is handed in, before any test runs: broken files, hangs at import, shadowing files.

Each row is one submission of the toy assignment (three tests, each asking for ``2 * x``) with the
score it must get and a phrase every failed test's output must hold. Sandbox servers come from a
zygote, as in a batch, so the many short gradings here each skip the torch import.
"""

from __future__ import annotations

import io
import json
import pickle
import py_compile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pytest
import torch

from autograder.grade import grade
from autograder.sandbox import launch
from tests.adversarial.toy import TEST_TIME_LIMIT, grade_files, honest_source, toy_course
from tests.conftest import Hostile, write_files
from tests.grade.test_checkpoints import NET
from tests.grade.test_threats import SHIPPED_FILES

NAMES = ["first", "second", "third"]
HONEST = honest_source(NAMES)
WRONG = HONEST.replace("2 * x", "x")


def _zip(entries: dict[str, str | bytes], *, bomb: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if bomb:
            archive.writestr("zeros.bin", b"\0" * (1 << 30))  # 1 GB of zeros, 1 MB compressed
    return buffer.getvalue()


def _notebook(*sources: str, nbformat: int = 4) -> str:
    cells = [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source}
             for source in sources]
    return json.dumps({"nbformat": nbformat, "nbformat_minor": 5, "metadata": {}, "cells": cells})


def _compiled(source: str, tmp: Path) -> bytes:
    """An unchecked-hash .pyc of ``source``: Python imports it in place of attack.py, whatever attack.py says."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "attack.py").write_text(source)
    return Path(py_compile.compile(str(tmp / "attack.py"), cfile=str(tmp / "attack.pyc"),
                                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)).read_bytes()


@dataclass(frozen=True)
class Handed:
    name: str
    threat: str  # its case in THREATS.md
    files: dict[str, str | bytes] = field(hash=False)
    score: int  # out of 3
    message: str = ""  # in every failed test's output
    entry: str = ""  # the file handed in, where it is not the folder


SUBMISSIONS = [
    Handed("corrupt_zip", "1", {"hw.zip": _zip({"attack.py": HONEST})[:80]}, 0, "not a readable zip file", "hw.zip"),
    Handed("zip_bomb", "1", {"hw.zip": _zip({"attack.py": HONEST}, bomb=True)}, 0, "invalid submission", "hw.zip"),
    Handed("zip_traversal", "1", {"hw.zip": _zip({"attack.py": HONEST, "../../escaped.py": "X = 1",
                                                   "/tmp/absolute.py": "X = 1"})}, 3, "", "hw.zip"),
    Handed("missing_file", "2", {"other.py": HONEST}, 0, "attack.py"),
    Handed("nested_folder", "2", {"hw1/student/attack.py": HONEST}, 3),
    Handed("syntax_error", "3", {"attack.py": "def first(x:\n"}, 0, "SyntaxError"),
    Handed("missing_package", "3", {"attack.py": "import not_a_package_anywhere\n" + HONEST}, 0,
           "not_a_package_anywhere"),
    Handed("not_utf8", "3", {"attack.py": 'NAME = "caf\xe9"\n'.encode("latin-1") + HONEST.encode()}, 0,
           "'utf-8' codec can't decode"),  # Python 3.11 lets bad bytes in a comment through; in a string it refuses
    Handed("empty_file", "3", {"attack.py": ""}, 0, "has no attribute"),
    Handed("notebook_not_json", "4", {"attack.ipynb": '{"cells": [ not json'}, 0, "invalid submission",
           "attack.ipynb"),
    Handed("notebook_nbformat_3", "4", {"attack.ipynb": _notebook(HONEST, nbformat=3)}, 0, "nbformat",
           "attack.ipynb"),
    Handed("notebook_magics_and_training", "4", {"attack.ipynb": _notebook(
        "!pip install torch\n%matplotlib inline", HONEST,
        "import time\nfor epoch in range(10**9):\n    time.sleep(1)")}, 3, "", "attack.ipynb"),
    Handed("shipped_config_files", "9", {"attack.py": WRONG, **SHIPPED_FILES}, 0, "wrong values"),
    Handed("compiled_beside_source", "18", {"attack.py": HONEST,
                                            "attack.cpython-311-x86_64-linux-gnu.so": b"\x7fELF not really",
                                            "__pycache__/attack.cpython-311.pyc": b"placeholder"}, 3),
    Handed("package_shadows_module", "18", {"attack.py": HONEST, "attack/__init__.py": WRONG}, 3),
]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    launch.start_zygote("rlimits")
    yield toy_course(tmp_path_factory.mktemp("handed") / "course", NAMES)
    launch.discard_warm()


@pytest.fixture
def check(results_schema):
    def validate(path: Path) -> dict:
        data = json.loads(path.read_text())
        jsonschema.validate(data, results_schema)
        return data

    return validate


def _files(handed: Handed, tmp: Path) -> dict[str, str | bytes]:
    """The .pyc beside the source is a real one, compiled from the wrong answer (it would run instead)."""
    if "__pycache__/attack.cpython-311.pyc" not in handed.files:
        return handed.files
    return {**handed.files, "__pycache__/attack.cpython-311.pyc": _compiled(WRONG, tmp / "compile")}


@pytest.mark.slow
@pytest.mark.parametrize("handed", SUBMISSIONS, ids=[h.name for h in SUBMISSIONS])
def test_submission(course, handed, tmp_path, check):
    graded = grade_files(course, tmp_path / "submission", _files(handed, tmp_path), check, entry=handed.entry)
    assert graded.data["score"] == handed.score, json.dumps(graded.data["tests"], indent=1)[:3000]
    for test in graded.data["tests"]:
        if test["status"] == "failed":
            assert handed.message in test["output"], test["output"]
    assert not any(Path(folder, "escaped.py").exists() for folder in (tmp_path, "/tmp", "/"))
    assert not Path("/tmp/absolute.py").exists()


@pytest.mark.slow
@pytest.mark.parametrize("statement", ["while True:\n    pass\n", "import time\ntime.sleep(1e9)\n"],
                         ids=["loop", "sleep"])
def test_a_hang_at_import_costs_one_test_limit(course, statement, tmp_path, check):
    """The loader imports once: the first test fails with the time limit, the others are not run at all."""
    graded = grade_files(course, tmp_path / "submission", {"attack.py": statement + HONEST}, check)
    outputs = [graded.output(name) for name in NAMES]
    assert f"did not finish within {TEST_TIME_LIMIT:g} s" in outputs[0] and "not run" not in outputs[0]
    assert all(output.startswith("not run:") for output in outputs[1:]), outputs
    assert graded.wall_s < TEST_TIME_LIMIT + 15, f"grading took {graded.wall_s:.1f} s"


@pytest.mark.slow
@pytest.mark.parametrize("writer", ["pickle.dump", "torch.save"])
def test_a_checkpoint_that_is_a_malicious_pickle(line_course, tmp_path, writer):
    """Weights handed in as a pickle whose loading runs a command: refused, and the command never runs."""
    folder = tmp_path / "submission"
    write_files(folder, {"net.py": NET})
    marker = tmp_path / "ran"
    for name in ("line.pt", "line.safetensors"):  # the .safetensors name holds a pickle too
        if writer == "torch.save":
            torch.save({"w": Hostile(marker), "b": torch.zeros(1)}, folder / name)
        else:
            (folder / name).write_bytes(pickle.dumps({"w": Hostile(marker)}))
    out = tmp_path / "results.json"
    grade(line_course.assignment("toy"), folder, out=out, solution_dir=line_course.root / "solutions" / "toy",
          select=["test_line_fits"])
    tests = {t["name"].split("::")[1]: t for t in json.loads(out.read_text())["tests"]}
    assert tests["test_line_fits"]["score"] == 0, tests["test_line_fits"]["output"]
    assert not marker.exists(), "unpickling the checkpoint ran the student's command"
