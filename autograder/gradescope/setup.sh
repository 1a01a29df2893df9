#!/usr/bin/env bash
# Gradescope runs this once per upload, as root and with a network, while it builds the
# autograder's image (Ubuntu). It installs the grader's runtime, every package pinned, into
# /opt/autograder/venv: world-readable, because student code runs under unprivileged uids.
# The grader itself is not installed: run_autograder runs it from /autograder/source/grader.
set -euo pipefail
SOURCE=/autograder/source
VENV=/opt/autograder/venv
export DEBIAN_FRONTEND=noninteractive

apt-get update -q
# Python >= 3.11 (the grader reads TOML with tomllib): Ubuntu 22.04's python3 is 3.10, so
# python3.11 from its own archive there; Ubuntu 24.04's python3 is 3.12. No bubblewrap:
# Gradescope's containers cannot create its namespaces, and the grader would pick it.
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  apt-get install -y -q --no-install-recommends python3-venv
  PYTHON=python3
else
  apt-get install -y -q --no-install-recommends python3.11 python3.11-venv
  PYTHON=python3.11
fi

"$PYTHON" -m venv "$VENV"
# The CPU build of torch from PyTorch's own index (PyPI's torch pulls gigabytes of CUDA),
# then everything else from PyPI, pinned (requirements.txt pins torch too: already there).
"$VENV/bin/pip" install --no-cache-dir --quiet --index-url https://download.pytorch.org/whl/cpu \
  "$(grep '^torch==' "$SOURCE/requirements.txt")"
"$VENV/bin/pip" install --no-cache-dir --quiet -r "$SOURCE/requirements.txt"
chmod -R a+rX "$VENV"
"$VENV/bin/python" -c 'import torch, numpy, pytest; print("grader runtime: torch", torch.__version__, "numpy", numpy.__version__)'
