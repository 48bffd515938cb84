# factorydash: two commands for a newcomer (see README.md). `make` alone builds the virtualenv and stops;
# `make help` lists every target.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SIMULATOR_ADDRESS ?= 127.0.0.1:5000
EXPORTER_ADDRESS ?= 127.0.0.1:9700
SPEED ?= 1

.DEFAULT_GOAL := venv
.PHONY: help run test test-fast bench venv system-deps constraints clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

venv: $(VENV)/.installed ## set up .venv with the exporter and the test tools, pinned by constraints.txt (the default)

system-deps: ## install the Debian packages the tests use (prometheus, promtool, chromium...)
	scripts/install-system-deps.sh

run: venv ## start the simulated shop floor and the exporter following it
	scripts/run-demo.sh "$(BIN)" "$(SIMULATOR_ADDRESS)" "$(EXPORTER_ADDRESS)" "$(SPEED)"

test: venv system-deps ## install everything the tests need and run the whole suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: venv ## run the tests that start no process and no server (under 30 s; not a substitute for make test)
	$(BIN)/python -m pytest -m "not integration" $(PYTEST_ARGS)

bench: venv ## run the performance benchmark (not part of the tests)
	$(BIN)/python -m bench $(BENCH_ARGS)

constraints: ## re-pin every dependency to today's newest (after a change to pyproject.toml)
	scripts/update-constraints.sh

clean: ## remove .venv and caches
	rm -rf $(VENV) .pytest_cache
