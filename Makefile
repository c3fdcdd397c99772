# Two entry points, both of which install what they need into .venv first (Python 3.11).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install bench lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip

# Installs only when pyproject.toml changed (or the venv is new): the stamp lives in the venv and is newer than
# pyproject.toml after a successful install. The install is editable, so edits to the package's source (new modules
# and subpackages included) are picked up without reinstalling. To force one: rm $(STAMP).
STAMP := $(VENV)/.marin_exec-installed

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(STAMP)

# The main job: the tiny LM example pipeline on a local prefix (./runs unless --prefix/MARIN_PREFIX say otherwise).
run: install
	MARIN_PREFIX=$${MARIN_PREFIX:-$(CURDIR)/runs} $(BIN)/python experiments/tiny_lm.py $(ARGS)

lint: install
	$(BIN)/ruff check marin_exec experiments tests benchmarks
	$(BIN)/ruff format --check marin_exec experiments tests benchmarks
	$(BIN)/mypy marin_exec

# The whole test suite: lint, types, then pytest (slow-marked tests are excluded; run them with `make test-slow`).
test: lint
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

bench: install
	$(BIN)/python benchmarks/run_all.py
