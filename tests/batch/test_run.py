"""autograder batch end to end: a mixed folder, resume after SIGKILL, regrade of some tests, crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.batch import pool, run_batch
from autograder.batch.export import METADATA
from autograder.errors import ExitCode
from tests.batch.conftest import KEY, MIXED, read_gradebook, toy_course, write_mixed
from tests.conftest import write_files

REPO = Path(__file__).resolve().parents[2]


def test_mixed_batch_every_row(mixed_batch, check_results):
    course, submissions, out = mixed_batch
    book = read_gradebook(out / "gradebook.csv")
    assert sorted(book) == sorted(MIXED)
    header = (out / "gradebook.csv").read_text().splitlines()[0].split(",")
    assert header == ["student", "submission", "status", "reason", "total", "max_score",
                      "test_double", "test_square", "test_double_hidden", "identical_group"]
    for student, (status, total, scores, reason, group) in MIXED.items():
        row = book[student]
        assert row["status"] == status, (student, row)
        assert float(row["total"]) == total, (student, row)
        assert float(row["max_score"]) == 4
        for test, score in scores.items():
            assert float(row[test]) == score, (student, test, row)
        assert reason in row["reason"], (student, row["reason"])
        if status == "graded":
            assert row["reason"] == ""
        assert row["identical_group"] == group, (student, row)
        results = check_results(out / "results" / f"{student}.json")
        assert results["extra_data"]["batch"]["student"] == student
        for suffix in (".md", ".html"):
            assert (out / "feedback" / f"{student}{suffix}").is_file()
    assert book["good_nb"]["submission"] == "good_nb.ipynb"


def test_rerun_skips_finished_and_gives_the_same_gradebook(mixed_batch, capsys):
    course, submissions, out = mixed_batch
    before = (out / "gradebook.csv").read_bytes()
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()}
    assert run_batch(course, course.assignment("toy"), submissions, out=out, jobs=2) == ExitCode.OK
    assert "9 already graded" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()} == stamps
    assert (out / "gradebook.csv").read_bytes() == before


def test_feedback_says_what_failed(mixed_batch):
    _, _, out = mixed_batch
    text = (out / "feedback" / "wrong.md").read_text()
    assert "**Score: 1 / 4** (graded)" in text
    assert "double(x) must return 2 * x" in text
    page = (out / "feedback" / "slow.html").read_text()
    assert "timed out after 2 s" in page and "<table>" in page
    assert "not a readable zip file" in (out / "feedback" / "broken.md").read_text()


def _batch_command(course, submissions: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "autograder", "--config", str(course.root / "grading.toml"), "batch", "toy",
            str(submissions), "--out", str(out), "--jobs", "2", *extra]


def _live_workers(batch_pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                words = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(b"autograder.batch.worker" in w for w in words) and str(batch_pid).encode() in words:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_uninterrupted_gradebook(tmp_path):
    course = toy_course(tmp_path / "course")
    submissions = tmp_path / "submissions"
    for index in range(5):
        variant = KEY if index % 3 else KEY.replace("return 2 * x", "return 3 * x")
        write_files(submissions / f"student{index}", {"mathy.py": variant + f"\n# {index}\n"})
    (submissions / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    batch = subprocess.Popen(_batch_command(course, submissions, killed), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((killed / "results").glob("*.json"))) < 2:
        assert batch.poll() is None, "the batch finished before it could be killed"
        time.sleep(0.05)
    batch.send_signal(signal.SIGKILL)
    batch.wait()
    graded_before = {p.name for p in (killed / "results").glob("*.json")}
    assert 2 <= len(graded_before) < 6
    assert not (killed / "gradebook.csv").exists()
    time.sleep(0.5)
    assert _live_workers(batch.pid) == [], "workers outlived the batch"

    resumed = subprocess.run(_batch_command(course, submissions, killed), capture_output=True, text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(graded_before)} already graded" in resumed.stdout
    full = subprocess.run(_batch_command(course, submissions, whole), capture_output=True, text=True, env=env)
    assert full.returncode == 0, full.stderr
    assert (killed / "gradebook.csv").read_bytes() == (whole / "gradebook.csv").read_bytes()
    book = read_gradebook(whole / "gradebook.csv")
    assert [row["status"] for row in book.values()].count("graded") == 5
    assert book["broken"]["status"] == "invalid submission"


def _export(path: Path, folders: dict[str, str], metadata: str) -> Path:
    """An export zip as Gradescope's "Export Submissions" lays it out."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"assignment_4242_export/{METADATA}", metadata)
        for folder, code in folders.items():
            archive.writestr(f"assignment_4242_export/{folder}/mathy.py", code)
    return path


EXPORT_METADATA = """---
submission_1001:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1815'
    :email: ada@example.edu
  :created_at: 2025-02-03 21:14:07.412000000 -08:00
  :score: 4.0
  :results:
    score: 4.0
    tests:
    - name: 'public/test_toy.py::test_double'
      output: |-
        double(x) returns 2 x.

        - not a key: at this indentation
submission_1002:
  :submitters:
  - :name: "Grace \\"Amazing\\" Hopper"
    :sid: '1906'
    :email: grace@example.edu
  - :name: Alan Turing
    :sid: '1912'
    :email: alan@example.edu
  :created_at: 2025-02-04 09:00:00.000000000 -08:00
  :score: 1.0
  :history: []
"""


@pytest.mark.slow
def test_export_then_regrade_some_tests(tmp_path, capsys):
    course = toy_course(tmp_path / "course")
    export = _export(tmp_path / "export.zip", {
        "submission_1001": KEY, "submission_1002": KEY.replace("return 2 * x", "return 2.0 * x + 0"),
        "submission_1003": KEY.replace("return x * x", "return x ** 3"),
    }, EXPORT_METADATA)
    out = tmp_path / "out"
    assert run_batch(course, course.assignment("toy"), export, out=out, jobs=2) == ExitCode.OK
    book = read_gradebook(out / "gradebook.csv")
    assert list(book) == ["1815", "1906", "submission_1003"]
    assert book["1906"]["name"] == 'Grace "Amazing" Hopper; Alan Turing'
    assert book["1906"]["email"] == "grace@example.edu; alan@example.edu"
    assert book["1815"]["submission"] == "submission_1001"
    assert "submission_1003: not in submission_metadata.yml" in capsys.readouterr().out
    assert [book[s]["test_square"] for s in book] == ["1", "1", "0"]

    # The TA finds test_square too strict (cubes should pass, say) and fixes it: only it is regraded.
    tests = course.root / "assignments" / "toy" / "tests" / "public" / "test_toy.py"
    tests.write_text(tests.read_text().replace("torch.equal(got, x * x)", "got.shape == x.shape"))
    stamps = {s: json.loads((out / "results" / f"{s}.json").read_text()) for s in book}
    assert run_batch(course, course.assignment("toy"), export, out=out, jobs=2, tests=["test_square"]) == ExitCode.OK
    assert "regrading tests matching test_square in 3" in capsys.readouterr().out
    after = read_gradebook(out / "gradebook.csv")
    assert [after[s]["test_square"] for s in after] == ["1", "1", "1"]
    assert after["submission_1003"]["total"] == "4"
    for student, old in stamps.items():
        new = json.loads((out / "results" / f"{student}.json").read_text())
        assert [t["name"] for t in new["tests"]] == [t["name"] for t in old["tests"]]
        unchanged = [(t["name"], t["score"], t["output"]) for t in new["tests"] if "test_square" not in t["name"]]
        assert unchanged == [(t["name"], t["score"], t["output"]) for t in old["tests"]
                             if "test_square" not in t["name"]]
        assert new["extra_data"]["batch"]["regraded"] == ["public/test_toy.py::test_square"]
        assert new["score"] == sum(t["score"] for t in new["tests"])


FAKE_WORKER = REPO / "tests" / "batch" / "fake_worker.py"


def test_a_worker_crash_is_a_row_and_the_batch_goes_on(tmp_path, monkeypatch, capsys):
    course = toy_course(tmp_path / "course")
    submissions = tmp_path / "submissions"
    for name in ("alice", "bob", "crasher", "dave"):
        write_files(submissions / name, {"mathy.py": KEY})
    monkeypatch.setattr(pool, "WORKER", [sys.executable, "-I", str(FAKE_WORKER)])
    out = tmp_path / "out"
    assert run_batch(course, course.assignment("toy"), submissions, out=out, jobs=2) == ExitCode.OK
    book = read_gradebook(out / "gradebook.csv")
    assert [book[s]["status"] for s in sorted(book)] == ["graded", "graded", "crashed", "graded"]
    assert "killed by SIGKILL" in book["crasher"]["reason"]
    assert "trying once more on a fresh worker" in capsys.readouterr().err
    crashed = json.loads((out / "results" / "crasher.json").read_text())
    assert crashed["extra_data"]["batch"]["final"] is False  # the next run tries it again
    monkeypatch.setattr(pool, "WORKER", [sys.executable, "-I", str(FAKE_WORKER), "--no-crash"])
    assert run_batch(course, course.assignment("toy"), submissions, out=out, jobs=2) == ExitCode.OK
    assert "1 to grade, 3 already graded" in capsys.readouterr().out
    assert read_gradebook(out / "gradebook.csv")["crasher"]["status"] == "graded"


def test_a_hung_worker_is_stopped_at_the_hard_limit(tmp_path):
    from autograder.batch.submissions import Submission
    from autograder.batch.worker import Job, WorkerSettings

    course = toy_course(tmp_path / "course")
    settings = WorkerSettings(course=course, assignment=course.assignment("toy"), results_dir=tmp_path / "results",
                              solution_dir=None)
    jobs = [Job(Submission(student=name, path=tmp_path, name=name)) for name in ("hang", "ok")]
    done, crashed = [], []
    workers = pool.Pool(size=1, settings=lambda slot: settings, log_dir=tmp_path / "logs", hard_limit=1.5,
                        command=[sys.executable, "-I", str(FAKE_WORKER)])
    start = time.monotonic()
    workers.run(jobs, pool.PoolEvents(on_done=lambda job, s: done.append(job.submission.student),
                                      on_crash=lambda job, reason: crashed.append((job.submission.student, reason))))
    assert done == ["ok"]
    assert crashed == [("hang", "grading did not finish within 1.5 s and was stopped")]
    assert time.monotonic() - start < 30


def test_no_submissions_is_a_usage_error(tmp_path):
    course = toy_course(tmp_path / "course")
    (tmp_path / "empty").mkdir()
    from autograder.batch.submissions import BatchError

    with pytest.raises(BatchError, match="no submissions found"):
        run_batch(course, course.assignment("toy"), tmp_path / "empty", out=tmp_path / "out")


def test_a_test_name_that_matches_nothing_is_refused(mixed_batch):
    from autograder.batch.submissions import BatchError

    course, submissions, out = mixed_batch
    with pytest.raises(BatchError, match=r"--tests test_sqare: no test .* matches \(tests: test_double, "):
        run_batch(course, course.assignment("toy"), submissions, out=out, tests=["test_sqare"])


def test_worker_count():
    from autograder.batch.run import cores, worker_count
    from autograder.batch.submissions import BatchError
    from autograder.errors import GraderError

    assert worker_count(0, "cpu", 100) == cores()
    assert worker_count(3, "cpu", 2) == 2  # never more workers than submissions to grade
    with pytest.raises(BatchError):
        worker_count(-1, "cpu", 5)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(GraderError, match="no CUDA device"):
            worker_count(0, "cuda", 5)
    else:
        assert worker_count(64, "cuda", 100) == torch.cuda.device_count()  # one submission per GPU
