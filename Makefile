# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install services run quick test clean

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[torch,tensorflow,jax,mlx,postgres,server,test]'
	touch $(INSTALLED)

install: $(INSTALLED)

# The default suite on this machine within 15 minutes: every workload, baseline and accelerated (measured here),
# the table and the results JSON.
run: install
	$(BIN)/batchmark run

# The same rows within a 3-minute budget: small images, few steps, no compilation.
quick: install
	$(BIN)/batchmark run --quick

# PostgreSQL and Chromium for the history and browser tests, the allocators, and OpenBLAS for MLX's blas=openblas
# (Debian, as root; elsewhere it says so, and those tests skip).
services:
	scripts/test-services.sh

# The layers first (seconds): an import that breaks them fails before the 20-minute suite starts.
test: install services
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build src/*.egg-info
