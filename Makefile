# The two commands a newcomer needs:  make demo  (run the main job)  and  make test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: venv demo test unit lint typecheck check bench services-up services-down clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the project and its test tools into $(VENV) ..."
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

demo: venv
	@$(BIN)/cme demo $(ARGS)

test: venv
	@scripts/run-tests $(ARGS)

unit: venv
	@$(BIN)/pytest -m "not integration" $(ARGS)

lint: venv
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/lint-imports

typecheck: venv
	@$(BIN)/mypy

check: lint typecheck

bench: venv
	@scripts/bench $(ARGS)

services-up: venv
	@scripts/services up

services-down: venv
	@scripts/services down

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
