"""Progress of a batch: a redrawn bar with counts and ETA on a terminal, plain lines otherwise."""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from typing import TextIO

from autograder import clock

WIDTH = 28
REDRAW = 0.25  # seconds between redraws of the bar when nothing finished


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class Progress:
    """``todo`` submissions to grade, out of ``total`` (the rest were graded by an earlier run)."""

    def __init__(self, total: int, todo: int, *, stream: TextIO | None = None, tty: bool | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.total, self.todo = total, todo
        self.done = 0
        self.running = 0
        self.counts: Counter[str] = Counter()
        self.start = clock.monotonic()
        self.drawn = 0.0

    def eta(self) -> str:
        if not self.done:
            return "?"
        elapsed = clock.monotonic() - self.start
        return duration(elapsed / self.done * (self.todo - self.done))

    def finished(self, student: str, status: str, detail: str) -> None:
        self.done += 1
        self.counts[status] += 1
        if self.tty:
            self._draw(force=True)
        else:
            width = len(str(self.todo))
            print(f"[{self.done:>{width}}/{self.todo}] {student}: {status}{detail}  (ETA {self.eta()})",
                  file=self.stream, flush=True)

    def note(self, text: str) -> None:
        """A line that must stay visible (a crash, a retry)."""
        if self.tty:
            self.stream.write("\r\033[K")
        print(text, file=self.stream, flush=True)
        if self.tty:
            self._draw(force=True)

    def tick(self, running: int) -> None:
        self.running = running
        if self.tty:
            self._draw()

    def _draw(self, force: bool = False) -> None:
        now = clock.monotonic()
        if not force and now - self.drawn < REDRAW:
            return
        self.drawn = now
        filled = int(WIDTH * self.done / self.todo) if self.todo else WIDTH
        bar = "#" * filled + "-" * (WIDTH - filled)
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))
        line = (f"[{bar}] {self.done}/{self.todo}  {counts or 'starting'}  |  {self.running} running  "
                f"{duration(now - self.start)} elapsed, ETA {self.eta()}")
        width = shutil.get_terminal_size((100, 20)).columns
        self.stream.write("\r\033[K" + line[: max(20, width - 1)])
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
