# Quick start: `make demo` runs the whole pipeline on the embedded default,
# `make test` runs the suite. Both create .venv on first use; the demo installs only what a
# single host needs, the tests add the extras (postgres, celery) and the test tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
APP    := $(VENV)/.installed-app
TESTS  := $(VENV)/.installed-test
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(APP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(APP)

$(TESTS): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(APP) $(TESTS)

demo: $(APP)
	$(BIN)/badge-bridge demo $(DEMO_ARGS)

test: $(TESTS)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(TESTS)
	$(BIN)/ruff check bridge connectors badge_rules jobs cli sandbox tests bench
	$(BIN)/mypy bridge connectors badge_rules jobs cli sandbox
	$(BIN)/lint-imports

bench: $(TESTS)
	$(BIN)/python bench/sync.py

clean:
	rm -rf $(VENV) .badge-bridge-demo build *.egg-info
