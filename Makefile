# The two commands a new user needs: `make demo` and `make test` (plus `make ui`).
# Each creates .venv and installs the project (pinned by requirements.lock) when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# The Dagster instance lives in the project folder (dagster.yaml here).
export DAGSTER_HOME := $(CURDIR)
# Demo-only redaction key; set your own secret in the environment for real data.
export ABGATE_REDACTION_KEY ?= abgate-demo-key-not-a-secret

.PHONY: install system-packages demo test ui lint format bench calibration clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# Debian packages the tests need, installed once when missing: chromium for the report's
# browser tests (Playwright drives it; no browser is downloaded).
system-packages:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

demo: install
	$(BIN)/abgate demo

test: install system-packages
	$(BIN)/pytest -n 2 --dist loadfile -q

ui: install
	$(BIN)/dg dev --host 127.0.0.1 --port 3000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/abgate bench

calibration: install
	$(BIN)/python benchmarks/calibration.py --sims 20000

clean:
	rm -rf data reports/*/ history storage schedules logs .pytest_cache
