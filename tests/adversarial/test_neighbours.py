"""Attacks on the other submissions of a batch, and on the staff who read its output.

A hostile submission and an honest one are graded side by side: the memory the hostile one
spreads over 40 processes, and the CPU it burns in 30 setsid() processes, stay in its own
cgroup, so the honest neighbour's score and test time are what they are alone. Its name, a
spreadsheet formula, and its output, Markdown that tries to close its fence, reach the
gradebook and the feedback pages inert. Homes of two sandboxes at the ``rlimits`` level are
private to each (the checks of ``tests/sandbox/test_privacy.py``, made as an attack).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import clock
from autograder.config import SandboxLimits
from autograder.sandbox import cgroups, resources
from autograder.sandbox.client import Sandbox
from tests.adversarial import attacks
from tests.adversarial.toy import grade_files, toy_course
from tests.conftest import REPO, write_files
from tests.sandbox.test_privacy import PROBE, _call

WORK = '''
def work(x):
    """About a second of pure-Python arithmetic: the neighbour's test whose time is measured."""
    total = 0
    for i in range(12_000_000):
        total += i & 7
    return 2 * x + 0 * total


def spread(x):
    return 2 * x


def hog(x):
    return 2 * x
'''
NAMES = ["work", "spread", "hog"]
FORMULA_NAME = '=HYPERLINK("evil.example","prize") `<img src=x onerror=alert(1)>`'  # a folder name: no "/"
HOSTILE = attacks.SOURCE.replace("def memory_spread(x):", "def spread(x):") + '''

def work(x):
    print(FENCE)
    return x


def hog(x):
    """30 busy processes that left the worker's session, and a busy worker, until the grader kills them."""
    for _ in range(30):
        if os.fork() == 0:
            os.setsid()
            while True:
                pass
    while True:
        pass
'''


def _cli(*args: str, cwd: Path, machine: cgroups.SandboxGroup | None = None) -> subprocess.Popen:
    """The command line in a subprocess; inside ``machine`` (a cgroup standing in for the whole machine) if given."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    enter = (lambda: machine.add(os.getpid())) if machine is not None else None
    return subprocess.Popen([sys.executable, "-m", "autograder", *args], cwd=cwd, env=env, preexec_fn=enter,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture
def machine():
    """``machine(memory_mb)``: a memory cgroup for the grader to run in, as Gradescope's limit."""
    made = []

    def make(memory_mb: int) -> cgroups.SandboxGroup:
        try:
            made.append(cgroups.SandboxGroup.create(f"machine-{memory_mb}mb", memory_mb=memory_mb,
                                                    cpus=resources.available_cores(), processes=8192))
        except cgroups.CgroupUnavailable as exc:
            pytest.skip(f"no cgroup can be made here to stand in for a {memory_mb} MB machine: {exc}")
        return made[-1]

    yield make
    for group in made:
        group.close()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return toy_course(tmp_path_factory.mktemp("neighbours") / "course", NAMES, key=WORK, memory_mb=512,
                      test_time_limit=12)


@pytest.mark.slow
def test_batch_neighbour_keeps_its_score_and_staff_see_inert_text(course, tmp_path, check_results, machine):
    """batch --jobs 2 on a 3 GB machine: the hostile submission's memory spread stays in its cgroup;
    its name and output stay text."""
    alone = grade_files(course, tmp_path / "alone", {"attack.py": WORK}, check_results)
    submissions = tmp_path / "submissions"
    write_files(submissions / "honest", {"attack.py": WORK})
    write_files(submissions / FORMULA_NAME, {"attack.py": HOSTILE.replace("def hog(x):", "def _hog(x):")
                                             + "\n\ndef hog(x):\n    return x\n"})
    out = tmp_path / "out"
    batch = _cli("batch", "toy", str(submissions), "--out", str(out), "--jobs", "2", cwd=course.root,
                 machine=machine(3072))
    log, _ = batch.communicate(timeout=240)
    assert batch.returncode == 0, log  # the grader survived

    results = {path.stem: check_results(path) for path in (out / "results").glob("*.json")}
    assert len(results) == 2, sorted(results)
    assert results["honest"]["score"] == alone.data["score"] == 3
    hostile_id = next(student for student in results if student != "honest")
    hostile = {t["name"].split("::test_")[1]: t for t in results[hostile_id]["tests"]}
    assert [hostile[name]["score"] for name in NAMES] == [0, 0, 0]

    with open(out / "gradebook.csv", newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells), cells
    assert "'" + FORMULA_NAME in cells, cells

    markdown = (out / "feedback" / f"{hostile_id}.md").read_text()
    assert "````\n```\n\nAll tests passed" in markdown, markdown  # the student's fence sits inside a longer one
    html = "\n".join(page.read_text() for page in (out / "feedback").glob("*.html"))
    html += (out / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html


@pytest.mark.slow
def test_memory_spread_on_a_2gb_machine_leaves_the_grader_and_its_results(course, tmp_path, check_results, machine):
    """Gradescope's recommended 2 GB: 40 processes of 120 MB each, every one under the per-process
    limit, are held by the sandbox's cgroup; the grader lives and writes every test's result."""
    folder = tmp_path / "hostile"
    write_files(folder, {"attack.py": HOSTILE})
    out = tmp_path / "results.json"
    grading = _cli("grade", "toy", str(folder), "--out", str(out), cwd=course.root, machine=machine(2048))
    log, _ = grading.communicate(timeout=240)
    assert grading.returncode == 0, log
    data = check_results(out)
    assert [t["name"].split("::test_")[1] for t in data["tests"]] == NAMES and data["score"] == 0
    assert "ran out of memory" in json.dumps(data), data


def _members(grader_pid: int) -> int:
    """How many processes the sandbox cgroups of the grader ``grader_pid`` hold now (pids controller)."""
    _, folders = cgroups.grader_folders(resources.PROC_CGROUP, resources.CGROUP_ROOT)
    parent = folders["pids"] / cgroups.PARENT
    return sum(len(resources.read(group / "cgroup.procs").split())
               for group in parent.glob(f"{cgroups.owner_tag(grader_pid)}-*"))


def _work_time(course, folder: Path, check_results) -> float:
    graded = grade_files(course, folder, {"attack.py": WORK}, check_results)
    assert graded.score("work") == 1, graded.output("work")
    return graded.tests["work"]["extra_data"]["time_s"]


@pytest.mark.slow
def test_setsid_cpu_hog_does_not_slow_a_neighbour(course, tmp_path, check_results):
    try:
        cgroups.grader_folders(resources.PROC_CGROUP, resources.CGROUP_ROOT)
    except cgroups.CgroupUnavailable as exc:
        pytest.skip(f"no cgroup here, so no CPU quota to test: {exc}")
    alone = _work_time(course, tmp_path / "alone", check_results)
    write_files(tmp_path / "hog", {"attack.py": HOSTILE})
    hostile = _cli("grade", "toy", str(tmp_path / "hog"), "--tests", "test_hog", "--out", str(tmp_path / "hog.json"),
                   cwd=course.root)
    try:
        deadline = clock.monotonic() + 60
        while _members(hostile.pid) < 30:
            assert clock.monotonic() < deadline and hostile.poll() is None, "the hog never started"
            time.sleep(0.2)
        beside = _work_time(course, tmp_path / "beside", check_results)
        assert _members(hostile.pid) >= 30, "the hog ended before the neighbour's test did: measure again"
    finally:
        log, _ = hostile.communicate(timeout=120)
    assert hostile.returncode == 0, log
    hog = json.loads((tmp_path / "hog.json").read_text())
    assert hog["score"] == 0 and "timed out" in hog["tests"][0]["output"]
    print(f"the neighbour's test: {alone:.2f} s alone, {beside:.2f} s beside 31 busy processes")
    assert beside < 2 * alone + 0.5, f"the neighbour's test took {beside:.2f} s beside the hog, {alone:.2f} s alone"


NEIGHBOUR_WRITE = '''
import os


def home():
    return os.getcwd()


def overwrite(home, staged):
    """Every way into a neighbour's files: its home, its modules there, its staged submission."""
    done = []
    for what, path, mode in [("create", os.path.join(home, "planted.py"), "w"),
                             ("rewrite", os.path.join(home, "probe.py"), "w"),
                             ("rewrite staged", os.path.join(staged, "probe.py"), "a")]:
        try:
            with open(path, mode) as handle:
                handle.write("def home():\\n    return 'hijacked'\\n")
            done.append(what)
        except OSError:
            pass
    return done
'''


@pytest.mark.slow  # two sandbox servers
@pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes get uids of their own only when the grader runs as root")
def test_a_neighbours_home_is_not_writable(workspaces):
    """Two sandboxes at the rlimits level (nothing hidden): the second cannot plant or rewrite the first's modules."""
    for folder in workspaces:
        (folder / "submission" / "probe.py").write_text(PROBE + NEIGHBOUR_WRITE)
    limits = SandboxLimits(isolation="rlimits")
    victim, attacker = (Sandbox(submission=w / "submission", workdir=w / "sandbox", limits=limits, device="cpu")
                        for w in workspaces)
    try:
        home = _call(victim, "home")
        assert _call(attacker, "overwrite", home, str(workspaces[0] / "submission")) == []
        assert _call(victim, "home") == home  # its module is still its own
        assert not Path(home, "planted.py").exists()
    finally:
        victim.kill()
        attacker.kill()
