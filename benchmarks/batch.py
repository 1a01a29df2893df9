"""Benchmark of batch grading: speed-up with 2 workers, per-submission overhead, and otter-grader side by side.

Prints three figures (and the timings behind them):
1. speed-up: wall time of `autograder batch hw1` on 100 generated hw1 submissions (a frozen
   copy of hw1, or of one part with --part: copies of the solution key as folders and .zip;
   blank releases; wrong implementations from tests/assignments/hw1/*_variants.py; broken
   zips) with --jobs 1 over --jobs 2 (target >= 1.7 on 2 cores);
2. per-submission overhead: the marginal wall time of one more solution-key submission in a
   --jobs 1 batch (the difference of two batch sizes, so start-up and report cancel out)
   minus the same tests' compute in a warm plain process, student code imported directly
   (target < 1 s);
3. otter-grader: the same one-question assignment graded per submission by `otter run` and
   by `autograder grade` (wall of each command, median), and their ratio.
Machine load is printed too: the figures mean little on a machine that other work keeps busy.

Run: .venv/bin/python benchmarks/batch.py [--count 100] [--skip-otter]
otter-grader is a benchmark-only dependency in its own venv: benchmarks/otter/setup.sh.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import io
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.config import load_config  # noqa: E402
from autograder.sandbox import resources  # noqa: E402
from tree_cpu import TreeCpu  # noqa: E402

OTTER = ROOT / "benchmarks" / "otter" / "venv" / "bin" / "otter"


# -- the assignment ---------------------------------------------------------------------

PARTS = ("sampling", "gmm", "lm")  # hw1's modules; each has a catalogue tests/assignments/hw1/<part>_variants.py


def frozen_course(scratch: Path, part: str = "all") -> Path:
    """A copy of hw1 (or one part of it: its module, tests and key), so edits to the repository
    during a run do not change what is graded. Returns its grading.toml."""
    root = scratch / "course"
    skip = shutil.ignore_patterns("__pycache__", "*.ipynb")
    for tree in ("assignments/hw1", "solutions/hw1", "student_release/hw1"):
        shutil.copytree(ROOT / tree, root / tree, ignore=skip)
    tests = root / "assignments/hw1/tests"
    if part != "all":
        for test in [*tests.glob("public/test_*.py"), *tests.glob("hidden/test_*.py")]:
            if test.stem.removesuffix("_hidden") != f"test_{part}":
                test.unlink()
    points = sum(float(m) for test in tests.rglob("test_*.py")
                 for m in re.findall(r"mark\.points\(([\d.]+)\)", test.read_text()))
    files = [f"{name}.py" for name in (PARTS if part == "all" else (part,))]
    text = (ROOT / "grading.toml").read_text()
    head = text[: text.index("[assignments.")]  # course and defaults as the course has them
    (root / "grading.toml").write_text(head + f'[assignments.hw1]\ntitle = "HW1 ({part})"\n'
                                       f'source = "assignments/hw1"\nfiles = {json.dumps(files)}\n'
                                       f"points = {points:g}\n")
    return root / "grading.toml"


# -- submissions ----------------------------------------------------------------------


def _modules(folder: Path, files: list[str]) -> dict[str, str]:
    return {name: (folder / name).read_text() for name in files}


def generate(folder: Path, config: Path, count: int, seed: int = 0) -> dict[str, int]:
    """``count`` submissions of the frozen course: 35% key copies, 20% blank, 35% wrong, 10% broken zips.

    Each has every module file of the assignment; a wrong one has one catalogued bug
    (tests/assignments/hw1/<part>_variants.py) in its module.
    """
    rng = random.Random(seed)
    root = config.parent
    files = list(load_config(config).assignment("hw1").files)
    key = _modules(root / "solutions" / "hw1", files)
    source = _modules(root / "assignments" / "hw1", files)  # SOLUTION markers are comments: runs as it is
    blank = _modules(root / "student_release" / "hw1", files)
    wrong = [v for v in _variants() if v["must_fail"] and f"{v['module']}.py" in files]
    kinds = ["key"] * 35 + ["blank"] * 20 + ["wrong"] * 35 + ["broken"] * 10
    kinds = [kinds[int(i * len(kinds) / count)] for i in range(count)]
    folder.mkdir(parents=True)
    for index, kind in enumerate(kinds):
        name = f"{kind}{index:03d}"
        if kind == "key":
            comment = "" if index % 2 else f"\n# submitted by {name}\n"
            _write(folder, name, {f: text + comment for f, text in key.items()}, ("dir", "zip")[index % 2])
        elif kind == "blank":
            _write(folder, name, blank, ("dir", "zip")[index % 2])
        elif kind == "wrong":
            variant = wrong[rng.randrange(len(wrong))]
            module = f"{variant['module']}.py"
            text = source[module]
            for old, new in variant["replace"]:
                text = text.replace(old, new)
            _write(folder, name, {**key, module: text}, ("dir", "zip")[index % 2])
        else:
            good = io.BytesIO()
            with zipfile.ZipFile(good, "w") as archive:
                for module, text in key.items():
                    archive.writestr(f"hw1/{module}", text)
            data = good.getvalue()
            (folder / f"{name}.zip").write_bytes(data[: len(data) // 2] if index % 2 else os.urandom(512))
    return {kind: kinds.count(kind) for kind in dict.fromkeys(kinds)}


def _variants() -> list[dict]:
    variants = []
    for path in sorted((ROOT / "tests" / "assignments" / "hw1").glob("*_variants.py")):
        variants += importlib.import_module(f"tests.assignments.hw1.{path.stem}").VARIANTS
    return variants


def _write(folder: Path, name: str, modules: dict[str, str], form: str) -> None:
    if form == "dir":
        (folder / name).mkdir()
        for module, text in modules.items():
            (folder / name / module).write_text(text)
    else:
        with zipfile.ZipFile(folder / f"{name}.zip", "w") as archive:
            for module, text in modules.items():
                archive.writestr(f"{name}/{module}", text)


# -- timing ---------------------------------------------------------------------------


CPU: list[float] = []  # CPU seconds of each command timed by wall(), its descendants included
TREE = TreeCpu()


def wall(command: list[str], cwd: Path = ROOT) -> float:
    """Wall seconds of a command; its CPU seconds (all processes under it) go to CPU."""
    before = _cpu_seconds()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stdout[-3000:]}")
    elapsed = time.perf_counter() - start
    CPU.append(_cpu_seconds() - before)
    return elapsed


def _cpu_seconds() -> float:
    """This process's tree, killed sandboxes included (a cgroup); else the children waited for."""
    if TREE.ok:
        return TREE.seconds()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def batch_wall(submissions: Path, out: Path, jobs: int, config: Path, assignment: str = "hw1") -> float:
    return wall([sys.executable, "-m", "autograder", "--config", str(config), "batch", assignment, str(submissions),
                 "--out", str(out), "--jobs", str(jobs)])


def plain_compute(config: Path, repeat: int = 4) -> tuple[float, float]:
    """The tests on the solution key in one warm process, student code imported directly, on the
    sandbox's number of torch threads: (wall, CPU)."""
    key, tests = config.parent / "solutions" / "hw1", config.parent / "assignments" / "hw1" / "tests"
    threads = load_config(config).assignment("hw1").sandbox.threads or resources.available_cores()
    script = textwrap.dedent(f"""
        import json, os, sys, time
        import pytest, torch
        import plain_plugin
        times, cpu, codes = [], [], []
        for _ in range({repeat}):
            start, start_cpu = time.perf_counter(), time.process_time()
            code = pytest.main(["-p", "no:cacheprovider", "-p", "no:terminal", "--import-mode=importlib",
                                "--rootdir", {str(tests)!r}, "-c", os.devnull, {str(tests / "public")!r},
                                {str(tests / "hidden")!r}], plugins=[plain_plugin])
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            codes.append(int(code))
        print(json.dumps([times, cpu, codes]))
        """)
    env = {**os.environ, "PLAIN_MODULES": str(key), "PYTHONPATH": str(ROOT / "benchmarks"),
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PLAIN_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    times, cpu, codes = json.loads(done.stdout.strip().splitlines()[-1])
    if any(codes):  # the tests share one process here, so state one test leaves can fail another
        print(f"  note: some tests failed in the plain process (pytest exit codes {codes}); timed all the same")
    return statistics.median(times[1:]), statistics.median(cpu[1:])  # the first run pays for imports


def speed_up(scratch: Path, config: Path, count: int) -> tuple[float, float, float, dict[str, int]]:
    """Walls with --jobs 1 and --jobs 2, and the CPU seconds per submission (of the --jobs 1 run)."""
    mix = generate(scratch / "hundred", config, count)
    one = batch_wall(scratch / "hundred", scratch / "out-jobs1", jobs=1, config=config)
    cpu = CPU[-1] / count
    two = batch_wall(scratch / "hundred", scratch / "out-jobs2", jobs=2, config=config)
    first = (scratch / "out-jobs1" / "gradebook.csv").read_text().splitlines()
    second = (scratch / "out-jobs2" / "gradebook.csv").read_text().splitlines()
    if first != second:
        print("warning: the two gradebooks differ (they should not):")
        for line in difflib.unified_diff(first, second, "--jobs 1", "--jobs 2", n=0, lineterm=""):
            print("  " + line[:300])
    return one, two, cpu, mix


def overhead(scratch: Path, config: Path, small: int, large: int) -> dict[str, float]:
    """One more solution-key submission in a --jobs 1 batch (difference of two sizes), wall and CPU."""
    key = _modules(config.parent / "solutions" / "hw1", list(load_config(config).assignment("hw1").files))
    walls, cpus = [], []
    for size in (small, large):
        folder = scratch / f"keys{size}"
        folder.mkdir()
        for index in range(size):
            _write(folder, f"key{index:03d}", key, "dir")
        walls.append(batch_wall(folder, scratch / f"out-keys{size}", jobs=1, config=config))
        cpus.append(CPU[-1])
    plain_wall, plain_cpu = plain_compute(config)
    return {"marginal": (walls[1] - walls[0]) / (large - small), "average": walls[1] / large,
            "marginal_cpu": (cpus[1] - cpus[0]) / (large - small), "plain": plain_wall, "plain_cpu": plain_cpu}


# -- otter-grader ---------------------------------------------------------------------

Q1_KEY = '''
import math
import torch


def box_muller(u1, u2):
    """Two independent N(0, 1) samples from two uniforms."""
    r = torch.sqrt(-2.0 * torch.log(u1))
    theta = 2.0 * math.pi * u2
    return r * torch.cos(theta), r * torch.sin(theta)
'''
Q1_CHECK = ("import math, torch\n"
            "u1 = torch.tensor([1.0, 0.5, 0.25], dtype=torch.float64)\n"
            "u2 = torch.tensor([0.0, 0.25, 0.5], dtype=torch.float64)\n"
            "r = torch.sqrt(-2 * torch.log(u1))\n")
OTTER_TEST = {"name": "q1", "points": 1, "suites": [{"cases": [{"code": "\n".join(
    [">>> " + line for line in Q1_CHECK.splitlines()]
    + [">>> z1, z2 = box_muller(u1, u2)",
       ">>> bool(torch.allclose(z1, r * torch.cos(2 * math.pi * u2)) "
       "and torch.allclose(z2, r * torch.sin(2 * math.pi * u2)))", "True"]),
    "hidden": False, "locked": False}], "scored": True, "setup": "", "teardown": "", "type": "doctest"}]}
OURS_TEST = f'''
import pytest


@pytest.mark.points(1)
def test_box_muller(student):
    """box_muller maps (u1, u2) to (r cos 2 pi u2, r sin 2 pi u2)."""
{textwrap.indent(Q1_CHECK, "    ")}
    z1, z2 = student.q1.box_muller(u1, u2)
    assert torch.allclose(z1, r * torch.cos(2 * math.pi * u2)) and torch.allclose(z2, r * torch.sin(2 * math.pi * u2))
'''


def one_question(scratch: Path) -> tuple[Path, Path, list[Path]]:
    """The same one-question assignment for both graders: otter's autograder.zip, our course, submissions."""
    otter_zip = scratch / "autograder.zip"
    with zipfile.ZipFile(otter_zip, "w") as archive:
        archive.writestr("otter_config.json", json.dumps({"lang": "python"}))
        archive.writestr("tests/q1.py", "OK_FORMAT = True\n\ntest = " + repr(OTTER_TEST) + "\n")
    course = scratch / "course"
    (course / "assignments" / "q1" / "tests" / "public").mkdir(parents=True)
    (course / "assignments" / "q1" / "tests" / "public" / "test_q1.py").write_text(OURS_TEST)
    (course / "solutions" / "q1").mkdir(parents=True)
    (course / "solutions" / "q1" / "q1.py").write_text(Q1_KEY)
    (course / "grading.toml").write_text('[course]\nname = "bench"\n[assignments.q1]\nsource = "assignments/q1"\n'
                                         'files = ["q1.py"]\npoints = 1\n')
    submissions = []
    for index in range(6):
        folder = scratch / "q1-submissions" / f"s{index}"
        folder.mkdir(parents=True)
        code = Q1_KEY if index % 2 == 0 else Q1_KEY.replace("2.0 * math.pi", "math.pi")
        (folder / "q1.py").write_text(code)
        submissions.append(folder / "q1.py")
    return otter_zip, course / "grading.toml", submissions


def otter_side_by_side(scratch: Path) -> dict[str, float]:
    otter_zip, config, submissions = one_question(scratch)
    otter_times, our_times, otter_cpu, our_cpu = [], [], [], []
    for submission in submissions:
        out = submission.parent / "otter-out"
        out.mkdir()
        otter_times.append(wall([str(OTTER), "run", "-a", str(otter_zip), "-o", str(out), "--no-logo",
                                 str(submission)], cwd=submission.parent))
        otter_cpu.append(CPU[-1])
        our_times.append(wall([sys.executable, "-m", "autograder", "--config", str(config), "grade", "q1",
                               str(submission), "--out", str(submission.parent / "ours.json")]))
        our_cpu.append(CPU[-1])
        expected = 1.0 if submissions.index(submission) % 2 == 0 else 0.0
        ours = json.loads((submission.parent / "ours.json").read_text())["score"]
        theirs = sum(t.get("score", 0) or 0 for t in json.loads((out / "results.json").read_text())["tests"])
        if ours != expected or theirs != expected:
            print(f"warning: {submission.parent.name}: otter {theirs}, autograder {ours}, expected {expected}")
    in_batch = batch_wall(submissions[0].parents[1], scratch / "q1-batch", jobs=1, config=config, assignment="q1")
    return {"otter": statistics.median(otter_times), "ours": statistics.median(our_times),
            "otter_cpu": statistics.median(otter_cpu), "ours_cpu": statistics.median(our_cpu),
            "in_batch": in_batch / len(submissions)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--keys", type=int, nargs=2, default=(10, 30), metavar=("SMALL", "LARGE"),
                        help="batch sizes of solution-key copies whose difference gives the overhead")
    parser.add_argument("--part", choices=("all", *PARTS), default="all", help="grade all of hw1 or one part")
    parser.add_argument("--skip-speed-up", action="store_true", help="only the overhead and otter figures")
    parser.add_argument("--skip-otter", action="store_true")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    print(f"machine: {cores} cores, load average {os.getloadavg()[0]:.1f} at the start; CPU seconds from "
          + (TREE.kind if TREE.ok else "getrusage: killed sandboxes are not counted (needs root and a cgroup)"))
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as name:
        scratch = Path(name)
        config = frozen_course(scratch, args.part)
        if args.skip_speed_up:
            print("1. speed-up: skipped (--skip-speed-up)")
        else:
            one, two, cpu, mix = speed_up(scratch, config, args.count)
            print(f"{args.count} hw1 ({args.part}) submissions ({', '.join(f'{n} {k}' for k, n in mix.items())}):")
            print(f"  --jobs 1: {one:7.1f} s wall  ({one / args.count:.2f} s per submission; "
                  f"{cpu:.2f} CPU-s per submission)")
            print(f"  --jobs 2: {two:7.1f} s wall  ({two / args.count:.2f} s per submission)")
            print(f"1. speed-up, --jobs 2 over --jobs 1:          {one / two:5.2f}x  (target >= 1.7 on 2 cores)")
        small, large = args.keys
        cost = overhead(scratch, config, small, large)
        print(f"  solution key, one more submission in a --jobs 1 batch: {cost['marginal']:.2f} s wall, "
              f"{cost['marginal_cpu']:.2f} CPU-s (all-in average over {large}: {cost['average']:.2f} s)")
        print(f"  the same tests in a warm plain process:                {cost['plain']:.2f} s wall, "
              f"{cost['plain_cpu']:.2f} CPU-s")
        print(f"2. per-submission overhead above the tests' compute: {cost['marginal'] - cost['plain']:5.2f} s wall"
              f" (target < 1 s); {cost['marginal_cpu'] - cost['plain_cpu']:.2f} CPU-s")
        if args.skip_otter:
            print("3. otter-grader: skipped (--skip-otter)")
        elif not OTTER.exists():
            print(f"3. otter-grader: not installed at {OTTER}: run benchmarks/otter/setup.sh")
        else:
            side = otter_side_by_side(scratch)
            print(f"  one question, per submission: `otter run` {side['otter']:.2f} s wall, {side['otter_cpu']:.2f} "
                  f"CPU-s; `autograder grade` {side['ours']:.2f} s wall, {side['ours_cpu']:.2f} CPU-s "
                  f"(in a --jobs 1 batch: {side['in_batch']:.2f} s wall)")
            print(f"3. otter run / autograder grade, per submission: {side['otter'] / side['ours']:5.2f}x wall, "
                  f"{side['otter_cpu'] / side['ours_cpu']:.2f}x CPU")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
