# Pippin: `make demo` runs the assistant on the simulated Mac, `make test` runs the tests.
# Both set everything up first (idempotent; the slow parts are cached in $(PIPPIN_CACHE)).

PYTHON ?=
VENV := .venv
PY := $(VENV)/bin/python
PIPPIN_CACHE ?= $(HOME)/.cache/pippin
export PIPPIN_CACHE
STAMP := $(VENV)/.setup-done

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile scripts/setup.sh
	PYTHON=$(PYTHON) bash scripts/setup.sh
	touch $(STAMP)

demo: setup
	$(VENV)/bin/pippin demo

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) run .pytest_cache .ruff_cache
