#!/bin/sh
# otter-grader for benchmarks/batch.py only (not a dependency of the project): its own venv, git-ignored.
# It needs a Jupyter kernel (ipykernel) to run submissions, and torch for the benchmark's question.
set -e
cd "$(dirname "$0")"
PYTHON=${PYTHON:-$(test -x /usr/bin/python3.11 && echo /usr/bin/python3.11 || command -v python3)}
test -x venv/bin/python || "$PYTHON" -m venv venv
venv/bin/python -m pip install --quiet --disable-pip-version-check otter-grader ipykernel torch==2.13.0
venv/bin/otter --version
