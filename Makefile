# Two commands on a fresh machine (Python 3.11+ and make): `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format schema bench clean

# The product (`puente`) and, beside it, the simulators (`puente-sandbox`, backend/puente_sandbox):
# the demo and the tests need both; the production wheel (`pip wheel .`) carries only the first.
$(STAMP): pyproject.toml backend/puente_sandbox/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./backend/puente_sandbox
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/puente demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy backend/puente/payments backend/puente/providers backend/puente/webhooks

test: lint
	$(BIN)/python -m pytest -q

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(STAMP)
	$(BIN)/puente export-schema > schema.graphql

bench: $(STAMP)
	$(BIN)/python bench/loan_engine.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
