PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test test-fast lint bench venv

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { echo "Could not create a virtual environment. On Debian: apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

venv: $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/streamlit run streamlit_app.py --server.address 127.0.0.1

test: $(VENV)/.dev
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The loop while working: everything but the browser and PostgreSQL tests (markers in pyproject.toml).
test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -q -m "not browser and not postgres" $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/.runtime
	$(BIN)/python -m dashboard.bench
