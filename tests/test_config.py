"""grading.toml: read into frozen dataclasses; every bad key or value is a ConfigError naming it."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from autograder.config import (DEFAULT_RELEASE, AssignmentConfig, CourseConfig, SandboxLimits, Tolerance,
                               find_config, load_config)
from autograder.errors import ConfigError

GOOD = """
[course]
name = "Deep Generative Models"

[defaults]
time_limit = 600
test_time_limit = 20.5
release = ["*.py", "data/**"]

[defaults.tolerance.cpu]
rtol = 1e-4

[defaults.sandbox]
memory_mb = 2048
isolation = "rlimits"

[assignments.hw1]
title = "Sampling"
source = "assignments/hw1"
files = ["sampling.py"]
points = 10

[assignments.hw2]
source = "assignments/hw2"
files = ["flows.py", "coupling.py"]
points = 25.5
time_limit = 1200
release = ["*.ipynb"]

[assignments.hw2.tolerance.cpu]
atol = 1e-6

[assignments.hw2.tolerance.cuda]
rtol = 0.01
atol = 0

[assignments.hw2.sandbox]
processes = 8
threads = 2
reply_mb = 16.0
"""

MINIMAL = """
[assignments.hw1]
source = "assignments/hw1"
files = ["sampling.py"]
points = 10
"""


def write_course(root: Path, text: str, *, folders=("hw1", "hw2")) -> Path:
    for folder in folders:
        (root / "assignments" / folder).mkdir(parents=True, exist_ok=True)
    path = root / "grading.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def config_error(root: Path, text: str) -> ConfigError:
    path = write_course(root, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.path == str(path)
    return info.value


def test_a_good_file_gives_the_dataclasses_with_defaults_and_overrides(tmp_path):
    course = load_config(write_course(tmp_path, GOOD))
    assert isinstance(course, CourseConfig)
    assert course.name == "Deep Generative Models" and course.root == tmp_path.resolve()
    hw1, hw2 = course.assignments
    assert hw1 == course.assignment("hw1") and hw2 == course.assignment("hw2")

    assert hw1.id == "hw1" and hw1.title == "Sampling" and hw1.files == ("sampling.py",)
    assert hw1.source == (tmp_path / "assignments" / "hw1").resolve() and hw1.source.is_absolute()
    assert hw1.points == 10 and hw1.time_limit == 600 and hw1.test_time_limit == 20.5
    assert hw1.tolerances == {"cpu": Tolerance(rtol=1e-4, atol=1e-8), "cuda": Tolerance(rtol=1e-3, atol=1e-5)}
    assert hw1.sandbox == SandboxLimits(memory_mb=2048, isolation="rlimits")
    assert hw1.release == ("*.py", "data/**")
    assert hw1.public_tests == hw1.source / "tests" / "public"
    assert hw1.hidden_tests == hw1.source / "tests" / "hidden"

    assert hw2.title == "hw2" and hw2.files == ("flows.py", "coupling.py") and hw2.points == 25.5
    assert hw2.time_limit == 1200 and hw2.test_time_limit == 20.5
    assert hw2.tolerance("cpu") == Tolerance(rtol=1e-4, atol=1e-6)  # rtol inherited, atol overridden
    assert hw2.tolerance("cuda") == Tolerance(rtol=0.01, atol=0.0)
    assert hw2.sandbox == SandboxLimits(memory_mb=2048, isolation="rlimits", processes=8, threads=2, reply_mb=16)
    assert type(hw2.sandbox.reply_mb) is int
    assert hw2.release == ("*.ipynb",)


def test_built_in_defaults_apply_to_a_minimal_file(tmp_path):
    course = load_config(write_course(tmp_path, MINIMAL))
    (hw1,) = course.assignments
    assert course.name == "course"
    assert hw1.title == "hw1" and hw1.time_limit == 900 and hw1.test_time_limit == 60
    assert hw1.sandbox == SandboxLimits() and hw1.release == DEFAULT_RELEASE
    assert hw1.tolerance("cpu") == Tolerance(rtol=1e-5, atol=1e-8)


def test_the_dataclasses_are_frozen(tmp_path):
    course = load_config(write_course(tmp_path, GOOD))
    with pytest.raises(dataclasses.FrozenInstanceError):
        course.assignments[0].points = 99  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        course.assignments[0].sandbox.memory_mb = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        course.name = "x"  # type: ignore[misc]


def test_unknown_assignment_ids_and_select(tmp_path):
    course = load_config(write_course(tmp_path, GOOD))
    assert [a.id for a in course.select(["hw2"])] == ["hw2"]
    assert course.select([]) == course.assignments
    with pytest.raises(ConfigError, match=r"no assignment 'hw9' \(known: hw1, hw2\)"):
        course.assignment("hw9")


@pytest.mark.parametrize(("addition", "key"), [
    ("colour = 'blue'", "colour"),
    ("[grading]\nx = 1", "grading"),
    ("[course]\nname = 'x'\nterm = 'fall'", "course.term"),
    ("[defaults]\nsolution = 'x'", "defaults.solution"),
    ("[defaults.sandbox]\ngpu = true", "defaults.sandbox.gpu"),
    ("[defaults.tolerance]\ntpu = {rtol = 1}", "defaults.tolerance.tpu"),
    ("[defaults.tolerance.cpu]\nrtol = 1e-3\neps = 1", "defaults.tolerance.cpu.eps"),
])
def test_unknown_keys_are_named(tmp_path, addition, key):
    error = config_error(tmp_path, addition + "\n" + MINIMAL if not addition.startswith("[") else MINIMAL + addition)
    assert error.message.startswith(f"{key}: unknown key")


def test_unknown_key_in_an_assignment_is_named(tmp_path):
    error = config_error(tmp_path, MINIMAL + "soure = 'typo'\n")
    assert error.message.startswith("assignments.hw1.soure: unknown key")
    assert "source" in error.message  # the allowed keys are listed


@pytest.mark.parametrize("missing", ["files", "points", "source"])
def test_missing_required_keys_are_named(tmp_path, missing):
    text = "\n".join(line for line in MINIMAL.splitlines() if not line.startswith(missing))
    assert config_error(tmp_path, text).message == f"assignments.hw1.{missing}: missing"


@pytest.mark.parametrize(("line", "key"), [
    ("points = '10'", "assignments.hw1.points"),
    ("points = true", "assignments.hw1.points"),
    ("points = [10]", "assignments.hw1.points"),
    ("files = 'sampling.py'", "assignments.hw1.files"),
    ("source = 3", "assignments.hw1.source"),
    ("title = 1", "assignments.hw1.title"),
    ("time_limit = false", "assignments.hw1.time_limit"),
    ("test_time_limit = '60'", "assignments.hw1.test_time_limit"),
    ("release = '*.py'", "assignments.hw1.release"),
])
def test_wrong_types_are_named(tmp_path, line, key):
    name = line.split(" ")[0]
    text = "\n".join(x for x in MINIMAL.splitlines() if not x.startswith(name + " ")) + "\n" + line + "\n"
    error = config_error(tmp_path, text)
    assert error.message.startswith(f"{key}: must be ")


@pytest.mark.parametrize(("table", "key"), [
    ("[defaults.sandbox]\nmemory_mb = true", "defaults.sandbox.memory_mb"),
    ("[defaults.sandbox]\nthreads = 1.5", "defaults.sandbox.threads"),
    ("[defaults.sandbox]\nisolation = 1", "defaults.sandbox.isolation"),
    ("[defaults.tolerance.cpu]\nrtol = true", "defaults.tolerance.cpu.rtol"),
    ("[defaults.tolerance.cuda]\natol = '1e-3'", "defaults.tolerance.cuda.atol"),
    ("[course]\nname = 3", "course.name"),
    ("[defaults]\ntime_limit = '1h'", "defaults.time_limit"),
])
def test_wrong_types_in_tables_are_named(tmp_path, table, key):
    assert config_error(tmp_path, MINIMAL + table).message.startswith(f"{key}: must be ")


BAD_VALUES = [
    (MINIMAL.replace("points = 10", "points = 0"), "assignments.hw1.points"),
    (MINIMAL.replace("points = 10", "points = -5"), "assignments.hw1.points"),
    (MINIMAL.replace("points = 10", "points = nan"), "assignments.hw1.points"),
    (MINIMAL + "time_limit = -1", "assignments.hw1.time_limit"),
    (MINIMAL + "[assignments.hw1.tolerance.cpu]\nrtol = -1e-5", "assignments.hw1.tolerance.cpu"),
    (MINIMAL + "[assignments.hw1.tolerance.cuda]\natol = -0.1", "assignments.hw1.tolerance.cuda"),
    (MINIMAL + "[assignments.hw1.tolerance.cpu]\natol = nan", "assignments.hw1.tolerance.cpu"),
    (MINIMAL + "[assignments.hw1.sandbox]\nmemory_mb = 0", "assignments.hw1.sandbox.memory_mb"),
    (MINIMAL + "[assignments.hw1.sandbox]\nmemory_mb = 0.5", "assignments.hw1.sandbox.memory_mb"),
    (MINIMAL + "[assignments.hw1.sandbox]\nmemory_mb = inf", "assignments.hw1.sandbox.memory_mb"),
    (MINIMAL + "[assignments.hw1.sandbox]\nthreads = -1", "assignments.hw1.sandbox.threads"),
    (MINIMAL + "[assignments.hw1.sandbox]\nisolation = 'docker'", "assignments.hw1.sandbox.isolation"),
    (MINIMAL.replace('"sampling.py"', '"sampling"'), "assignments.hw1.files"),
    (MINIMAL.replace('["sampling.py"]', "[]"), "assignments.hw1.files"),
    (MINIMAL.replace('"sampling.py"', '"../escape.py"'), "assignments.hw1.files"),
    (MINIMAL + "release = ['']", "assignments.hw1.release"),
    (MINIMAL.replace("[assignments.hw1]", '[assignments."1st"]'), "assignments.1st"),
]


@pytest.mark.parametrize(("text", "key"), BAD_VALUES, ids=[key for _, key in BAD_VALUES])
def test_bad_values_are_named(tmp_path, text, key):
    assert config_error(tmp_path, text).message.startswith(f"{key}: ")


def test_a_bad_isolation_value_lists_the_allowed_ones(tmp_path):
    message = config_error(tmp_path, MINIMAL + "[assignments.hw1.sandbox]\nisolation = 'docker'").message
    assert "bubblewrap" in message and "'docker'" in message


def test_a_missing_source_folder_is_named(tmp_path):
    error = config_error(tmp_path, MINIMAL.replace("assignments/hw1", "assignments/nope"))
    assert error.message.startswith("assignments.hw1.source: folder ") and "nope" in error.message


@pytest.mark.parametrize(("text", "key"), [
    ("", "assignments"),
    ("[course]\nname = 'x'", "assignments"),
    ("assignments = 3", "assignments"),
    ("assignments = [[1]]", "assignments"),
    ("course = 'x'\n" + MINIMAL, "course"),
    ("[assignments]\nhw1 = 3", "assignments.hw1"),
])
def test_badly_shaped_tables_are_named(tmp_path, text, key):
    assert config_error(tmp_path, text).message.startswith(f"{key}: ")


def test_invalid_toml_names_the_file(tmp_path):
    path = write_course(tmp_path, MINIMAL + "points = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_an_unreadable_file_names_the_file(tmp_path):
    path = tmp_path / "grading.toml"
    path.write_bytes(b"name = '\xff'")
    with pytest.raises(ConfigError, match="cannot read") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_find_config_walks_up_folders(tmp_path):
    path = write_course(tmp_path, MINIMAL)
    deep = tmp_path / "assignments" / "hw1" / "tests" / "public"
    deep.mkdir(parents=True)
    assert find_config(deep) == path.resolve()
    assert find_config(tmp_path) == path.resolve()


def test_find_config_prefers_the_nearest_file(tmp_path):
    write_course(tmp_path, MINIMAL)
    release = tmp_path / "release" / "hw1"
    (release / "sub").mkdir(parents=True)
    (release / "assignment.toml").write_text(MINIMAL.replace("assignments/hw1", "."))
    assert find_config(release / "sub") == (release / "assignment.toml").resolve()
    assignment = load_config(find_config(release / "sub")).assignments[0]
    assert isinstance(assignment, AssignmentConfig) and assignment.source == release.resolve()


def test_load_config_without_a_path_uses_the_working_folder(tmp_path, monkeypatch):
    write_course(tmp_path, MINIMAL)
    monkeypatch.chdir(tmp_path / "assignments" / "hw1")
    assert load_config().assignments[0].id == "hw1"


def test_find_config_without_a_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no grading.toml"):
        find_config(tmp_path)  # nothing above a pytest tmp_path holds one
