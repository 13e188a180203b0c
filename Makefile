# The project's contract: `make run`, `make test`, `make bench`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/simkeep_test
export SIMKEEP_DATA_DIR ?= var

.PHONY: run test test-sqlite test-pg lint bench clean postgres browser-deps voice-deps network-deps i18n vendor-map vendor-charts prompts

# What running needs, and nothing more: the package and its pinned dependencies.
$(BIN)/simkeep: pyproject.toml
	@test -x $(BIN)/python || { echo "make: creating the virtual environment in $(VENV)/"; $(PY) -m venv $(VENV); }
	@echo "make: installing simkeep and what it needs to run (pinned in pyproject.toml)"
	@$(BIN)/pip install --quiet --disable-pip-version-check -e .
	@touch $@

# What tests, lint and benchmarks need on top of it: the `test` extra (pytest, Playwright, ruff, axe-core ...).
TEST_DEPS := $(VENV)/.test-deps
$(TEST_DEPS): pyproject.toml $(BIN)/simkeep
	@echo "make: installing the test tools (the [test] extra of pyproject.toml)"
	@$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

run: $(BIN)/simkeep
	@echo "make: starting simkeep in demo mode: migrate the database, load the catalog and the demo data, then serve"
	$(BIN)/simkeep run

postgres:
	@pg_isready -h 127.0.0.1 -p 5432 -q || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in $$(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='simkeep_test'" | grep -q 1 \
	  || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE simkeep_test"

lint: $(TEST_DEPS)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/lint-imports
	$(BIN)/mypy src

# Debian's Chromium drives the browser tests (never `playwright install`); Noto CJK renders Chinese in PDFs.
browser-deps:
	@test -x /usr/bin/chromium && fc-list | grep -qi "noto sans cjk" && command -v pdftoppm >/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk poppler-utils >/dev/null)

# The voice tests and benchmark place real calls: SIPp (Debian's sip-tester) through Kamailio (registrar and proxy).
voice-deps:
	@command -v sipp >/dev/null && command -v kamailio >/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq sip-tester kamailio >/dev/null)

# The network tests and benchmark provision a real HLR: Debian's osmo-hlr (started per test session, on 127.0.0.x).
network-deps:
	@command -v osmo-hlr >/dev/null || (apt-get update -qq && apt-get install -y -qq osmo-hlr >/dev/null)

test-sqlite: $(TEST_DEPS) browser-deps voice-deps network-deps
	$(BIN)/pytest

test-pg: $(TEST_DEPS) postgres browser-deps voice-deps network-deps
	SIMKEEP_TEST_DATABASE_URL=$(PG_URL) $(BIN)/pytest

# Both suites at once, each in its own pytest process (the PostgreSQL one on a database of its own, created and
# dropped by tests/conftest.py): their logs are printed when all are done, and the target fails if any does.
# The browser tests (pages, scripts, accessibility in Chromium) run once, with the SQLite suite: what they check does
# not depend on the database, and every page's queries run on PostgreSQL in the page tests without a browser.
# The tests against real peers run in processes of their own, beside the suites: the real calls (SIPp into the SIP
# agent, through Kamailio) once, on PostgreSQL (they wait on audio played in real time: wall time, little CPU; the
# voice menu's database paths run in both suites without SIP), and the network's tests against osmo-hlr (with real
# worker processes) on each database. `make test-sqlite` and `make test-pg` still run everything on one database.
# Each log ends with its 25 slowest tests: where the next minutes of `make test` are to be won.
DURATIONS := --durations=25
CALLS := tests/voice/test_calls.py tests/voice/test_sip.py tests/voice/test_peers.py
HLR := tests/network/test_acceptance.py tests/network/test_osmo_hlr.py
PEERS := $(CALLS) $(HLR)
test: lint $(TEST_DEPS) postgres browser-deps voice-deps network-deps
	@mkdir -p $(SIMKEEP_DATA_DIR)/test-logs; logs=$(SIMKEEP_DATA_DIR)/test-logs; start=$$(date +%s); \
	echo "running the SQLite and PostgreSQL suites and the tests against real peers in parallel (logs in $$logs)"; \
	$(BIN)/pytest $(DURATIONS) $(PEERS:%=--ignore=%) > $$logs/sqlite.log 2>&1 & sqlite=$$!; \
	SIMKEEP_TEST_DATABASE_URL=$(PG_URL) $(BIN)/pytest $(DURATIONS) --ignore=tests/browser $(PEERS:%=--ignore=%) \
	  > $$logs/postgresql.log 2>&1 & pg=$$!; \
	SIMKEEP_TEST_DATABASE_URL=$(PG_URL) $(BIN)/pytest $(PEERS) > $$logs/peers-postgresql.log 2>&1 & peers_pg=$$!; \
	$(BIN)/pytest $(HLR) > $$logs/peers-sqlite.log 2>&1 & peers_sqlite=$$!; \
	wait $$sqlite; s=$$?; wait $$pg; p=$$?; wait $$peers_pg; c=$$?; wait $$peers_sqlite; h=$$?; \
	echo "===== SQLite (exit $$s) ====="; cat $$logs/sqlite.log; \
	echo "===== PostgreSQL (exit $$p) ====="; cat $$logs/postgresql.log; \
	echo "===== real calls and osmo-hlr, PostgreSQL (exit $$c) ====="; cat $$logs/peers-postgresql.log; \
	echo "===== osmo-hlr, SQLite (exit $$h) ====="; cat $$logs/peers-sqlite.log; \
	echo "all suites: $$(( $$(date +%s) - start )) s"; \
	test $$s -eq 0 && test $$p -eq 0 && test $$c -eq 0 && test $$h -eq 0

bench: $(TEST_DEPS) postgres voice-deps network-deps
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.run

# Re-extract the translatable strings into messages.pot and merge them into the fr and zh_CN catalogs.
i18n: $(BIN)/simkeep
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output --project simkeep -o src/simkeep/locale/messages.pot .
	$(BIN)/pybabel update -i src/simkeep/locale/messages.pot -d src/simkeep/locale --no-fuzzy-matching --ignore-obsolete

# Rebuild the store finder's vendored Leaflet and offline base layer (web/static/vendor/leaflet) from npm.
vendor-map:
	bash scripts/vendor_map.sh

# Rebuild the dashboard's vendored Apache ECharts (web/static/vendor/echarts) from npm, pinned by version and sha256.
vendor-charts:
	bash scripts/vendor_charts.sh

# Re-record the hotline's prompts (src/simkeep/voice/prompts) whose text changed, with espeak-ng and sox; a person's
# recording replaces one with `scripts/voice_prompts.py --record LANGUAGE NAME FILE`.
prompts: $(TEST_DEPS)
	@command -v espeak-ng >/dev/null && command -v sox >/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq espeak-ng sox >/dev/null)
	$(BIN)/python scripts/voice_prompts.py

clean:
	rm -rf $(VENV) var
