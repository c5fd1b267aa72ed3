# Thin wrappers: each target calls the real thing. See README.md.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench lint fmt install install-dev

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt

run: install
	$(BIN)/python manage.py migrate --no-input -v0 && $(BIN)/python manage.py seed_demo && $(BIN)/python manage.py run_all

# Locally the test database is kept between runs (--reuse-db; pytest --create-db rebuilds it);
# CI (CI=true) builds it fresh.
test: install-dev
	$(BIN)/python -m pytest $(if $(filter true,$(CI)),--create-db,--reuse-db)

bench: install-dev
	$(BIN)/python -m tests.bench $(ONLY)

lint: install-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports && $(BIN)/mypy

fmt: install-dev
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .
