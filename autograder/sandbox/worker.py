"""One test's worker inside the sandbox: answers calls on the student's modules.

The modules were imported once per submission by the loader (:mod:`autograder.sandbox.loader`),
whose state every test's worker is forked from: :func:`prepare` and :func:`preload` run in
the loader, :func:`serve` in each worker. A module that failed to import is not retried
in every test: its error is replayed as it happened (:class:`ImportFailed`).

Requests (decoded plain data; handles resolve to objects in this process)::

    {"op": "getattr", "target": T, "name": str}
    {"op": "call",    "target": T, "args": list, "kwargs": dict}
    {"op": "getitem", "target": T, "key": value}      {"op": "len", "target": T}
    {"op": "probe",   "name": str, "args": list, "kwargs": dict}

where T is {"module": name} or {"handle": id}. Replies are {"ok": value} or
{"error": {"type", "message", "traceback"}}; values the codec cannot express come back
as handles. Nothing here is trusted by the grader: it only ever reads plain data.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import traceback
import types
from typing import Any

import torch

from autograder.sandbox import codec, probes, protocol

MAX_TRACEBACK = 8000


class Worker:
    def __init__(self, home: str, failed: dict[str, dict[str, str]] | None = None,
                 files: dict[str, str] | None = None):
        self.home = home
        self.files = files or {}  # module name -> the file handed in for it
        self.failed = failed or {}  # module name -> the error its import raised in the loader
        self.handles: dict[int, Any] = {}
        self.ids: dict[int, int] = {}  # id(obj) -> handle id, so one object keeps one handle

    def to_handle(self, value: Any) -> codec.HandleRef:
        key = id(value)
        if key not in self.ids:
            self.ids[key] = len(self.handles) + 1
            self.handles[self.ids[key]] = value
        return codec.HandleRef(self.ids[key], _type_name(value), callable(value))

    def from_handle(self, body: dict) -> Any:
        try:
            return self.handles[body["id"]]
        except KeyError:
            raise codec.CodecError(f"no object with handle {body['id']}") from None

    def target(self, spec: Any) -> Any:
        if isinstance(spec, dict) and "module" in spec:
            return self.module(spec["module"])
        if isinstance(spec, dict) and "handle" in spec:
            return self.from_handle({"id": spec["handle"]})
        raise codec.CodecError(f"bad target {spec!r}")

    def module(self, name: str) -> Any:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"bad module name {name!r}")
        if name not in sys.modules and not os.path.exists(os.path.join(self.home, name + ".py")) \
                and not os.path.isdir(os.path.join(self.home, name)):
            present = sorted(f for f in os.listdir(self.home) if not f.startswith("."))
            raise MissingFile(f"{self.files.get(name, name + '.py')} is missing from your submission "
                              f"(it has: {', '.join(present) or 'no files'})")
        if name in self.failed:
            raise ImportFailed(self.failed[name])
        return importlib.import_module(name)

    def handle(self, request: dict) -> Any:
        op = request.get("op")
        if op == "getattr":
            return getattr(self.target(request["target"]), request["name"])
        if op == "call":
            return self.target(request["target"])(*request.get("args", []), **request.get("kwargs", {}))
        if op == "getitem":
            return self.target(request["target"])[request["key"]]
        if op == "len":
            return len(self.target(request["target"]))
        if op == "ping":  # the server's: is this worker (forked ahead of its test) alive and answering
            return "pong"
        if op == "probe":
            return probes.run(request["name"], *request.get("args", []), **request.get("kwargs", {}))
        raise ValueError(f"unknown operation {op!r}")


class MissingFile(ImportError):
    """A module the tests need is not in the submission."""


class ImportFailed(ImportError):
    """Importing the module raised in the loader; ``error`` is that error as the student saw it."""

    def __init__(self, error: dict[str, str]):
        super().__init__(error.get("message", ""))
        self.error = error


def _type_name(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _error(exc: BaseException, home: str) -> dict[str, str]:
    """The exception as the student should see it: their own frames, not the sandbox's."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(home + os.sep)]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    text = "".join(lines)
    if len(text) > MAX_TRACEBACK:
        text = text[: MAX_TRACEBACK // 2] + "\n[...]\n" + text[-MAX_TRACEBACK // 2 :]
    return {"type": type(exc).__name__, "message": str(exc)[:2000], "traceback": text}


def prepare(home: str, *, threads: int) -> None:
    """The process state student code runs in: its folder, its import path, torch's threads."""
    os.chdir(home)
    sys.path.insert(0, home)
    sys.dont_write_bytecode = True
    torch.set_num_threads(max(1, threads))  # the grader sends the count (autograder.sandbox.resources)


def preload(modules: dict[str, str], home: str, *, cell_limit: float = 0, seed: int | None = None,
            on_import=lambda name: None, on_cell=lambda index: None) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Load each handed-in file that exists, as the module tests know it by (``modules``: name -> file).

    A ``.py`` is imported; a module that raised is removed from ``sys.modules`` (with what it
    left half-imported), so a test does not see a half-made module, and its error is returned
    to be replayed. A notebook is run top to bottom (:func:`run_notebook`). ``on_import(name)``
    is called before each (and ``on_cell(index)`` before each notebook cell), so the loader can
    say which one hung. Returns the import errors
    and notes for the results (a notebook cell that raised or ran out of time).
    """
    failed, notes = {}, []
    for name, filename in modules.items():
        if filename.endswith(".ipynb"):
            cells = os.path.join(home, f".{name}.cells.json")
            if os.path.exists(cells):
                on_import(filename)
                with open(cells, encoding="utf-8") as file:
                    notes += run_notebook(name, filename, json.load(file), home, cell_limit=cell_limit, seed=seed,
                                          on_cell=on_cell)
            continue
        if name in sys.modules or not (os.path.exists(os.path.join(home, name + ".py"))
                                       or os.path.isdir(os.path.join(home, name))):
            continue
        on_import(f"{name}.py")
        before = set(sys.modules)
        try:
            importlib.import_module(name)
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt at import included
            failed[name] = _error(exc, home)
            for added in set(sys.modules) - before:
                del sys.modules[added]
    return failed, notes


class CellTimedOut(BaseException):
    """A notebook cell ran past its limit (a BaseException, so a student's ``except Exception`` lets it by)."""


def run_notebook(name: str, filename: str, cells: list[str], home: str, *, cell_limit: float,
                 seed: int | None, on_cell=lambda index: None) -> list[str]:
    """Run a notebook's code cells in order in one module's namespace, registered as ``name``.

    As Jupyter's "run all" with errors allowed: a cell that raises (or runs past
    ``cell_limit`` seconds) is reported and the next cell runs, so an answer computed at the
    top level (``nine = square(3)``) counts wherever the notebook gets to. Each cell starts from
    ``seed`` when one is set, as otter-grader does; ``import otter`` and ``grader.check(...)``
    do nothing here (:func:`_harmless_otter`). What the cells print goes to the first test's
    output. Returns a note per cell that failed.
    """
    module = types.ModuleType(name)
    module.__file__ = os.path.join(home, filename)
    sys.modules[name] = module
    sys.modules.setdefault("otter", _harmless_otter())
    notes = []
    for index, source in enumerate(cells, start=1):
        on_cell(index)
        if seed is not None:
            _seed(seed)
        where = f"{module.__file__}, cell {index}"
        previous = signal.signal(signal.SIGALRM, _cell_timed_out)
        if cell_limit > 0:
            signal.setitimer(signal.ITIMER_REAL, cell_limit)
        try:
            exec(compile(source, where, "exec"), module.__dict__)
        except CellTimedOut:
            notes.append(f"{filename}: cell {index} did not finish within {cell_limit:g} s and was stopped")
        except BaseException as exc:  # noqa: BLE001 - SystemExit too: the notebook goes on
            error = _error(exc, home)
            notes.append(f"{filename}: cell {index} raised {error['type']}: {error['message'][:200]}")
            print(error["traceback"], file=sys.stderr)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return notes


def _cell_timed_out(signum, frame) -> None:
    raise CellTimedOut


def _seed(seed: int) -> None:
    import random

    import numpy

    random.seed(seed)
    numpy.random.seed(seed)
    torch.manual_seed(seed)


def _harmless_otter() -> types.ModuleType:
    """``otter`` as a notebook sees it while graded: ``otter.Notebook(...).check("q1")`` and the
    rest do nothing (the grader runs the tests itself, outside the sandbox)."""
    otter = types.ModuleType("otter")

    class Notebook:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def __getattr__(self, name: str):
            return lambda *args, **kwargs: None

    otter.Notebook = Notebook
    return otter


def serve(sock, *, home: str, max_bytes: int, failed: dict[str, dict[str, str]] | None = None,
          files: dict[str, str] | None = None) -> None:
    """Answer requests on ``sock`` until the grader closes it (in a process prepared by :func:`prepare`)."""
    worker = Worker(home, failed, files)
    while True:
        try:
            request = protocol.recv(sock, max_bytes=max_bytes, make_handle=worker.from_handle)
        except protocol.ChannelClosed:
            return
        try:
            reply: Any = {"ok": worker.handle(request)}
        except ImportFailed as exc:
            reply = {"error": exc.error}
        except (Exception, SystemExit, KeyboardInterrupt, RecursionError) as exc:  # noqa: BLE001
            reply = {"error": _error(exc, home)}
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            protocol.send(sock, reply, to_handle=worker.to_handle)
        except Exception as exc:  # noqa: BLE001 - whatever the student's value does while encoded
            protocol.send(sock, {"error": {"type": "CodecError", "message": f"cannot return this value: {exc}",
                                           "traceback": ""}})
