# Two commands on a fresh machine: `make run` and `make test`. Everything else is bootstrapped.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help setup run test test-external lint typecheck check bench lock clean

help:
	@echo "make run      set everything up and serve the API + a worker on http://127.0.0.1:8000"
	@echo "make test     set everything up and run the whole test suite"
	@echo "make check    lint + types + import rules"
	@echo "make bench    load benchmarks (see bench/README.md)"

$(STAMP):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"' || \
		{ echo "Python 3.11 or newer is required (set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/mercato run

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

check: lint typecheck

bench: setup
	$(BIN)/python bench/run.py

# Re-resolve the pins from pyproject.toml's ranges in a throw-away venv.
lock:
	rm -rf /tmp/mercato-lock && $(PYTHON) -m venv /tmp/mercato-lock
	/tmp/mercato-lock/bin/pip install --quiet -e '.[dev]'
	{ echo "# Exact pins of every runtime and development dependency (installed by \`make\`)."; \
	  echo "# Regenerate: make lock (fresh venv, install ranges from pyproject.toml, freeze)."; \
	  /tmp/mercato-lock/bin/pip freeze --all --exclude-editable | grep -v -E '^(mercato|pip|wheel)=='; } > requirements.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
