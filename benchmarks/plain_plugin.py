"""A pytest plugin for the benchmark's baseline: the same tests, student code imported directly.

No sandbox, no staging, no results file: what the test calls cost in one plain process.
Never used for grading (it runs the code under test in pytest's own process).
"""

from __future__ import annotations

import importlib
import os
import sys

import pytest

FOLDER = os.environ["PLAIN_MODULES"]


class Modules:
    def __getattr__(self, name: str):
        if FOLDER not in sys.path:
            sys.path.insert(0, FOLDER)
        return importlib.import_module(name)

    def probe(self, name: str, *args, **kwargs):
        from autograder.sandbox import probes

        return probes.run(name, *args, **kwargs)


def pytest_configure(config):
    if os.environ.get("PLAIN_THREADS"):  # as many torch threads as student code gets in the sandbox
        import torch

        torch.set_num_threads(int(os.environ["PLAIN_THREADS"]))
    for marker in ("points(n)", "visibility(v)", "time_limit(s)", "tolerance(rtol, atol)"):
        config.addinivalue_line("markers", marker)


@pytest.fixture
def student():
    return Modules()


@pytest.fixture
def solution():
    return Modules()


@pytest.fixture
def device():
    return "cpu"


@pytest.fixture
def credit():
    class Credit:
        def award(self, fraction, note=""):
            pass

    return Credit()
