# Quick start: `make demo` runs the whole pipeline on the embedded default,
# `make test` runs the suite. Both create .venv on first use; the demo installs only what a
# single host needs, the tests add the extras (postgres, celery) and the test tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
APP    := $(VENV)/.installed-app
TESTS  := $(VENV)/.installed-test
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck bench clean messages

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

# Every benchmark (bench/all.py; docs/performance.md): one JSON object each, baseline in the same run.
bench: $(TESTS)
	$(BIN)/python bench/all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .badge-bridge-demo build *.egg-info

# The catalogs: extract the texts of the code and templates (babel.cfg), then bring each
# bridge/locale/<lang>/LC_MESSAGES/messages.po up to date; translate what is new or fuzzy.
# English is the language of the code: its catalog only rewords, so it gets no fuzzy guesses.
POT := build/messages.pot
messages: $(STAMP)
	mkdir -p build
	$(BIN)/pybabel extract -F babel.cfg --sort-output --add-location=file --no-wrap \
	    --project=badge-bridge --version=$$($(BIN)/python -c "import importlib.metadata as m; print(m.version('badge-bridge'))") \
	    --copyright-holder="badge-bridge contributors" -o $(POT) .
	$(BIN)/pybabel update -i $(POT) -d bridge/locale -l en --no-wrap --ignore-obsolete --no-fuzzy-matching
	for lang in $$(ls bridge/locale | grep -vx en); do \
	    $(BIN)/pybabel update -i $(POT) -d bridge/locale -l $$lang --no-wrap --ignore-obsolete; done
