"""Every clock the grader reads goes through here, so time limits can be tested with a fake clock."""

from __future__ import annotations

import time

monotonic = time.monotonic  # deadlines and durations
perf_counter = time.perf_counter  # short measurements
wall = time.time  # timestamps written into results
