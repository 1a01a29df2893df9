"""Staging a submission: folders, files, zips (hostile ones too) and notebooks become a flat module folder."""

from __future__ import annotations

import json
import random
import stat
import zipfile
from pathlib import Path

import pytest

from autograder.config import AssignmentConfig, Tolerance
from autograder.errors import SubmissionError
from autograder.grade import submission
from autograder.grade.submission import notebook_to_module, stage_submission

CODE = "import torch\n\n\ndef double(x):\n    return 2 * x\n"


def assignment(*files: str) -> AssignmentConfig:
    return AssignmentConfig(id="hw", title="hw", source=Path("/nonexistent"), files=files or ("sampling.py",),
                            points=1.0, time_limit=60.0, test_time_limit=10.0,
                            tolerances={"cpu": Tolerance(rtol=1e-5, atol=1e-8)})


def write_zip(path: Path, entries: dict[str, str | bytes], *, compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


def notebook(*cells: str | list[str], markdown: str = "# Title", nbformat: int = 4) -> bytes:
    code = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": c} for c in cells]
    return json.dumps({"nbformat": nbformat, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": "markdown", "metadata": {}, "source": markdown}, *code]}).encode()


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def run_module(source: str) -> dict:
    namespace: dict = {"__name__": "staged"}
    exec(compile(source, "staged.py", "exec"), namespace)  # test data written by this file
    return namespace


# --- plain submissions ----------------------------------------------------------------------------

def test_a_folder_is_copied_without_caches(tmp_path):
    source = tmp_path / "hand_in"
    (source / "__pycache__").mkdir(parents=True)
    (source / "sampling.py").write_text(CODE)
    (source / "helpers").mkdir()
    (source / "helpers" / "util.py").write_text("X = 1\n")
    (source / "__pycache__" / "sampling.cpython-311.pyc").write_bytes(b"\x00")
    staged = stage_submission(source, assignment(), tmp_path / "staged")
    assert staged.files == ("helpers/util.py", "sampling.py")
    assert (staged.path / "sampling.py").read_text() == CODE
    assert staged.missing(assignment("sampling.py", "flows.py")) == ["flows.py"]


def test_symlinks_in_a_folder_are_skipped_with_a_note(tmp_path):
    source = tmp_path / "hand_in"
    source.mkdir()
    (source / "sampling.py").write_text(CODE)
    secret = tmp_path / "secret.txt"
    secret.write_text("answers")
    (source / "link.txt").symlink_to(secret)
    staged = stage_submission(source, assignment(), tmp_path / "staged")
    assert staged.files == ("sampling.py",)
    assert any("link.txt" in note and "symbolic" in note for note in staged.notes)


def test_a_single_py_file(tmp_path):
    (tmp_path / "sampling.py").write_text(CODE)
    staged = stage_submission(tmp_path / "sampling.py", assignment(), tmp_path / "staged")
    assert staged.files == ("sampling.py",) and staged.notes == ()


def test_a_misnamed_py_file_is_renamed_when_the_assignment_has_one_file(tmp_path):
    (tmp_path / "my_homework_v2.py").write_text(CODE)
    staged = stage_submission(tmp_path / "my_homework_v2.py", assignment(), tmp_path / "staged")
    assert staged.files == ("sampling.py",)
    assert (staged.path / "sampling.py").read_text() == CODE
    assert any("my_homework_v2.py" in note and "sampling.py" in note for note in staged.notes)


def test_a_misnamed_py_file_is_kept_when_the_assignment_has_several_files(tmp_path):
    (tmp_path / "mine.py").write_text(CODE)
    staged = stage_submission(tmp_path / "mine.py", assignment("sampling.py", "flows.py"), tmp_path / "staged")
    assert staged.files == ("mine.py",)
    assert staged.missing(assignment("sampling.py", "flows.py")) == ["sampling.py", "flows.py"]


def test_a_single_notebook_becomes_the_assignment_module(tmp_path):
    (tmp_path / "Homework 1.ipynb").write_bytes(notebook(CODE, "double(3)"))
    staged = stage_submission(tmp_path / "Homework 1.ipynb", assignment(), tmp_path / "staged")
    assert "sampling.py" in staged.files
    assert run_module((staged.path / "sampling.py").read_text())["double"](4) == 8
    assert any("Homework 1.ipynb" in note for note in staged.notes)


def test_a_notebook_beside_its_module_does_not_replace_it(tmp_path):
    source = tmp_path / "hand_in"
    source.mkdir()
    (source / "sampling.py").write_text("VALUE = 'module'\n")
    (source / "sampling.ipynb").write_bytes(notebook("VALUE = 'notebook'"))
    staged = stage_submission(source, assignment(), tmp_path / "staged")
    assert run_module((staged.path / "sampling.py").read_text())["VALUE"] == "module"


def test_only_notebooks_named_after_a_module_are_converted(tmp_path):
    """gmm.ipynb stands in for gmm.py; hw.ipynb (the experiments) is not a module the tests import."""
    source = tmp_path / "hand_in"
    source.mkdir()
    (source / "sampling.py").write_text("VALUE = 'module'\n")
    (source / "gmm.ipynb").write_bytes(notebook(CODE))
    (source / "hw.ipynb").write_bytes(notebook(CODE))
    staged = stage_submission(source, assignment("sampling.py", "gmm.py"), tmp_path / "staged")
    assert "gmm.py" in staged.files and "hw.py" not in staged.files
    assert [note for note in staged.notes if "graded as" in note] == ["gmm.ipynb: its definitions were graded as gmm.py"]


def test_other_file_types_and_missing_paths_are_errors(tmp_path):
    (tmp_path / "sampling.txt").write_text(CODE)
    with pytest.raises(SubmissionError, match="sampling.txt"):
        stage_submission(tmp_path / "sampling.txt", assignment(), tmp_path / "a")
    with pytest.raises(SubmissionError, match="no such file"):
        stage_submission(tmp_path / "nothing.zip", assignment(), tmp_path / "b")


def test_an_empty_submission_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionError, match="empty"):
        stage_submission(tmp_path / "empty", assignment(), tmp_path / "a")
    write_zip(tmp_path / "dirs_only.zip", {"hw1/": "", "__MACOSX/._sampling.py": "junk"})
    with pytest.raises(SubmissionError, match="empty"):
        stage_submission(tmp_path / "dirs_only.zip", assignment(), tmp_path / "b")


# --- zips -------------------------------------------------------------------------------------------

def test_a_zip_is_unpacked(tmp_path):
    write_zip(tmp_path / "s.zip", {"sampling.py": CODE, "data/weights.txt": "1 2 3", "__MACOSX/._x": "junk"})
    staged = stage_submission(tmp_path / "s.zip", assignment(), tmp_path / "staged")
    assert staged.files == ("data/weights.txt", "sampling.py")
    assert (staged.path / "sampling.py").read_text() == CODE


@pytest.mark.parametrize("levels", [1, 2])
def test_extra_nested_folders_are_flattened(tmp_path, levels):
    prefix = "".join(f"level{i}/" for i in range(levels))
    write_zip(tmp_path / "s.zip", {prefix + "sampling.py": CODE, prefix + "utils/helper.py": "X = 1\n"})
    staged = stage_submission(tmp_path / "s.zip", assignment(), tmp_path / "staged")
    assert staged.files == ("sampling.py", "utils/helper.py")
    assert sum("inside the folder" in note for note in staged.notes) == levels
    assert not any(p.name.startswith(".flatten") for p in staged.path.iterdir())


def test_a_folder_beside_the_module_is_not_flattened(tmp_path):
    write_zip(tmp_path / "s.zip", {"sampling.py": CODE, "utils/helper.py": "X = 1\n"})
    assert stage_submission(tmp_path / "s.zip", assignment(), tmp_path / "staged").files == (
        "sampling.py", "utils/helper.py")


def test_a_nested_notebook_is_flattened_and_converted(tmp_path):
    write_zip(tmp_path / "s.zip", {"hw1/sampling.ipynb": notebook(CODE)})
    staged = stage_submission(tmp_path / "s.zip", assignment(), tmp_path / "staged")
    assert staged.files == ("sampling.ipynb", "sampling.py")
    assert "double" in run_module((staged.path / "sampling.py").read_text())


def test_hostile_zip_entries_are_skipped_and_nothing_lands_outside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "outside" / "stage" / "here"
    link = zipfile.ZipInfo("link.py")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    dir_link = zipfile.ZipInfo("linked_dir")
    dir_link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as archive:
        archive.writestr("sampling.py", CODE)
        archive.writestr("../escape.py", "x")
        archive.writestr("../../escape2.py", "x")
        archive.writestr("ok/../../../escape3.py", "x")
        archive.writestr("..\\escape4.py", "x")
        archive.writestr(zipfile.ZipInfo("/tmp/absolute.py"), "x")
        archive.writestr(zipfile.ZipInfo("\\abs_windows.py"), "x")
        archive.writestr(zipfile.ZipInfo("C:/drive.py"), "x")
        archive.writestr(link, "/etc/passwd")
        archive.writestr(dir_link, str(outside))
        archive.writestr("linked_dir/through_link.py", "x")
    names = {info.filename for info in zipfile.ZipFile(tmp_path / "evil.zip").infolist()}
    assert {"../escape.py", "/tmp/absolute.py", "link.py"} <= names  # the hostile names really are in it
    staged = stage_submission(tmp_path / "evil.zip", assignment(), target)
    assert staged.files == ("linked_dir/through_link.py", "sampling.py")
    assert not (target / "linked_dir").is_symlink() and not (target / "link.py").exists()
    assert files_under(tmp_path) == {"evil.zip", "outside/stage/here/sampling.py",
                                     "outside/stage/here/linked_dir/through_link.py"}
    assert not Path("/tmp/absolute.py").exists() or Path("/tmp/absolute.py").read_text() != "x"
    notes = "\n".join(staged.notes)
    for name in ("../escape.py", "../../escape2.py", "ok/../../../escape3.py", "..\\escape4.py", "/tmp/absolute.py",
                 "\\abs_windows.py", "C:/drive.py"):
        assert f"{name}: entries outside the submission folder are ignored" in notes
    assert "link.py: symbolic links are ignored" in notes and "linked_dir: symbolic links are ignored" in notes


def test_a_corrupt_zip_is_a_submission_error_naming_it(tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(SubmissionError, match="broken.zip"):
        stage_submission(tmp_path / "broken.zip", assignment(), tmp_path / "staged")


def test_a_truncated_zip_is_a_submission_error_naming_it(tmp_path):
    data = write_zip(tmp_path / "full.zip", {"sampling.py": CODE * 50}).read_bytes()
    for cut in (10, len(data) // 2, len(data) - 10):
        (tmp_path / "cut.zip").write_bytes(data[:cut])
        with pytest.raises(SubmissionError, match="cut.zip"):
            stage_submission(tmp_path / "cut.zip", assignment(), tmp_path / f"staged{cut}")


def test_a_zip_with_bad_data_is_a_submission_error(tmp_path):
    data = bytearray(write_zip(tmp_path / "full.zip", {"sampling.py": CODE * 50}).read_bytes())
    start = data.index(b"sampling.py") + len("sampling.py")  # the deflated data follows the local header
    data[start + 5 : start + 25] = bytes(range(7, 27))
    (tmp_path / "bad.zip").write_bytes(data)
    with pytest.raises(SubmissionError, match="bad.zip"):
        stage_submission(tmp_path / "bad.zip", assignment(), tmp_path / "staged")


def test_randomly_corrupted_zips_are_submission_errors_or_stage(tmp_path):
    rng = random.Random(0)
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        good = write_zip(tmp_path / "good.zip", {"hw/sampling.py": CODE * 20, "hw/notes.txt": "hello " * 100},
                         compression=method).read_bytes()
        for i in range(60):
            data = bytearray(good)
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            (tmp_path / "fuzz.zip").write_bytes(data)
            try:
                stage_submission(tmp_path / "fuzz.zip", assignment(), tmp_path / f"staged{method}_{i}")
            except SubmissionError as exc:
                assert "fuzz.zip" in str(exc) or "submission" in str(exc)


def test_an_encrypted_entry_is_a_submission_error(tmp_path):
    data = bytearray(write_zip(tmp_path / "plain.zip", {"sampling.py": CODE}).read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1  # the "encrypted" flag in the central directory
    data[data.index(b"PK\x03\x04") + 6] |= 0x1  # and in the local header
    (tmp_path / "locked.zip").write_bytes(data)
    with pytest.raises(SubmissionError, match="locked.zip"):
        stage_submission(tmp_path / "locked.zip", assignment(), tmp_path / "staged")


def test_an_entry_under_a_file_name_is_a_submission_error(tmp_path):
    write_zip(tmp_path / "clash.zip", {"sampling.py": CODE, "sampling.py/inner.py": "x"})
    with pytest.raises(SubmissionError, match="clash.zip"):
        stage_submission(tmp_path / "clash.zip", assignment(), tmp_path / "staged")


def test_an_entry_without_a_name_is_skipped(tmp_path):
    data = bytearray(write_zip(tmp_path / "s.zip", {"sampling.py": CODE, "QQQ.py": "x"}).read_bytes())
    data = data.replace(b"QQQ.py", b"\x00QQ.py")  # a NUL cuts the name to "" when read
    (tmp_path / "noname.zip").write_bytes(data)
    assert stage_submission(tmp_path / "noname.zip", assignment(), tmp_path / "staged").files == ("sampling.py",)


def test_a_zip_bomb_is_a_submission_error(tmp_path, monkeypatch):
    monkeypatch.setattr(submission, "MAX_TOTAL_BYTES", 1 << 20)
    path = write_zip(tmp_path / "bomb.zip", {"sampling.py": CODE, "bomb.bin": bytes(8 << 20)})
    assert path.stat().st_size < 100_000  # highly compressible
    with pytest.raises(SubmissionError, match="larger than"):
        stage_submission(path, assignment(), tmp_path / "staged")
    assert sum(p.stat().st_size for p in (tmp_path / "staged").rglob("*") if p.is_file()) <= 1 << 20


def test_a_zip_bomb_that_lies_about_its_size_is_a_submission_error(tmp_path, monkeypatch):
    monkeypatch.setattr(submission, "MAX_TOTAL_BYTES", 1 << 20)
    data = bytearray(write_zip(tmp_path / "bomb.zip", {"bomb.bin": bytes(8 << 20)}).read_bytes())
    real = (8 << 20).to_bytes(4, "little")
    assert data.count(real) == 2  # the size in the local header and in the central directory
    (tmp_path / "liar.zip").write_bytes(data.replace(real, (100).to_bytes(4, "little")))
    with pytest.raises(SubmissionError):
        stage_submission(tmp_path / "liar.zip", assignment(), tmp_path / "staged")
    assert sum(p.stat().st_size for p in (tmp_path / "staged").rglob("*") if p.is_file()) <= 1 << 20


def test_many_entries_together_over_the_cap_are_a_submission_error(tmp_path, monkeypatch):
    monkeypatch.setattr(submission, "MAX_TOTAL_BYTES", 1 << 20)
    entries = {f"part{i}.bin": bytes(300_000) for i in range(5)}
    with pytest.raises(SubmissionError, match="larger than"):
        stage_submission(write_zip(tmp_path / "parts.zip", entries), assignment(), tmp_path / "staged")


def test_too_many_files_are_a_submission_error(tmp_path, monkeypatch):
    monkeypatch.setattr(submission, "MAX_FILES", 3)
    entries = {f"f{i}.py": "" for i in range(5)}
    with pytest.raises(SubmissionError, match="more than 3 files"):
        stage_submission(write_zip(tmp_path / "many.zip", entries), assignment(), tmp_path / "a")
    folder = tmp_path / "many"
    folder.mkdir()
    for name in entries:
        (folder / name).write_text("")
    with pytest.raises(SubmissionError, match="more than 3 files"):
        stage_submission(folder, assignment(), tmp_path / "b")


# --- notebooks --------------------------------------------------------------------------------------

def test_notebook_definitions_are_kept_and_top_level_work_dropped():
    source = notebook_to_module(notebook(
        "import math\nfrom collections import OrderedDict\nimport torch",
        "LATENT_DIM = 16\nBETAS: tuple = (0.9, 0.999)\nDEVICE = torch.device('cpu')\nSIZES = list(range(3))",
        "@staticmethod\ndef unused():\n    pass\n\ndef scale(x):\n    return LATENT_DIM * x",
        "class Encoder:\n    def __init__(self):\n        self.dim = LATENT_DIM",
        "try:\n    import scipy\nexcept ImportError:\n    scipy = None",
        "for epoch in range(10**12):\n    pass",
        "while True:\n    pass",
        "print('training done')\nmodel = Encoder()\nlosses = train(model)\nLATENT_DIM = 99 + len(losses)",
        "!pip install some-package\n%matplotlib inline\ndef after_magic():\n    return 'kept'",
        "%%time\ndef timed():\n    return 'dropped with its cell'",
        "  %%capture\nx = 1",
        "if __name__ == '__main__':\n    raise SystemExit('ran the main block')",
    ), "hw.ipynb")
    assert "hw.ipynb" in source.splitlines()[0]
    namespace = run_module(source)  # nothing above that runs for long or prints is left
    assert namespace["LATENT_DIM"] == 16 and namespace["BETAS"] == (0.9, 0.999) and namespace["SIZES"] == [0, 1, 2]
    assert namespace["scale"](2) == 32 and namespace["Encoder"]().dim == 16
    assert namespace["after_magic"]() == "kept" and "OrderedDict" in namespace and "math" in namespace
    assert "scipy" in namespace
    for dropped in ("timed", "model", "losses", "epoch"):
        assert dropped not in namespace
    for text in ("print(", "pip", "%matplotlib", "range(10**12)", "while True", "SystemExit", "x = 1"):
        assert text not in source


def test_notebook_sources_may_be_lists_of_lines():
    source = notebook_to_module(notebook(["def f():\n", "    return 3\n"]), "nb.ipynb")
    assert run_module(source)["f"]() == 3


def test_markdown_and_raw_cells_are_ignored():
    data = json.loads(notebook("X = 1", markdown="def not_code(): pass"))
    data["cells"].append({"cell_type": "raw", "metadata": {}, "source": "Y = 2"})
    namespace = run_module(notebook_to_module(json.dumps(data).encode(), "nb.ipynb"))
    assert namespace["X"] == 1 and "not_code" not in namespace and "Y" not in namespace


def test_a_cell_with_a_syntax_error_raises_on_import_naming_the_cell():
    source = notebook_to_module(notebook("def ok():\n    return 1", "def broken(:\n    pass"), "hw.ipynb")
    compile(source, "staged.py", "exec")  # the module itself parses
    with pytest.raises(SyntaxError, match=r"hw.ipynb cell 3, line 1"):
        run_module(source)


@pytest.mark.parametrize("cell", ["x = 1\x00", "x = " + "-" * 100_000 + "1"], ids=["null byte", "too deep"])
def test_a_cell_the_parser_cannot_take_raises_on_import(cell):
    source = notebook_to_module(notebook("def ok():\n    return 1", cell), "hw.ipynb")
    with pytest.raises(SyntaxError, match="hw.ipynb cell 3"):
        run_module(source)


@pytest.mark.parametrize("data", [b"this is not json", b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000,
                                  b"1" * 5000, b"[]", b'{"cells": []}'],
                         ids=["text", "not UTF-8", "deep", "huge int", "a list", "no nbformat"])
def test_a_notebook_that_is_not_one_is_a_submission_error_naming_it(data):
    with pytest.raises(SubmissionError, match="broken.ipynb: not a valid notebook"):
        notebook_to_module(data, "broken.ipynb")


def test_an_nbformat_3_notebook_is_a_submission_error_naming_it(tmp_path):
    (tmp_path / "old.ipynb").write_bytes(notebook("X = 1", nbformat=3))
    with pytest.raises(SubmissionError, match="old.ipynb.*nbformat 4"):
        stage_submission(tmp_path / "old.ipynb", assignment(), tmp_path / "staged")


def test_a_cell_whose_source_is_not_text_is_a_submission_error():
    with pytest.raises(SubmissionError, match="nb.ipynb.*cell 2"):
        notebook_to_module(notebook([1, 2]), "nb.ipynb")


# --- what runs is what is seen ----------------------------------------------------------------------

def test_a_package_beside_a_listed_module_is_dropped_with_a_note(tmp_path):
    """``sampling/__init__.py`` would be imported instead of ``sampling.py``: the visible module must run."""
    write_zip(tmp_path / "s.zip", {"sampling.py": CODE, "sampling/__init__.py": "def double(x):\n    return x\n",
                                   "sampling/extra.py": "", "helpers/util.py": "X = 1\n"})
    staged = stage_submission(tmp_path / "s.zip", assignment(), tmp_path / "staged")
    assert staged.files == ("helpers/util.py", "sampling.py")
    assert any(note.startswith("sampling/:") and "sampling.py" in note for note in staged.notes), staged.notes


@pytest.mark.parametrize("source", ["folder", "zip"])
def test_compiled_files_and_caches_are_dropped_with_a_note(tmp_path, source):
    """``.pyc`` files (``__pycache__`` or beside the source) and extension modules run instead of the .py."""
    entries = {"sampling.py": CODE, "__pycache__/sampling.cpython-311.pyc": b"\x00" * 16,
               "helpers/util.py": "X = 1\n", "helpers/__pycache__/util.cpython-311.pyc": b"\x00" * 16,
               "helpers/util.pyc": b"\x00" * 16, "sampling.so": b"\x7fELF",
               "sampling.cpython-311-x86_64-linux-gnu.so": b"\x7fELF"}
    if source == "zip":
        path = write_zip(tmp_path / "s.zip", entries)
    else:
        path = tmp_path / "hand_in"
        for name, data in entries.items():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_bytes(data.encode() if isinstance(data, str) else data)
    staged = stage_submission(path, assignment(), tmp_path / "staged")
    assert staged.files == ("helpers/util.py", "sampling.py")
    assert files_under(staged.path) == {"helpers/util.py", "sampling.py"}
    for name in ("__pycache__/", "helpers/__pycache__/", "helpers/util.pyc", "sampling.so",
                 "sampling.cpython-311-x86_64-linux-gnu.so"):
        assert any(note.startswith(name + ":") for note in staged.notes), (name, staged.notes)


def test_a_folder_named_like_the_module_is_still_flattened(tmp_path):
    """A student who zipped their ``sampling/`` folder: it is lifted up, not dropped."""
    write_zip(tmp_path / "s.zip", {"sampling/sampling.py": CODE})
    staged = stage_submission(tmp_path / "s.zip", assignment(), tmp_path / "staged")
    assert staged.files == ("sampling.py",)


def test_the_staged_folder_is_the_graders_alone(tmp_path):
    """Sandboxes get copies; at the rlimits level another sandbox's uid must not read the staged code."""
    (tmp_path / "hand_in").mkdir()
    (tmp_path / "hand_in" / "sampling.py").write_text(CODE)
    staged = stage_submission(tmp_path / "hand_in", assignment(), tmp_path / "staged")
    assert stat.S_IMODE(staged.path.stat().st_mode) == 0o700
