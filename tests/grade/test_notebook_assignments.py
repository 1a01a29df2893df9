"""Notebook assignments: a handed-in notebook runs top to bottom once, in the sandbox's loader,
and the tests query what it defined and computed (``student.<module>``)."""

from __future__ import annotations

import json

import nbformat
import pytest

from autograder.grade import grade
from tests.conftest import make_course, write_files


def notebook(*cells: str, markdown: str = "Answer the questions below.") -> str:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell(markdown)] + [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(book)


KEY = notebook(
    "import otter\ngrader = otter.Notebook('ps-1.ipynb')",
    "def square(x):\n    return x * x",
    "nine = square(3)\ngrader.check('q1')",
    "import torch\ndraw = torch.rand(3)",
)

TESTS = {"test_ps.py": """
    import pytest

    @pytest.mark.points(1)
    def test_square(student):
        assert student.ps_1.square(4) == 16

    @pytest.mark.points(1)
    def test_top_level_answer(student):
        assert student.ps_1.nine == 9

    @pytest.mark.points(1)
    def test_seeded_draw(student, solution):
        assert student.ps_1.draw.tolist() == solution.ps_1.draw.tolist()
    """}


def course(tmp_path, *, seed: int | None = 7, test_time_limit: float = 20):
    settings = f"test_time_limit = {test_time_limit}\n" + (f"seed = {seed}\n" if seed is not None else "")
    return make_course(tmp_path / "course", files=("ps-1.ipynb",), public=TESTS, solution={"ps-1.ipynb": KEY},
                       settings=settings)


def graded(tmp_path, cells: str | None, check_results, **settings):
    config = course(tmp_path, **settings)
    folder = tmp_path / "submission"
    write_files(folder, {"ps-1.ipynb": cells} if cells is not None else {"other.txt": "x"})
    out = tmp_path / "results.json"
    results = grade(config.assignment("toy"), folder, out=out, solution_dir=config.root / "solutions" / "toy")
    check_results(out)
    return results, {t.name.split("::")[1]: t for t in results.tests}


def test_the_key_notebook_scores_full_marks_with_otter_calls_made_harmless(tmp_path, check_results):
    results, _ = graded(tmp_path, KEY, check_results)
    assert results.score == results.max_score == 3, [t.output for t in results.tests]


def test_every_cell_runs_from_the_seed_so_random_answers_can_be_compared(tmp_path, check_results):
    """Without the seed the notebook's draw differs from the key's; with it, it is the key's."""
    _, seeded = graded(tmp_path / "seeded", KEY, check_results)
    _, unseeded = graded(tmp_path / "unseeded", KEY, check_results, seed=None)
    assert seeded["test_seeded_draw"].passed and not unseeded["test_seeded_draw"].passed


def test_a_cell_that_raises_is_reported_and_the_cells_after_it_still_run(tmp_path, check_results):
    cells = notebook("def square(x):\n    return x * x", "1 / 0",
                     "!pip install nothing\n%time nine = 9\nnine = square(3)")
    results, tests = graded(tmp_path, cells, check_results)
    assert tests["test_square"].passed and tests["test_top_level_answer"].passed
    assert "ps-1.ipynb: cell 2 raised ZeroDivisionError" in results.output


def test_a_cell_that_hangs_is_stopped_at_the_cell_limit_and_the_notebook_goes_on(tmp_path, check_results):
    cells = notebook("def square(x):\n    return x * x", "while True:\n    pass", "nine = square(3)")
    results, tests = graded(tmp_path, cells, check_results, test_time_limit=3)
    assert tests["test_square"].passed and tests["test_top_level_answer"].passed
    assert "ps-1.ipynb: cell 2 did not finish within 3 s" in results.output
    assert results.execution_time < 30


def test_a_notebook_that_ignores_the_cell_limit_costs_one_load_limit_and_later_tests_say_not_run(
        tmp_path, check_results):
    """A cell that catches the cell's time-out and goes on looping is stopped by the loader's limit."""
    cells = notebook("import time\nwhile True:\n    try:\n        time.sleep(100)\n    except BaseException:\n        pass")
    results, tests = graded(tmp_path, cells, check_results, test_time_limit=3)
    first, *rest = [tests[name] for name in ("test_square", "test_top_level_answer", "test_seeded_draw")]
    assert first.output == "cell 1 of ps-1.ipynb did not finish within 3 s"
    assert all(t.output == f"not run: {first.output}" for t in rest), [t.output for t in rest]
    assert results.score == 0 and results.execution_time < 30


def test_a_notebook_that_is_not_json_is_an_invalid_submission_naming_it(tmp_path, check_results):
    results, _ = graded(tmp_path, "{not json", check_results)
    assert results.status == "invalid submission" and "ps-1.ipynb: not a valid notebook" in results.output


def test_a_missing_notebook_is_named_in_each_test(tmp_path, check_results):
    results, tests = graded(tmp_path, None, check_results)
    assert results.score == 0
    assert all("ps-1.ipynb is missing from your submission" in t.output for t in tests.values()), \
        [t.output for t in tests.values()]


def test_files_may_name_notebooks_and_hyphens_but_not_two_files_of_one_module(tmp_path):
    from autograder.errors import ConfigError

    for folder in ("clash", "ok"):
        (tmp_path / folder / "assignments" / "toy").mkdir(parents=True)
    with pytest.raises(ConfigError, match="same module"):
        make_course(tmp_path / "clash", files=("ps-1.py", "ps_1.ipynb"))
    assert make_course(tmp_path / "ok", files=("ps-1.py", "gmm.ipynb")).assignment("toy").modules == {
        "ps_1": "ps-1.py", "gmm": "gmm.ipynb"}


def test_a_hyphenated_module_is_imported_by_its_underscore_name(tmp_path, check_results):
    config = make_course(tmp_path / "course", files=("ps-2.py",), solution={"ps-2.py": "def f():\n    return 1\n"},
                         public={"test_f.py": "import pytest\n\n@pytest.mark.points(1)\ndef test_f(student):\n"
                                              "    assert student.ps_2.f() == 1\n"})
    folder = tmp_path / "submission"
    write_files(folder, {"ps-2.py": "def f():\n    return 1\n"})
    results = grade(config.assignment("toy"), folder, out=tmp_path / "r.json")
    assert results.score == 1, [t.output for t in results.tests]
    assert "ps-2.py is imported by the tests as ps_2" in results.output
    assert json.loads((tmp_path / "r.json").read_text())["score"] == 1
