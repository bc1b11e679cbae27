# Zaplecze — everything goes through these targets; the venv is created on demand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PO := $(wildcard src/zaplecze/locale/*/LC_MESSAGES/django.po)
MO := $(PO:.po=.mo)
VEGA := src/zaplecze/web/static/zaplecze/gen/vega-bundle.js
# Front-end packages for the tests (axe-core for the accessibility check), from the npm registry.
NPM_STAMP := node_modules/.package-lock.json

.PHONY: run test test-pg bench lint assets venv messages clean

venv: $(STAMP) assets

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Zaplecze needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

assets: $(STAMP) $(MO) $(VEGA)

$(NPM_STAMP): package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the accessibility browser test will be skipped (it fails in CI)"; fi

%.mo: %.po $(STAMP)
	$(BIN)/python -m zaplecze.core.i18n compile $<

$(VEGA): $(STAMP)
	$(BIN)/python -m zaplecze.web.assets

run: venv
	$(BIN)/zaplecze run

test: venv $(NPM_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/python tests/pg_pass.py $(PYTEST_ARGS)

test-pg: venv $(NPM_STAMP)
	ZAPLECZE_DATABASE_URL=$${ZAPLECZE_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: venv
	$(BIN)/python bench/run.py $(BENCH_ARGS)

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

# Re-extract translatable strings into the .po files (Babel; no GNU gettext needed).
messages: venv
	ZAPLECZE_DATA_DIR=$${ZAPLECZE_DATA_DIR:-./var} $(BIN)/python -m zaplecze.core.i18n extract

clean:
	rm -rf $(VENV) $(MO) $(VEGA) node_modules
