# Landing Desk: `make run` starts the app with demo data, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
INSTALLED := $(VENV)/.installed
CATALOG := crm/translations/de/LC_MESSAGES/messages
PORT ?= 5000

.PHONY: run test bench install migrate demo lint translations-update clean

run: install migrate demo
	@echo
	@echo "  Landing Desk runs at http://127.0.0.1:$(PORT)/  (Ctrl-C stops web, worker and beat)"
	@echo
	@$(BIN)/crm demo logins
	@echo
	PATH="$(BIN):$$PATH" PORT=$(PORT) $(BIN)/honcho start --procfile Procfile web worker beat

# Tests run in one process per core (pytest-xdist); PYTEST_WORKERS=0 runs them in this one.
PYTEST_WORKERS ?= 2
test: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(ARGS)

# Benchmarks (bench/results/README.md): generates its data once, then measures on a copy.
# BENCH_SCALE=agency|small, BENCH_DB=sqlite|postgresql|both; BENCH_ARGS passes more options,
# e.g. BENCH_ARGS="--only list,board --explain". The throughput needs wrk: installed here when
# missing and running as root, else that one figure is skipped.
BENCH_SCALE ?= agency
BENCH_DB ?= sqlite
bench: install
	@command -v wrk >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || \
	  echo "wrk could not be installed: the throughput is not measured"
	$(BIN)/python -m bench.run --scale $(BENCH_SCALE) --db $(BENCH_DB) $(BENCH_ARGS)

install: $(INSTALLED) $(CATALOG).mo

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Landing Desk needs Python 3.11 or newer: make PYTHON=python3.12 ...")'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(CATALOG).mo: $(CATALOG).po $(INSTALLED)
	$(BIN)/pybabel compile -d crm/translations -D messages --statistics

migrate: install
	$(BIN)/crm db upgrade

demo: install
	$(BIN)/crm demo load

lint: install
	$(BIN)/ruff check .

# Extract every UI string and merge it into the German catalogue (then translate the new ones).
translations-update: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k ngettext:1,2 --no-location --sort-output --width 100 -o crm/translations/messages.pot .
	$(BIN)/pybabel update -i crm/translations/messages.pot -d crm/translations -D messages --no-fuzzy-matching --width 100

clean:
	rm -rf $(VENV) var
