# factorydash: two commands for a newcomer (see README.md).
#   make run    set up a virtualenv, start the simulated shop floor and the exporter following it
#   make test   install everything the tests need (Debian packages too) and run the whole suite
#   make bench  run the performance benchmark (not part of the tests)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SIMULATOR_ADDRESS ?= 127.0.0.1:5000
EXPORTER_ADDRESS ?= 127.0.0.1:9700
SPEED ?= 1

.PHONY: run test bench venv system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

system-deps:
	scripts/install-system-deps.sh

run: venv
	scripts/run-demo.sh "$(BIN)" "$(SIMULATOR_ADDRESS)" "$(EXPORTER_ADDRESS)" "$(SPEED)"

test: venv system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: venv
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
