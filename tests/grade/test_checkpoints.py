"""Graded checkpoints: weights read without unpickling, score windows, tests left out where unconfigured,
and a fresh sandbox between the parts of a test."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from autograder.config import CheckpointConfig
from autograder.errors import ConfigError, SubmissionError
from autograder.grade import grade
from autograder.grade.checkpoints import read_weights
from tests.conftest import Hostile, make_course, write_files

# --- reading weights -------------------------------------------------------------------------


def _state() -> dict[str, torch.Tensor]:
    return {"weight": torch.arange(6, dtype=torch.float32).view(2, 3), "bias": torch.ones(2, dtype=torch.float64)}


def test_safetensors_and_torch_state_dicts_are_read(tmp_path):
    save_file(_state(), tmp_path / "a.safetensors")
    torch.save(_state(), tmp_path / "a.pt")
    for name in ("a.safetensors", "a.pt"):
        weights = read_weights(tmp_path / name)
        assert set(weights) == {"weight", "bias"}
        assert torch.equal(weights["weight"], _state()["weight"]) and weights["bias"].dtype == torch.float64


def test_a_hostile_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "ran"
    with open(tmp_path / "model.pt", "wb") as f:
        pickle.dump({"weight": Hostile(marker)}, f)
    torch.save({"weight": Hostile(marker)}, tmp_path / "zipped.pt")  # torch's zip container
    for name in ("model.pt", "zipped.pt"):
        with pytest.raises(SubmissionError, match="refused without being run"):
            read_weights(tmp_path / name)
    assert not marker.exists()


def test_a_whole_pickled_model_is_refused_with_the_way_to_save_it(tmp_path):
    torch.save(torch.nn.Linear(3, 2), tmp_path / "model.pt")
    with pytest.raises(SubmissionError, match=r"state_dict\(\)"):
        read_weights(tmp_path / "model.pt")


def test_damaged_files_are_clear_errors(tmp_path):
    (tmp_path / "w.safetensors").write_bytes(b"\xff" * 8 + b"{}")
    (tmp_path / "w.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(SubmissionError, match=r"w\.safetensors: not a readable safetensors file"):
        read_weights(tmp_path / "w.safetensors")
    with pytest.raises(SubmissionError, match=r"w\.pt was refused without being run: .*Unsupported operand"):
        read_weights(tmp_path / "w.pt")


def test_other_contents_and_links_are_refused(tmp_path):
    torch.save([torch.ones(2)], tmp_path / "list.pt")
    torch.save({"w": 3}, tmp_path / "number.pt")
    torch.save({}, tmp_path / "empty.pt")
    (tmp_path / "w.npz").write_bytes(b"PK")
    os.symlink(tmp_path / "list.pt", tmp_path / "link.pt")
    for name, message in [("list.pt", "not a state_dict"), ("number.pt", "not a tensor"), ("empty.pt", "no tensors"),
                          ("w.npz", ".safetensors, .pt or .pth"), ("link.pt", "not a regular file"),
                          ("absent.pt", "missing")]:
        with pytest.raises(SubmissionError, match=message):
            read_weights(tmp_path / name)


# --- windows and configuration ---------------------------------------------------------------


def test_windows_work_both_ways():
    lower = CheckpointConfig(name="nll", files=("a.pt",), points=10, full=80.0, zero=100.0)
    higher = CheckpointConfig(name="score", files=("a.pt",), points=10, full=8.0, zero=2.0)
    assert [lower.fraction(v) for v in (70.0, 80.0, 90.0, 100.0, 130.0, float("nan"))] == [1, 1, 0.5, 0, 0, 0]
    assert [higher.fraction(v) for v in (9.0, 8.0, 5.0, 2.0, 1.0)] == [1, 1, 0.5, 0, 0]


@pytest.mark.parametrize("table, message", [
    ('files = ["w.pkl"]\npoints = 1\nfull = 1\nzero = 2', r"checkpoints\.net\.files"),
    ('files = ["w.pt"]\npoints = 1\nfull = 1\nzero = 1', "must be different"),
    ('files = ["w.pt"]\npoints = 0\nfull = 1\nzero = 2', r"checkpoints\.net\.points"),
    ('files = ["w.pt"]\npoints = 1\nfull = 1\nzero = 2\nwindow = 3', r"checkpoints\.net\.window: unknown key"),
    ('files = ["w.pt"]\npoints = 1\nfull = 1', r"checkpoints\.net\.zero: missing"),
])
def test_bad_checkpoint_settings_name_the_key(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message):
        make_course(tmp_path, files=("net.py",), public={"test_net.py": "\n"},
                    settings=f"[assignments.toy.checkpoints.net]\n{table}\n")


# --- end to end ------------------------------------------------------------------------------

NET = """
import torch

class Line(torch.nn.Module):
    '''y = w * x + b.'''

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.b = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.w * x + self.b

def remember(text):
    with open('/tmp/remembered', 'w') as f:
        f.write(text)

def recall():
    try:
        with open('/tmp/remembered') as f:
            return f.read()
    except FileNotFoundError:
        return ''
"""

HIDDEN = {"test_net_hidden.py": """
    import pytest, torch

    @pytest.mark.points(1)
    def test_fresh_sandbox_forgets(student):
        '''Files written before fresh_sandbox() are gone after it.'''
        student.net.remember('x')
        assert student.net.recall() == 'x'
        student.fresh_sandbox()
        assert student.net.recall() == ''

    @pytest.mark.checkpoint("line")
    def test_line_fits(student, checkpoint, credit):
        '''The trained line's mean squared error on the grader's data.'''
        data = torch.load(checkpoint.data, weights_only=True)
        model = student.net.Line()
        model.load_state_dict(checkpoint.weights())
        prediction = model(data["x"])
        mse = float(((prediction.detach() - data["y"]) ** 2).mean())
        checkpoint.award(credit, mse, "mean squared error")
    """}


@pytest.fixture
def line_course(tmp_path):
    settings = """
        [assignments.toy.checkpoints.line]
        files = ["line.safetensors", "line.pt"]
        points = 4
        full = 0.01
        zero = 1.01
        data = "eval.pt"
        """
    root = tmp_path / "course"
    root.mkdir()
    x = torch.linspace(-1, 1, 21)
    torch.save({"x": x, "y": 3 * x + 1}, root / "eval.pt")  # the grader's data: y = 3 x + 1
    return make_course(root, files=("net.py",), hidden=HIDDEN, solution={"net.py": NET}, settings=settings)


def _grade(course, folder, tmp_path):
    out = tmp_path / "results.json"
    results = grade(course.assignment("toy"), folder, out=out, solution_dir=course.root / "solutions" / "toy")
    return results, {t["name"].split("::")[1]: t for t in json.loads(out.read_text())["tests"]}


@pytest.mark.parametrize("w, b, score", [(3.0, 1.0, 4.0), (3.0, 1.5, 3.04), (0.0, 0.0, 0.0)])  # mse 0, 0.25, 4
def test_weights_score_by_the_window(line_course, tmp_path, check_results, w, b, score):
    folder = tmp_path / "submission"
    write_files(folder, {"net.py": NET})
    save_file({"w": torch.tensor([w]), "b": torch.tensor([b])}, folder / "line.safetensors")
    results, tests = _grade(line_course, folder, tmp_path)
    check_results(tmp_path / "results.json")
    assert tests["test_fresh_sandbox_forgets"]["score"] == 1
    line = tests["test_line_fits"]
    assert line["max_score"] == 4 and line["score"] == pytest.approx(score)
    assert "mean squared error" in line["output"] and "full marks at or below 0.01" in line["output"]


def test_missing_or_hostile_weights_earn_nothing(line_course, tmp_path):
    folder = tmp_path / "submission"
    write_files(folder, {"net.py": NET})
    results, tests = _grade(line_course, folder, tmp_path)
    assert tests["test_line_fits"]["score"] == 0
    assert "hand in line.safetensors or line.pt" in tests["test_line_fits"]["output"]

    marker = tmp_path / "ran"
    with open(folder / "line.pt", "wb") as f:
        pickle.dump({"w": Hostile(marker)}, f)
    results, tests = _grade(line_course, folder, tmp_path)
    assert tests["test_line_fits"]["score"] == 0 and "refused without being run" in tests["test_line_fits"]["output"]
    assert not marker.exists()


def test_unconfigured_checkpoints_are_left_out(tmp_path):
    course = make_course(tmp_path / "course", files=("net.py",), hidden=HIDDEN, solution={"net.py": NET})
    folder = tmp_path / "submission"
    write_files(folder, {"net.py": NET})
    results, tests = _grade(course, folder, tmp_path)
    assert list(tests) == ["test_fresh_sandbox_forgets"] and results.max_score == 1
