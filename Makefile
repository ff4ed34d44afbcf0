# hookhub developer commands. Every target creates the virtualenv itself when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint unit bench docs clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("hookhub needs Python 3.11+") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## serve: run API, UI, triggers and delivery workers on SQLite (./hookhub.db), http://127.0.0.1:8000
serve: $(STAMP)
	$(BIN)/hookhub serve $(ARGS)

## test: lint, type-check and run the whole test suite
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs/hooks examples
	$(BIN)/ruff format --check src tests benchmarks docs/hooks examples
	$(BIN)/mypy

## bench: every performance figure next to its same-run baseline; writes benchmarks/results.md
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(ARGS)

## docs: build the documentation site into site/ (mkdocs.yml; warnings are errors)
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
