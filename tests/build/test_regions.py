"""Tests for autograder/build/regions.py: every marker in both versions, every error with its line."""

from __future__ import annotations

import textwrap

import pytest

from autograder.build.regions import Line, Region, parse, render, render_text
from autograder.errors import RegionError


def both(source: str) -> tuple[str, str]:
    text = textwrap.dedent(source).lstrip("\n")
    return render_text(text, "f.py", "student"), render_text(text, "f.py", "solution")


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_otter_solution_becomes_ellipsis_at_marker_indent():
    student, solution = both(
        """
        def f(x):
            # BEGIN SOLUTION
            y = x + 1
            return y
            # END SOLUTION
        """
    )
    assert student == "def f(x):\n    ...\n"
    assert solution == "def f(x):\n    y = x + 1\n    return y\n"


def test_prompt_stands_in_for_the_following_solution():
    student, solution = both(
        '''
        def f(x):
            """ # BEGIN PROMPT
            y = ...
            return y
            """ # END PROMPT
            # BEGIN SOLUTION
            return x * 2
            # END SOLUTION
        '''
    )
    assert student == "def f(x):\n    y = ...\n    return y\n"
    assert solution == "def f(x):\n    return x * 2\n"


def test_prompt_not_directly_before_a_solution_keeps_the_ellipsis():
    student, _ = both(
        '''
        """ # BEGIN PROMPT
        # read this
        """ # END PROMPT
        x = 1
        # BEGIN SOLUTION
        y = 2
        # END SOLUTION
        '''
    )
    assert student == "# read this\nx = 1\n...\n"


def test_single_quoted_prompt_delimiters():
    student, solution = both(
        """
        ''' # BEGIN PROMPT
        hint = "use a loop"
        ''' # END PROMPT
        """
    )
    assert (student, solution) == ('hint = "use a loop"\n', "")


def test_solution_no_prompt_is_removed_for_students():
    student, solution = both(
        """
        a = 1
        # BEGIN SOLUTION NO PROMPT
        check = a > 0
        # END SOLUTION
        b = 2
        """
    )
    assert student == "a = 1\nb = 2\n"
    assert solution == "a = 1\ncheck = a > 0\nb = 2\n"


@pytest.mark.parametrize(
    ("line", "student", "solution"),
    [
        ("    y = f(x)  # SOLUTION", "    y = ...", "    y = f(x)"),
        ("z: int = 3 # SOLUTION", "z: int = ...", "z: int = 3"),
        ("self.w[0] = w  # SOLUTION", "self.w[0] = ...", "self.w[0] = w"),
        ("    print(x)  # SOLUTION", "    ...", "    print(x)"),
        ("f(a=1)  # SOLUTION", "...", "f(a=1)"),
        ("x += 1  # SOLUTION", "...", "x += 1"),
        ("assert a == b  # SOLUTION", "...", "assert a == b"),
        ("    return a + b #SOLUTION", "    ...", "    return a + b"),
    ],
)
def test_single_solution_line(line: str, student: str | None, solution: str):
    """As otter-grader: an assignment keeps its target, any other line becomes "..." at its indent."""
    text = f"start\n{line}\nend\n"
    expected_student = f"start\n{student}\nend\n" if student else "start\nend\n"
    assert render_text(text, "f.py", "student") == expected_student
    assert render_text(text, "f.py", "solution") == f"start\n{solution}\nend\n"


def test_a_function_whose_body_is_one_solution_line_stays_valid_python():
    student = render_text("def add(a, b):\n    return a + b  # SOLUTION\n", "f.py", "student")
    assert student == "def add(a, b):\n    ...\n"
    compile(student, "f.py", "exec")


def test_nbgrader_solution_becomes_not_implemented():
    student, solution = both(
        """
        def f(x):
            ### BEGIN SOLUTION
            return x
            ### END SOLUTION
        """
    )
    assert student == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    assert solution == "def f(x):\n    return x\n"


def test_nbgrader_hidden_tests_are_removed_from_both():
    student, solution = both(
        """
        assert f(1) == 1
        ### BEGIN HIDDEN TESTS
        assert f(2) == 2
        ### END HIDDEN TESTS
        """
    )
    assert student == solution == "assert f(1) == 1\n"


def test_parse_gives_lines_and_regions_with_line_numbers():
    segments = parse("a\n  # BEGIN SOLUTION\n  b\n  # END SOLUTION\nc\n", "f.py")
    assert segments == (
        Line(number=1, text="a"),
        Region(kind="solution", start=2, end=4, indent="  ", lines=(Line(number=3, text="  b"),)),
        Line(number=5, text="c"),
    )
    assert segments[1].is_solution and not segments[1].is_hidden


def test_missing_final_newline_and_crlf():
    assert render_text("a\r\n# BEGIN SOLUTION\r\nb\r\n# END SOLUTION", "f.py", "solution") == "a\nb"
    assert render_text("", "f.py", "student") == ""


def test_render_rejects_an_unknown_version():
    with pytest.raises(ValueError, match="version"):
        render(parse("a\n", "f.py"), "teacher")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("x\n# BEGIN SOLUTION\ny\n", 2, "unclosed region: '# BEGIN SOLUTION' is never closed by '# END SOLUTION'"),
        ("### BEGIN HIDDEN TESTS\n", 1, "unclosed region: '### BEGIN HIDDEN TESTS'"),
        ("# BEGIN SOLUTION\n### BEGIN SOLUTION\n", 2, "nested region: '### BEGIN SOLUTION' inside the '# BEGIN SOLUTION' region opened at line 1"),
        ("# BEGIN SOLUTION\nx = 1  # SOLUTION\n# END SOLUTION\n", 2, "nested region: '# SOLUTION'"),
        ("x\n\n# END SOLUTION\n", 3, "'# END SOLUTION' without '# BEGIN SOLUTION'"),
        ('""" # END PROMPT\n', 1, "'\"\"\" # END PROMPT' without '\"\"\" # BEGIN PROMPT'"),
        ("# BEGIN SOLUTION\nx\n### END SOLUTION\n", 3, "mismatched END: '### END SOLUTION' cannot close the '# BEGIN SOLUTION' region opened at line 1"),
        ('""" # BEGIN PROMPT\n# END SOLUTION\n', 2, "mismatched END"),
        ("x\n# begin solution\n", 2, "looks like a region marker but is not one"),
        ("## BEGIN SOLUTION\n", 1, "looks like a region marker"),
    ],
)
def test_errors_name_file_and_line(source: str, line: int, message: str):
    with pytest.raises(RegionError) as caught:
        parse(source, "assignments/hw9/flows.py")
    assert caught.value.path == "assignments/hw9/flows.py"
    assert caught.value.line == line
    assert str(caught.value).startswith(f"assignments/hw9/flows.py:{line}: ")
    assert message in caught.value.message


def test_markers_must_be_alone_on_their_line():
    text = dedent(
        """
        s = "# BEGIN SOLUTION is how you mark code"
        x = 1
        """
    )
    assert render_text(text, "f.py", "student") == text
