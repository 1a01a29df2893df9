"""Benchmark: grade the hw1 solution key N times (default 10); a shortcut for `benchmarks/key.py hw1`.

Target: under 90 s per grading of the whole hw1 suite on a 2-core machine.
Run: .venv/bin/python benchmarks/hw1.py [--runs N]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import key  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)

if __name__ == "__main__":
    sys.argv[1:1] = ["hw1"]
    sys.exit(key.main())
