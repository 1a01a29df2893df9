# Two commands matter: `make demo` and `make test`. Both create .venv when it is missing.
# Debian's own python3 is preferred: it is world-readable, which the sandbox's unprivileged
# uid needs (see ../shared/ENVIRONMENT.md on pyenv builds under /root).
PYTHON ?= $(shell test -x /usr/bin/python3.11 && echo /usr/bin/python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench bench-container sandbox-tools container-engine build check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# bubblewrap is optional (the grader uses namespaces directly when it can); installed when
# we are root on a Debian-like machine, so its isolation level is tested too.
sandbox-tools:
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null 2>&1)) ; } || \
	  echo "bubblewrap not installed: its isolation level will be skipped in tests"

# Podman (installed, configured and started) and the grader's image, for the tests marked
# `container`: scripts/podman-setup.sh, quick once done. Never fails the build: where it
# cannot work, those tests skip and show its reason (build/podman-setup.status).
container-engine: $(STAMP)
	@PYTHON=$(BIN)/python scripts/podman-setup.sh || \
	  echo "container engine not prepared: tests marked container will be skipped (reason above)"

demo: $(STAMP)
	$(BIN)/python -m autograder build
	$(BIN)/python examples/demo.py

test: $(STAMP) sandbox-tools container-engine
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/spine.py

bench-container: $(STAMP) container-engine
	$(BIN)/python benchmarks/container.py

build: $(STAMP)
	$(BIN)/python -m autograder build

check: $(STAMP)
	$(BIN)/python -m autograder build --check

clean:
	rm -rf $(VENV) demo-out .pytest_cache
