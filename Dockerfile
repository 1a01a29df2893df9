# The grader's image: this package, torch (CPU by default), numpy and pytest in /opt/venv.
#
# Build (what scripts/podman-setup.sh does; no network needed):
#   scripts/wheelhouse.sh                       # build/wheelhouse/: pinned wheels, from autograder/container/requirements.txt
#   podman build --build-arg BASE=localhost/autograder-base:bookworm -t localhost/autograder:latest .
#
# BASE is any image with python3 >= 3.11 and its venv module (Debian 12 gives 3.11):
# - CPU (default): a Debian 12 image made from Debian's packages by scripts/podman-setup.sh
#   (mmdebstrap, then `podman import`), since no registry is reachable here.
# - GPU: a CUDA runtime base whose python3 the wheels match, with a wheelhouse holding the
#   CUDA build of torch, e.g.
#     scripts/wheelhouse.sh --torch-index https://download.pytorch.org/whl/cu128 --python 3.12
#     docker build --build-arg BASE=docker.io/nvidia/cuda:12.8.1-runtime-ubuntu24.04 -t autograder:cuda .
#   and run with the NVIDIA container toolkit (Docker) or a CDI spec (Podman). Not buildable here.
#
# Who runs what inside: the trusted grader runs as root *in the container*, with every
# capability dropped but six (SETUID, SETGID, CHOWN, KILL, DAC_OVERRIDE, FOWNER; why: see
# autograder/container/runner.py), so it can hand the student's code a fresh unprivileged
# uid (1000000-1999999, one per sandbox, no passwd entry needed) and kill it. The grading
# material is mounted under /grading, mode 0700: those uids cannot even list it. The root
# file system is read-only at run time.

ARG BASE=localhost/autograder-base:bookworm
FROM ${BASE}

# A CUDA or other base without python3's venv module gets it here (needs a network);
# the mmdebstrap base already has it, so this is a no-op.
RUN python3 -c 'import ensurepip, venv' 2>/dev/null || { \
      apt-get update && apt-get install -y --no-install-recommends python3 python3-venv && \
      rm -rf /var/lib/apt/lists/*; }

# The runtime, from the wheelhouse bound for this step only (no copy of it stays in the image).
# Removed in the same step, so they never reach a layer: torch's C++ headers, CMake files,
# C++ test binaries and protoc, the test suites of numpy, sympy and networkx, and pip itself
# (nothing is installed after the build).
RUN --mount=type=bind,source=build/wheelhouse,target=/wheels \
    python3 -m venv /opt/venv && \
    /opt/venv/bin/pip install --quiet --no-cache-dir --no-index --find-links /wheels -r /wheels/requirements.txt && \
    cd /opt/venv/lib/python3*/site-packages && \
    rm -rf torch/include torch/share/cmake torch/test torch/bin/test_* torch/bin/protoc* && \
    find numpy sympy networkx -depth -type d -name tests -exec rm -rf {} + && \
    /opt/venv/bin/python -m pip uninstall --quiet --yes pip && \
    /opt/venv/bin/python -c 'import torch, numpy, pytest'

ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# The grader last: a change to it rebuilds only these small layers. On the path through a
# .pth file (no build backend needed); compiled here because the root is read-only at run time.
COPY autograder /opt/grader/autograder
RUN python -m compileall -q /opt/grader && \
    python -c 'import site; print("/opt/grader", file=open(site.getsitepackages()[0] + "/autograder.pth", "w"))' && \
    python -c 'import autograder.container.inside' && \
    mkdir -m 0700 /grading && mkdir -m 0755 /input /results
WORKDIR /tmp
CMD ["python", "-m", "autograder", "--help"]
