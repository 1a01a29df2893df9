"""Staging: turn whatever a student handed in into a flat folder of modules for the sandbox.

A submission is a folder, a ``.zip``, or a single ``.py`` or ``.ipynb``. Zips are unpacked
defensively (no absolute paths, no ``..``, no symlinks, bounded size and count); a single
extra folder level is flattened; notebooks become modules by keeping their definitions
(see :func:`notebook_to_module`), never by running their cells. What runs is what is
seen: compiled code (``__pycache__``, ``.pyc``, ``.so``) and folders named like a listed
module (a package ``sampling/`` beside ``sampling.py``), which Python would import instead
of the visible source, are left out with a note. Everything here only reads and parses; no
student code runs in the grader.
"""

from __future__ import annotations

import ast
import json
import lzma
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from autograder.config import AssignmentConfig
from autograder.errors import SubmissionError

MAX_FILES = 1000
MAX_TOTAL_BYTES = 200 << 20
COMPILED_SUFFIXES = (".pyc", ".so")  # imported before (.so) or instead of (.pyc, unchecked) the .py
SAFE_CALLS = {"dict", "list", "tuple", "set", "frozenset", "range", "float", "int", "str", "bool",
              "torch.device", "torch.tensor", "torch.Size", "np.array", "numpy.array", "namedtuple",
              "collections.namedtuple", "TypeVar", "typing.TypeVar", "field", "dataclasses.field",
              "logging.getLogger"}


@dataclass(frozen=True)
class StagedSubmission:
    path: Path
    files: tuple[str, ...]  # relative paths, sorted
    notes: tuple[str, ...]  # things the student should know (skipped entries, conversions)

    def missing(self, assignment: AssignmentConfig) -> list[str]:
        return [f for f in assignment.files if f not in self.files]


def stage_submission(source: Path, assignment: AssignmentConfig, target: Path) -> StagedSubmission:
    source = Path(source)
    notes: list[str] = []
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o700)  # the grader's alone: sandboxes get copies, so no sandbox's uid reads another's code
    if source.is_dir():
        _copy_folder(source, target, notes)
    elif not source.exists():
        raise SubmissionError(f"{source}: no such file or folder")
    elif source.suffix == ".zip":
        _unzip(source, target, notes)
    elif source.suffix in (".py", ".ipynb"):
        shutil.copyfile(source, target / _single_file_name(source, assignment, notes))
    else:
        raise SubmissionError(f"{source.name}: a submission is a folder, a .zip, a .py or a .ipynb file")
    _drop_compiled(target, notes)
    _flatten(target, assignment, notes)
    _convert_notebooks(target, assignment, notes)
    _name_modules(target, assignment, notes)
    _drop_shadows(target, assignment, notes)
    files = tuple(sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()))
    if not files:
        raise SubmissionError("the submission is empty")
    return StagedSubmission(path=target, files=files, notes=tuple(notes))


def _single_file_name(source: Path, assignment: AssignmentConfig, notes: list[str]) -> str:
    wanted = [f for f in assignment.files if Path(f).stem == source.stem]
    if wanted or len(assignment.files) != 1 or source.suffix != ".py":
        return source.name
    notes.append(f"{source.name} was graded as {assignment.files[0]}")
    return assignment.files[0]


def _copy_folder(source: Path, target: Path, notes: list[str]) -> None:
    count = total = 0
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in (".git", "__MACOSX") for part in relative.parts):  # __pycache__: dropped with a note
            continue
        if path.is_symlink():
            notes.append(f"{relative}: symbolic links are ignored")
            continue
        if path.is_file():
            count, total = count + 1, total + path.stat().st_size
            _check_size(count, total)
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / relative)


def _check_size(count: int, total: int) -> None:
    if count > MAX_FILES:
        raise SubmissionError(f"the submission has more than {MAX_FILES} files")
    if total > MAX_TOTAL_BYTES:
        raise SubmissionError(f"the submission is larger than {MAX_TOTAL_BYTES >> 20} MB")


def _unzip(source: Path, target: Path, notes: list[str]) -> None:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError) as exc:
        raise SubmissionError(f"{source.name}: not a readable zip file ({exc})") from None
    with archive:
        count = total = 0
        for info in archive.infolist():
            name = info.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if not parts or info.is_dir() or parts[0] == "__MACOSX":  # no name: is_dir() would fail
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                notes.append(f"{name}: symbolic links are ignored")
                continue
            if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
                notes.append(f"{name}: entries outside the submission folder are ignored")
                continue
            count += 1
            _check_size(count, total + info.file_size)
            destination = target.joinpath(*parts)
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)  # fails where a file holds the name
                total += _extract(archive, info, destination, MAX_TOTAL_BYTES - total)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError, RuntimeError,
                    zlib.error, lzma.LZMAError) as exc:  # RuntimeError: encrypted; the rest: corrupt data
                raise SubmissionError(f"{source.name}: {name} cannot be unpacked ({exc})") from None


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, budget: int) -> int:
    """Copy one entry, counting real bytes (a zip bomb's header may lie about its size)."""
    written = 0
    with archive.open(info) as source, open(destination, "wb") as sink:
        while chunk := source.read(1 << 20):
            written += len(chunk)
            if written > budget:
                raise SubmissionError(f"the submission is larger than {MAX_TOTAL_BYTES >> 20} MB when unpacked")
            sink.write(chunk)
    return written


def _drop_compiled(target: Path, notes: list[str]) -> None:
    """Remove ``__pycache__`` folders and ``.pyc``/``.so`` files anywhere: only source is graded."""
    for path in sorted(target.rglob("*")):
        if not path.exists():  # inside a __pycache__ removed already
            continue
        relative = path.relative_to(target).as_posix()
        if path.is_dir() and path.name == "__pycache__":
            shutil.rmtree(path)
            notes.append(f"{relative}/: compiled Python files are not graded (only your .py files are), "
                         "so this folder was left out")
        elif path.is_file() and path.name.endswith(COMPILED_SUFFIXES):
            path.unlink()
            notes.append(f"{relative}: compiled files (.pyc, .so) are not graded (only your .py files are), "
                         "so it was left out")


def _drop_shadows(target: Path, assignment: AssignmentConfig, notes: list[str]) -> None:
    """Remove top-level folders named like a listed module: Python would import them instead of it."""
    for name in assignment.files:
        module = PurePosixPath(name)
        folder = target / module.with_suffix("").as_posix()
        if module.suffix == ".py" and folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder)
            notes.append(f"{folder.relative_to(target).as_posix()}/: a folder named like {name} would be "
                         f"imported instead of {name}, so it was left out")


def _flatten(target: Path, assignment: AssignmentConfig, notes: list[str]) -> None:
    """Submissions often arrive as ``hw1/sampling.py``: lift a lone folder's contents up."""
    for _ in range(3):
        entries = [p for p in target.iterdir()]
        wanted = {f for f in assignment.files} | {Path(f).stem + ".ipynb" for f in assignment.files}
        if any(e.name in wanted for e in entries) or len(entries) != 1 or not entries[0].is_dir():
            return
        folder = entries[0]
        notes.append(f"files were found inside the folder {folder.name}/ and graded from there")
        temporary = target / (".flatten-" + folder.name)
        folder.rename(temporary)
        for item in temporary.iterdir():
            item.rename(target / item.name)
        temporary.rmdir()


def _name_modules(target: Path, assignment: AssignmentConfig, notes: list[str]) -> None:
    """Each handed-in file where the sandbox's loader finds it under its module name.

    ``ps-1.py`` is copied to ``ps_1.py`` (Python cannot import a hyphen); a handed-in notebook's
    code cells, magics blanked, are written for the loader to run top to bottom
    (:func:`notebook_cells_path`). The notebook is read and validated with nbformat here, in the
    grader, so a broken one is an invalid submission with nbformat's reason.
    """
    for module, name in assignment.modules.items():
        path = target / name
        if not path.is_file():
            continue
        if name.endswith(".ipynb"):
            cells = notebook_cells(path.read_bytes(), name)
            notebook_cells_path(target, module).write_text(json.dumps(cells), encoding="utf-8")
        elif path.stem != module:
            shutil.copyfile(path, target / f"{module}.py")
            notes.append(f"{name} is imported by the tests as {module}")


def notebook_cells_path(folder: Path, module: str) -> Path:
    return folder / f".{module}.cells.json"


def notebook_cells(data: bytes, name: str) -> list[str]:
    """The sources of a notebook's code cells, in order, with IPython magics and shell lines blanked.

    Upgraded to nbformat 4 and validated by nbformat itself; a notebook it cannot read is an
    invalid submission that says why.
    """
    import nbformat

    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except (ValueError, RecursionError, nbformat.ValidationError) as exc:  # ValueError: bad UTF-8 or JSON
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SubmissionError(f"{name}: not a valid notebook ({reason[:300]})") from None
    return [_strip_magics(cell.source) for cell in notebook.cells if cell.cell_type == "code"]


def _convert_notebooks(target: Path, assignment: AssignmentConfig, notes: list[str]) -> None:
    """A notebook stands in for a module the assignment lists (``gmm.ipynb`` for ``gmm.py``), or
    for its one module when it is the only notebook; others (``hw1.ipynb``, the experiments)
    are not modules the tests import, and are left alone."""
    notebooks = sorted(target.glob("*.ipynb"))
    for notebook in notebooks:
        module = target / (notebook.stem + ".py")
        if len(notebooks) == 1 and len(assignment.files) == 1 and not (target / assignment.files[0]).exists():
            module = target / assignment.files[0]
        if module.exists() and module.name in assignment.files:
            notes.append(f"{notebook.name} was not graded: {module.name} is, and only one of them can be")
        if module.exists() or module.name not in assignment.files:
            continue
        module.write_text(notebook_to_module(notebook.read_bytes(), notebook.name), encoding="utf-8")
        notes.append(f"{notebook.name}: its definitions were graded as {module.name}")


def notebook_to_module(data: bytes, name: str) -> str:
    """The definitions of a notebook (imports, functions, classes, constants) as module source.

    Kept: imports, ``def``, ``class``, and assignments whose value calls nothing (or only
    constructors such as ``torch.device``). Dropped: everything else at the top level
    (training loops, plotting, ``!pip``/``%magic`` lines), so nothing long runs on import.
    """
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # ValueError: bad UTF-8 or JSON, too many digits
        raise SubmissionError(f"{name}: not a valid notebook (not JSON: {exc})") from None
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4 or not isinstance(notebook.get("cells"), list):
        raise SubmissionError(f"{name}: not a valid notebook (nbformat 4 is required)")
    chunks = [f"# Definitions taken from {name} by the grader; other top-level code was left out.\n"]
    for index, cell in enumerate(notebook["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) and all(isinstance(s, str) for s in source) else source
        if not isinstance(source, str):
            raise SubmissionError(f"{name}: not a valid notebook (the source of cell {index} is not text)")
        kept = _definitions(_strip_magics(source), f"{name} cell {index}")
        if kept:
            chunks.append(f"\n# --- cell {index} ---\n{kept}\n")
    return "".join(chunks)


def _strip_magics(source: str) -> str:
    if source.lstrip().startswith("%%"):
        return ""
    return "\n".join(line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("!", "%"))
                     else line for line in source.splitlines())


def _definitions(source: str, where: str) -> str:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return f"raise SyntaxError({f'{where}, line {exc.lineno}: {exc.msg}'!r})"
    except (ValueError, MemoryError, RecursionError) as exc:  # null bytes; nesting too deep to parse
        return f"raise SyntaxError({f'{where}: {exc}' if str(exc) else f'{where}: too deeply nested to parse'!r})"
    lines = source.splitlines()
    kept = []
    for node in tree.body:
        if _is_definition(node):
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            kept.append("\n".join(lines[start - 1 : node.end_lineno]))
    return "\n".join(kept)


def _is_definition(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        return all(_call_name(call.func) in SAFE_CALLS for call in ast.walk(node.value) if isinstance(call, ast.Call))
    if isinstance(node, ast.Try):
        return all(_is_definition(n) or isinstance(n, ast.Pass) for n in node.body)
    return False


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return f"{_call_name(func.value)}.{func.attr}"
    return ""
