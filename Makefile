# Sporing's two entry points (see README.md):
#   make demo   installs Sporing in .venv and runs `sporing demo` (embedded: SQLite, in-process simulator)
#   make test   installs everything, starts Mosquitto + TimescaleDB (scripts/services), runs lint,
#               type checks and the whole test suite against the real services
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test bench services services-stop lint clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/sporing demo

test: install
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/test

bench: install
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/test --bench

services:
	scripts/services start

services-stop:
	scripts/services stop

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
