# Two commands matter: `make demo` and `make test`. Everything they need is installed from here.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements/main.lock
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements/main.lock -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/safestats demo

lint: install
	$(BIN)/ruff check src tests flows
	$(BIN)/sqlfluff lint models macros snapshots data-tests --processes 2

test: install lint
	$(BIN)/pytest

bench: install
	$(BIN)/safestats bench

clean:
	-$(BIN)/safestats db stop
	rm -rf .safestats target logs
