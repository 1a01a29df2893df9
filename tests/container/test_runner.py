"""Grading in containers on a real engine (Podman here): same scores as the local runner,
the container's confinement seen from inside, the host's time limit, failures still written."""

from __future__ import annotations

import json
import threading

import pytest

from autograder import cli
from autograder.config import load_config
from autograder.container import engine, grade_in_container, runner
from autograder.errors import GraderError
from autograder.grade import grade
from tests.conftest import REPO, make_course, write_files

pytestmark = [pytest.mark.container, pytest.mark.usefixtures("container_engine")]

COURSE = load_config(REPO / "grading.toml")


def _scores(results) -> dict[str, float]:
    return {t.name: t.score for t in results.tests}


@pytest.mark.slow
def test_hw1_key_full_marks_and_blank_zero_as_the_local_runner(tmp_path, check_results):
    """The acceptance check: two containers at once (threads), each scored like the local runner."""
    hw1 = COURSE.assignment("hw1")
    key, blank = REPO / "solutions" / "hw1", REPO / "student_release" / "hw1"
    found: dict[str, object] = {}

    def contain(name, submission):
        found[name] = grade_in_container(COURSE, hw1, submission, out=tmp_path / f"{name}.json")

    threads = [threading.Thread(target=contain, args=a) for a in (("key", key), ("blank", blank))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    local_key = grade(hw1, key, out=None, solution_dir=key)
    local_blank = grade(hw1, blank, out=None, solution_dir=key)

    assert found["key"].score == found["key"].max_score == hw1.points
    assert found["blank"].score == 0 and found["blank"].status == "graded"
    assert _scores(found["key"]) == _scores(local_key)
    assert _scores(found["blank"]) == _scores(local_blank)
    for name in ("key", "blank"):
        data = check_results(tmp_path / f"{name}.json")
        assert data["extra_data"]["runner"] == "container"
        assert "a container of its own (no network, read-only root" in data["output"]


PROBE = '''
import errno, os, socket

def attempt(what):
    """What happens when the student's code tries ``what`` (an errno name, or what it managed)."""
    try:
        if what == "uid":
            return "root" if os.getuid() == 0 or os.geteuid() == 0 else "unprivileged"
        if what == "list grading":
            return "listed " + ",".join(os.listdir("/grading"))
        if what == "read settings":
            return open("/grading/assignment.toml").read()[:20]
        if what == "write results":
            open("/results/results.json", "w").write("{}")
            return "wrote"
        if what == "write root":
            open("/usr/evil", "w").write("x")
            return "wrote"
        if what == "network":
            socket.create_connection(("10.0.0.1", 80), timeout=3)
            return "connected"
        if what == "kill the grader":
            os.kill(1, 9)
            return "killed"
        if what == "lock scratch":  # the grader must still clean up afterwards
            os.makedirs("junk/deeper", exist_ok=True)
            open("junk/deeper/file", "w").write("x")
            os.chmod("junk/deeper", 0)
            os.chmod("junk", 0o1000)
            os.chmod(".", 0o1000)
            return "locked"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc))
'''

PROBE_TESTS = {"test_probe.py": '''
    import pytest

    CASES = {
        "uid": {"unprivileged"},
        "list grading": {"EACCES"},
        "read settings": {"EACCES"},
        "write results": {"EACCES"},
        "write root": {"EROFS", "EACCES"},
        "network": {"ENETUNREACH", "EPERM"},  # EPERM: the seccomp filter refuses the socket itself
        "kill the grader": {"EPERM"},
        "lock scratch": {"locked"},
    }

    @pytest.mark.points(8)
    def test_confined(student):
        """Student code in the container cannot reach the grading material, results, network or grader."""
        got = {what: student.escape.attempt(what) for what in CASES}
        bad = {what: value for what, value in got.items() if value not in CASES[what]}
        assert not bad, f"escaped: {bad}"
    '''}


def test_student_code_is_confined_inside_the_container(tmp_path, check_results):
    course = make_course(tmp_path / "course", files=("escape.py",), public=PROBE_TESTS,
                         solution={"escape.py": PROBE})
    write_files(tmp_path / "submission", {"escape.py": PROBE})
    results = grade_in_container(course, course.assignment("toy"), tmp_path / "submission",
                                 out=tmp_path / "results.json")
    check_results(tmp_path / "results.json")
    assert results.score == 8, results.tests[0].output
    assert results.status == "graded"  # and the locked scratch folder did not break the cleanup


def test_host_kills_the_container_at_the_time_limit(tmp_path, monkeypatch, check_results):
    """A grader that never finishes (here: a test that sleeps) is killed from the host, then removed."""
    monkeypatch.setattr(runner, "START_MARGIN_S", 8.0)
    hang = {"test_hang.py": """
        import time, pytest

        @pytest.mark.points(1)
        def test_hang(student):
            time.sleep(600)
        """}
    course = make_course(tmp_path / "course", public=hang, solution={"mathy.py": "X = 1\n"}, settings="time_limit = 2\n")
    write_files(tmp_path / "submission", {"mathy.py": "X = 1\n"})
    results = grade_in_container(course, course.assignment("toy"), tmp_path / "submission", out=tmp_path / "r.json")
    data = check_results(tmp_path / "r.json")
    assert results.status == "timed out" and data["score"] == 0
    assert "time limit of 2 s" in data["output"]
    client = engine.connect()
    assert not client.containers.list(all=True, filters={"label": "autograder.assignment=toy"})


def test_grader_failure_inside_still_writes_results(tmp_path, check_results):
    broken = {"test_broken.py": "def test_x(:\n    pass\n"}
    course = make_course(tmp_path / "course", public=broken, solution={"mathy.py": "X = 1\n"})
    write_files(tmp_path / "submission", {"mathy.py": "X = 1\n"})
    with pytest.raises(GraderError, match="could not be collected"):
        grade_in_container(course, course.assignment("toy"), tmp_path / "submission", out=tmp_path / "r.json")
    data = check_results(tmp_path / "r.json")
    assert data["score"] == 0 and data["extra_data"]["status"] == "grader error"


def test_empty_submission_scores_zero_with_the_reason(tmp_path, check_results):
    (tmp_path / "empty").mkdir()
    hw1 = COURSE.assignment("hw1")
    results = grade_in_container(COURSE, hw1, tmp_path / "empty", out=tmp_path / "r.json", tests=["box_muller"])
    data = check_results(tmp_path / "r.json")
    assert results.status == "invalid submission" and data["score"] == 0
    assert "Invalid submission" in data["output"]


def test_missing_image_writes_results_and_says_how_to_build_it(tmp_path, check_results):
    hw1 = COURSE.assignment("hw1")
    with pytest.raises(GraderError, match="no image localhost/autograder-missing"):
        grade_in_container(COURSE, hw1, REPO / "solutions" / "hw1", out=tmp_path / "r.json",
                           image="localhost/autograder-missing:0")
    assert check_results(tmp_path / "r.json")["score"] == 0


def test_cli_grade_runner_container(tmp_path, capsys, check_results):
    out = tmp_path / "results.json"
    code = cli.main(["--config", str(REPO / "grading.toml"), "grade", "hw1", str(REPO / "solutions" / "hw1" / "sampling.py"),
                     "--runner", "container", "--out", str(out), "--tests", "box_muller"])
    assert code == 0
    data = check_results(out)
    chosen = [t for t in data["tests"] if "box_muller" in t["name"]]
    assert chosen and data["score"] == sum(t["max_score"] for t in chosen) > 0
    assert json.loads(out.read_text())["extra_data"]["runner"] == "container"
