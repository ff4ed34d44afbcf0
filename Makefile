# hookhub developer commands. Every target creates the virtualenv itself when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Installed-at stamps: serving needs the runtime dependencies only; the checks add the dev
# extras (test, lint, type-check, browser, docs tools: several hundred MB).
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

$(RUNTIME): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("hookhub needs Python 3.11+") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

$(DEV): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV)

## serve: run API, UI, triggers and delivery workers on SQLite (./hookhub.db), http://127.0.0.1:8000
##        options go in ARGS: make serve ARGS="--port 8080"
serve: $(RUNTIME)
	$(BIN)/hookhub serve $(ARGS)

## test: lint, type-check and run the whole test suite
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV)
	$(BIN)/ruff check src tests benchmarks docs/hooks examples
	$(BIN)/ruff format --check src tests benchmarks docs/hooks examples
	$(BIN)/mypy

## bench: every performance figure next to its same-run baseline; writes benchmarks/results.md
bench: $(DEV)
	$(BIN)/python benchmarks/run_all.py $(ARGS)

## docs: build the documentation site into site/ (mkdocs.yml; warnings are errors)
docs: $(DEV)
	$(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
