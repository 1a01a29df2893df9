"""Attacks made inside a test, all graded in one run of one toy assignment at the ``rlimits`` level.

``rlimits`` hides no files and shares the network namespace: whatever holds here (the seccomp
filter, the cgroup, the codec's bounds) is what the grader relies on on a machine without
namespaces. Each row is one hidden test; the honest key passes every one (so each can pass),
the hostile submission fails each with the message a student can act on.
"""

from __future__ import annotations

import json
import resource
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from tests.adversarial import attacks
from tests.adversarial.toy import TEST_TIME_LIMIT, grade_files, honest_source, toy_course

TIME_SLACK = 10  # seconds past the per-test limit a timeout may take to be killed and cleaned up (fork bomb: ~8)



@dataclass(frozen=True)
class Case:
    name: str  # the function in attack.py, and test_<name> in the toy assignment
    threat: str  # its case in THREATS.md (with the extra classes of SECURITY.md)
    failure: str  # extra_data.failure of its result ("" where it passes; "a or b" where either may happen)
    message: str  # a phrase its output must hold ("a | b": either)
    xfail: str = ""  # why the grader is known to fall short here (strict: fixing it turns the case red)


CASES = [
    Case("missing_argument", "5", "exception", "missing 1 required positional argument"),
    Case("wrong_shape", "5", "error", "RuntimeError"),
    Case("wrong_dtype", "5", "error", "RuntimeError"),
    Case("nan_values", "5", "wrong answer", "wrong values"),
    Case("list_not_tensor", "5", "wrong answer", "wrong values"),
    Case("always_equal", "6", "wrong answer", "wrong values"),
    Case("sneaky_subclass", "6", "wrong answer", "wrong values"),
    Case("ndarray_subclass", "6", "wrong answer", "wrong values"),
    Case("patch_allclose", "7", "wrong answer", "wrong values"),
    Case("read_frames", "7", "wrong answer", "wrong values"),
    Case("patch_builtins", "7", "crash", "exited early"),
    Case("patch_pytest", "7", "wrong answer", "wrong values"),
    Case("fake_output", "8", "wrong answer", "wrong values"),
    Case("exit_early", "10", "crash", "exited early (exit code 0)"),
    Case("sys_exit", "10", "exception", "SystemExit"),
    Case("kill_parent", "10", "wrong answer", "wrong values"),
    Case("kill_loader", "10", "wrong answer", "wrong values"),  # kill(-1) spares the caller, not the loader
    Case("after_kill", "10", "", ""),  # passes: the loader that kill_loader took down is loaded again
    Case("loop_forever", "11", "timeout", f"timed out after {TEST_TIME_LIMIT} s"),
    Case("sleep_forever", "11", "timeout", f"timed out after {TEST_TIME_LIMIT} s"),
    Case("deadlock", "11", "timeout", f"timed out after {TEST_TIME_LIMIT} s"),
    Case("fork_bomb", "11", "timeout", f"timed out after {TEST_TIME_LIMIT} s"),
    Case("escape_child", "11", "wrong answer", "wrong values"),
    Case("memory_bomb", "11", "exception", "MemoryError"),
    Case("fill_disk", "11", "wrong answer", "wrong values"),
    Case("flood_stdout", "11", "wrong answer", "bytes not shown"),
    Case("segfault", "12", "crash", "SIGSEGV"),
    Case("recursion", "12", "exception", "RecursionError"),
    Case("inet_socket", "13", "exception", "AF_INET refused: EPERM"),
    Case("io_uring", "13", "exception", "io_uring refused: EPERM"),
    # under load the 3 s limit can strike before the 40 children reach the memory limit: then a plain time-out
    Case("memory_spread", "16", "wrong answer or timeout or crash", "ran out of memory | timed out after 3 s"),
    Case("million_lists", "16", "bad reply", "more than 1000000 values"),
    Case("bool_tensor_250mb", "16", "bad reply", "more than 33554432 array elements"),
    Case("surrogate_raise", "17", "exception", "ValueError: bad ? byte ?"),
    Case("surrogate_print", "17", "wrong answer", "raw \ufffd\ufffd bytes"),
    Case("fence_escape", "21", "exception", "````"),  # a fence longer than the student's
]
PROBE_TEST = '''
@pytest.mark.points(1)
def test_probe_target(student):
    x = torch.arange(3, dtype=torch.float64)
    jacobian = student.probe("jacobian", student.attack.probe_target, x)
    assert torch.allclose(jacobian, 2 * torch.eye(3, dtype=torch.float64)), "the Jacobian is not 2 I"
'''
NAMES = [case.name for case in CASES]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, results_schema):
    """The honest key and the hostile module, graded on the same assignment; the grader's peak memory growth (MB)."""
    def check(path: Path) -> dict:
        data = json.loads(path.read_text())
        jsonschema.validate(data, results_schema)
        return data

    root = tmp_path_factory.mktemp("in_sandbox")
    course = toy_course(root / "course", NAMES, memory_mb=512, reply_mb=300, extra_tests=PROBE_TEST)
    honest = grade_files(course, root / "honest", {"attack.py": honest_source(NAMES + ["probe_target"])}, check)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hostile = grade_files(course, root / "hostile", {"attack.py": attacks.SOURCE}, check)
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    return honest, hostile, growth_mb


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.slow
@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_attack(runs, case):
    honest, hostile, _ = runs
    assert honest.score(case.name) == 1, honest.output(case.name)
    output = hostile.output(case.name)
    assert hostile.score(case.name) == (0 if case.failure else 1), output
    assert hostile.failure(case.name) in (case.failure.split(" or ") if case.failure else [None]), output
    assert hostile.tests[case.name]["extra_data"]["time_s"] < TEST_TIME_LIMIT + TIME_SLACK
    assert any(phrase in output for phrase in case.message.split(" | ")), output


@pytest.mark.slow
def test_the_grader_decodes_a_250mb_reply_without_blowing_up(runs):
    """The element bound refuses the bool tensor before a test could upcast it (2 GB as float64)."""
    _, hostile, growth_mb = runs
    assert hostile.failure("bool_tensor_250mb") == "bad reply"
    assert growth_mb < 700, f"the grader's peak memory grew by {growth_mb:.0f} MB"


@pytest.mark.slow
def test_the_whole_hostile_run_is_complete_and_bounded(runs):
    """Every attack, four or five of them timeouts, in one grading: all reported, well under the total limit."""
    _, hostile, _ = runs
    assert hostile.data["score"] == 1 + hostile.score("probe_target")  # after_kill; probe_target: see below
    assert hostile.data["extra_data"]["status"] == "timed out"
    assert hostile.wall_s < 150


@pytest.mark.slow
def test_memory_spread_is_held_by_its_cgroup(runs):
    """4.8 GB asked for over 40 processes: no point given, the grading went on, and the machine's
    memory was never at stake (the grader is alive)."""
    _, hostile, _ = runs
    assert hostile.score("memory_spread") == 0
    # the join sees killed children ("wrong answer"), or waits on children stalled in reclaim ("timeout")
    assert hostile.failure("memory_spread") in ("wrong answer", "timeout"), hostile.output("memory_spread")
    assert hostile.tests["memory_spread"]["extra_data"]["time_s"] < TEST_TIME_LIMIT + TIME_SLACK


@pytest.mark.slow
def test_probe_takeover(runs):
    """attack.py replaces PROBES["jacobian"] at import (in the loader): the grader must not trust what it measures."""
    honest, hostile, _ = runs
    assert honest.score("probe_target") == 1
    assert hostile.score("probe_target") == 0, "a wrong function passed with the student's own Jacobian probe"
