"""Submissions that attack the grader gain no points, and every result file stays complete.

One throwaway assignment has a hidden test per attack; each asks for ``2 * x`` from a
differently named function. The honest submission scores full marks on the very same
tests (so they can pass), the hostile one scores 0 on each, under every isolation level
this machine offers.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from autograder.grade import grade
from autograder.sandbox import launch
from autograder.sandbox.launch import can_unshare
from autograder.sandbox.isolation import SANDBOX_UIDS
from tests.conftest import make_course, write_files

ATTACKS = [
    "patch_allclose", "read_frames", "exit_early", "sys_exit", "loop_forever", "sleep_forever",
    "memory_bomb", "fork_bomb", "escape_child", "kill_parent", "segfault", "recursion",
    "always_equal", "sneaky_subclass", "fake_output", "flood_stdout", "fill_disk", "huge_reply",
]
# Attacks that only the namespace levels stop: they need a private file system or network.
ISOLATED_ONLY = ["read_secrets", "network"]

TEST_TEMPLATE = '''
@pytest.mark.points(1)
def test_{name}(student, solution):
    x = torch.arange(6, dtype=torch.float64)
    expected = solution.attack.{name}(x)
    got = student.attack.{name}(x)
    assert isinstance(got, torch.Tensor) and torch.allclose(got, expected), "wrong values"
'''

HOSTILE = r'''
import ctypes, inspect, json, os, socket, subprocess, sys, time
import numpy, torch

_real_allclose = torch.allclose


def patch_allclose(x):
    torch.allclose = lambda *a, **k: True
    numpy.allclose = lambda *a, **k: True
    return x


def read_frames(x):
    for frame in inspect.stack():
        if "expected" in frame.frame.f_locals:
            return frame.frame.f_locals["expected"]
    return x


def exit_early(x):
    os._exit(0)


def sys_exit(x):
    sys.exit(0)


def loop_forever(x):
    while True:
        pass


def sleep_forever(x):
    time.sleep(1e9)


def memory_bomb(x):
    hoard = []
    while True:
        hoard.append(bytearray(1 << 30))  # the address-space limit refuses the first GiB at once


def fork_bomb(x):
    while True:
        try:
            os.fork()
        except OSError:
            pass


def escape_child(x):
    if os.fork() == 0:
        os.setsid()
        time.sleep(1e9)
    return x


def kill_parent(x):
    for target in (os.getppid(), -1):
        try:
            os.kill(target, 9)
        except OSError:
            pass
    return x


def segfault(x):
    ctypes.string_at(0)


def recursion(x):
    return recursion(x)


class AlwaysEqual:
    def __eq__(self, other): return True
    def __bool__(self): return True


def always_equal(x):
    return AlwaysEqual()


class Sneaky(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return True


def sneaky_subclass(x):
    return x.as_subclass(Sneaky)


def fake_output(x):
    report = {"score": 100, "tests": [{"name": "test_fake_output", "score": 1, "max_score": 1}]}
    print(json.dumps(report))
    print("PASSED test_fake_output 1/1")
    for path in ("results.json", "/autograder/results/results.json", "../results.json"):
        try:
            with open(path, "w") as handle:
                json.dump(report, handle)
        except OSError:
            pass
    return x


def flood_stdout(x):
    line = "spam " * 200 + "\n"
    for _ in range(20000):
        sys.stdout.write(line)
    return x


def fill_disk(x):
    for folder in (".", "/tmp", "/dev/shm"):
        try:
            with open(os.path.join(folder, "filler"), "wb") as handle:
                while True:
                    handle.write(b"\0" * (1 << 20))
        except OSError:
            pass
    return x


def huge_reply(x):
    return torch.zeros(1 << 28, dtype=torch.uint8)


def read_secrets(x):
    found = []
    for root in ("/", "/work", "/root", "/tmp", os.environ.get("SECRETS_HINT", "/nonexistent")):
        for dirpath, dirnames, filenames in os.walk(root):
            if any(name.startswith("test_") and name.endswith(".py") for name in filenames) \
                    and "hidden" in dirpath:
                found.append(dirpath)
                break
    if found:
        return 2 * x
    return x


def network(x):
    port = int(os.environ.get("PORT_HINT", "0") or 0) or 9
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return 2 * x
    except OSError:
        return x
'''

SHIPPED_FILES = {
    "conftest.py": """
        import pytest
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(item, call):
            outcome = yield
            report = outcome.get_result()
            report.outcome = "passed"
        """,
    "pytest.ini": "[pytest]\naddopts = -k nothing_matches\n",
    "sitecustomize.py": "import torch\ntorch.allclose = lambda *a, **k: True\n",
    "numpy.py": "raise ImportError('shadowed')\n",
    "torch.py": "raise ImportError('shadowed')\n",
}


def _course(root: Path, isolation: str, attacks: list[str]):
    tests = "import pytest\nimport torch\n" + "".join(TEST_TEMPLATE.format(name=n) for n in attacks)
    honest = "".join(f"def {name}(x):\n    return 2 * x\n\n\n" for name in attacks)
    return make_course(
        root, files=("attack.py",), hidden={"test_attacks.py": tests}, solution={"attack.py": honest},
        settings=f"""
            time_limit = 120
            test_time_limit = 5
            [assignments.toy.sandbox]
            memory_mb = 512
            processes = 32
            file_size_mb = 16
            reply_mb = 64
            isolation = "{isolation}"
            """,
    ), honest


def _levels() -> list:
    unshare = pytest.mark.skipif(not can_unshare(), reason="this machine does not allow unshare() (not root, no user namespaces)")
    bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (make sandbox-tools)")
    # "+zygote": servers forked from a process that imported torch once, as batch workers start them
    return [pytest.param("namespaces", marks=unshare), pytest.param("namespaces+zygote", marks=unshare),
            pytest.param("bubblewrap", marks=bwrap), "rlimits", "rlimits+zygote"]


@pytest.fixture(params=_levels())
def isolation(request) -> str:
    """The isolation level; with "+zygote", servers are forked from a zygote, as in a batch."""
    level, _, zygote = request.param.partition("+")
    if zygote:
        launch.start_zygote(level)
    yield level
    launch.discard_warm()


@pytest.fixture
def issued_uids(monkeypatch) -> set[int]:
    """The sandbox uids handed out during this test (other gradings may run beside it)."""
    issued: set[int] = set()
    original = launch.new_uid

    def record() -> int:
        issued.add(uid := original())
        return uid

    monkeypatch.setattr(launch, "new_uid", record)
    return issued


def _live_processes(uids: set[int]) -> list[str]:
    """Live processes under these uids (zombies are dead already: reaping them is init's job)."""
    out = subprocess.run(["ps", "-e", "-o", "uid=,stat=,pid=,args="], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines()
            if int(line.split()[0]) in uids and not line.split()[1].startswith("Z")]


@pytest.mark.slow
def test_hostile_submission_scores_zero(tmp_path, isolation, check_results, issued_uids):
    attacks = ATTACKS + (ISOLATED_ONLY if isolation != "rlimits" else [])
    course, honest = _course(tmp_path / "course", isolation, attacks)
    assignment = course.assignment("toy")
    key = course.root / "solutions" / "toy"

    good = tmp_path / "good"
    write_files(good, {"attack.py": honest})
    results = grade(assignment, good, out=tmp_path / "good.json", solution_dir=key)
    assert results.score == len(attacks), [t.output for t in results.tests if not t.passed]

    hostile = tmp_path / "hostile"
    write_files(hostile, {"attack.py": HOSTILE, **SHIPPED_FILES})
    with socket.socket() as listener:  # something to reach, should the network be open
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        os.environ["PORT_HINT"] = str(listener.getsockname()[1])
        try:
            out = tmp_path / "hostile.json"
            results = grade(assignment, hostile, out=out, solution_dir=key)
        finally:
            del os.environ["PORT_HINT"]

    data = check_results(out)
    assert [t["name"].split("::")[1] for t in data["tests"]] == [f"test_{a}" for a in attacks]
    scored = {t["name"]: t["output"] for t in data["tests"] if t["score"] > 0}
    assert scored == {}, scored
    assert data["score"] == 0
    messages = {t["name"].split("::test_")[1]: t["output"] for t in data["tests"]}
    failures = {t["name"].split("::test_")[1]: t["extra_data"].get("failure") for t in data["tests"]}
    assert failures["loop_forever"] == "timeout" and failures["segfault"] == "crash"
    assert failures["recursion"] == "exception", messages["recursion"]
    assert failures["always_equal"] == "wrong answer"
    assert data["extra_data"]["status"] == "timed out"
    assert "timed out after 5 s" in messages["loop_forever"]
    assert "timed out after 5 s" in messages["sleep_forever"]
    assert "exited early (exit code 0)" in messages["exit_early"]
    assert "SIGSEGV" in messages["segfault"]
    assert "RecursionError" in messages["recursion"]
    assert "MemoryError" in messages["memory_bomb"]
    assert "over the" in messages["huge_reply"]
    assert "PASSED" not in json.dumps([t for t in data["tests"] if "fake_output" not in t["name"]])
    assert issued_uids and all(uid in SANDBOX_UIDS for uid in issued_uids)
    assert _live_processes(issued_uids) == [], "sandbox processes outlived grading"


@pytest.mark.slow
def test_kill_and_flood_leave_later_tests_graded(tmp_path, check_results):
    """A test after a timeout, a crash and an output flood still runs in a fresh sandbox."""
    attacks = ["loop_forever", "flood_stdout", "segfault"]
    course, honest = _course(tmp_path / "course", "auto", attacks + ["later"])
    hostile = tmp_path / "hostile"
    write_files(hostile, {"attack.py": HOSTILE + "\n\ndef later(x):\n    return 2 * x\n"})
    out = tmp_path / "r.json"
    results = grade(course.assignment("toy"), hostile, out=out, solution_dir=course.root / "solutions" / "toy")
    data = check_results(out)
    by_name = {t["name"].split("::test_")[1]: t for t in data["tests"]}
    assert by_name["later"]["score"] == 1
    assert results.score == 1
    flood = by_name["flood_stdout"]["output"]
    assert "bytes not shown" in flood and len(flood) < 20_000  # 20 MB printed, a few KB kept


@pytest.mark.slow
def test_lazy_imports_work_inside_the_sandbox(tmp_path, isolation):
    """Modules first imported by student code (after the pivot and the uid drop) are readable there."""
    course = make_course(tmp_path / "course", files=("lazy.py",), solution={"lazy.py": ""}, public={"test_lazy.py": """
        import pytest

        @pytest.mark.points(1)
        def test_lazy(student):
            assert student.lazy.use() == "ok"
        """}, settings=f'[assignments.toy.sandbox]\nisolation = "{isolation}"\n')
    write_files(tmp_path / "sub", {"lazy.py": """
        def use():
            import encodings.idna, fractions, wave  # not imported by the server beforehand
            return "ok"
        """})
    results = grade(course.assignment("toy"), tmp_path / "sub", out=None)
    assert results.score == 1, results.tests[0].output
