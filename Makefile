# Two entry points, both of which install what they need into .venv first (Python 3.12; 3.13 also works).
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install install-run bench lint test-slow

# The interpreter: PYTHON if given, else the first of these that is a working Python 3.12 (then 3.13) with venv.
# pyenv's shims are on PATH but fail for versions not selected, so pyenv's installs are also tried directly.
PYTHON ?=
PYTHON_CANDIDATES := python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 \
	/opt/homebrew/bin/python3.12 /usr/bin/python3.12 $$HOME/.local/bin/python3.12 python3 python \
	python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13
PYTHON_CHECK := import sys, venv, ensurepip; sys.exit(sys.version_info[:2] not in ((3, 12), (3, 13)))

# The venv is made by a Python 3.12 (or 3.13) once: an older .venv (the 3.11 one of earlier versions) lacks the
# marker and is replaced.
VENV_MARKER := $(VENV)/.python-3.12

$(VENV_MARKER):
	@py=""; for c in $(PYTHON) $(PYTHON_CANDIDATES); do \
		if command -v "$$c" >/dev/null 2>&1 && "$$c" -c '$(PYTHON_CHECK)' >/dev/null 2>&1; then py="$$c"; break; fi; \
	done; \
	if [ -z "$$py" ]; then \
		echo "make: no Python 3.12 found: install Python 3.12 with its venv module (apt install python3.12-venv, brew install python@3.12 or pyenv install 3.12), or pass PYTHON=/path/to/python3.12" >&2; \
		exit 1; \
	fi; \
	rm -rf $(VENV); \
	echo "make: creating $(VENV) with $$py ($$("$$py" -c 'import sys; print(sys.version.split()[0])'))"; \
	"$$py" -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	touch $@

# Installs only when pyproject.toml changed (or the venv is new): each stamp lives in the venv and is newer than
# pyproject.toml after a successful install. The install is editable, so edits to the package's source (new modules
# and subpackages included) are picked up without reinstalling. To force one: rm the stamp.
# `make run` installs what running needs (marin_exec and the example's numpy); `make test` adds s3, Fray/Iris and
# the test tools.
RUN_STAMP := $(VENV)/.marin_exec-installed-run
TEST_STAMP := $(VENV)/.marin_exec-installed-test

$(RUN_STAMP): pyproject.toml $(VENV_MARKER)
	$(BIN)/pip install -q -e '.[example]'
	touch $@

$(TEST_STAMP): pyproject.toml $(VENV_MARKER)
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(RUN_STAMP)

# Bytecode: some machines set PYTHONDONTWRITEBYTECODE=1 (this one does), and then an editable install, whose modules
# are the repository's files, compiles every module from source on each import (~300 ms for `import marin_exec`
# instead of ~75 ms). Python still reads .pyc files it did not write, so both installs write them; compileall skips
# modules whose .pyc is current, so this costs ~0.2 s when nothing changed. A module edited since is compiled in
# memory again (correct, only slower) until the next `make install`/`make run`.
COMPILE_BYTECODE := $(BIN)/python -m compileall -q marin_exec

install-run: $(RUN_STAMP)
	@$(COMPILE_BYTECODE)

install: $(TEST_STAMP)
	@$(COMPILE_BYTECODE)

# The main job: the tiny LM example pipeline on a local prefix (./runs unless --prefix/MARIN_PREFIX say otherwise).
run: install-run
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
