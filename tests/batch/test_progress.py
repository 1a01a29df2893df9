"""Progress: plain lines when not on a terminal, a redrawn bar with counts and ETA on one."""

from __future__ import annotations

import io

from autograder.batch.progress import Progress, duration


def test_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(total=3, todo=2, stream=stream)
    progress.finished("alice", "graded", " 4/4 (1.0 s)")
    progress.tick(1)
    progress.finished("bob", "timed out", " 3/4 (2.0 s)")
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1/2] alice: graded 4/4 (1.0 s)  (ETA ")
    assert lines[1] == "[2/2] bob: timed out 3/4 (2.0 s)  (ETA 0s)"
    assert "\r" not in stream.getvalue()


def test_bar_on_a_terminal():
    stream = io.StringIO()
    progress = Progress(total=4, todo=4, stream=stream, tty=True)
    progress.finished("alice", "graded", "")
    progress.note("bob: the grading process was killed by SIGKILL; trying once more on a fresh worker")
    progress.close()
    text = stream.getvalue()
    assert "\r\033[K[#######---------------------] 1/4  1 graded  |  0 running" in text
    assert "ETA" in text and text.endswith("\n")
    assert "\nbob: the grading process was killed" in text or text.count("bob:") == 1


def test_durations():
    assert [duration(s) for s in (0.4, 59, 61, 3725)] == ["0s", "59s", "1m01s", "1h02m"]
