# Two commands matter to a newcomer: `make dev` and `make test`. Both create .venv from the
# pinned requirements on first use, so a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-stamp
STAGE ?= dev
export SAM_CLI_TELEMETRY := 0

# sam build must find the Lambda runtime's interpreter (python3.13) on PATH. A pyenv shim is
# not enough (it can hang when 3.13 is not the selected version), so prefer the real binary.
PY313 := $(shell ls -d $$HOME/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | tail -n 1)
ifeq ($(PY313),)
PY313 := $(shell command -v python3.13 2>/dev/null)
endif

.PHONY: dev test lint unit integration e2e build deploy switch-table bench bench-depth bench-cold-start bench-dev-server bench-paging fuzz chaos clean venv browser screenshots

$(STAMP): requirements-dev.txt shared/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# checkov pins a boto3 the runtime cannot use (requirements-checkov.txt): its own virtualenv.
$(CHECKOV_STAMP): requirements-checkov.txt | $(STAMP)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

venv: $(STAMP) $(CHECKOV_STAMP)

dev: $(STAMP)
	$(BIN)/python -m devserver

lint: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

# The whole suite in three worker processes, each test file whole on one worker (its module
# fixtures, such as a dev server, started once): the suite waits more than it computes (dev
# servers starting, HTTP round trips, retries through the fault proxy), so three processes on
# two cores halve its time (≈420 s → ≈220 s here). Focused runs (`pytest tests/...`) stay serial.
test: lint browser
	$(BIN)/python -m pytest -n 3 --dist loadfile

# The settings page's browser tests drive Debian's chromium through Playwright (the browsers
# `playwright install` downloads are not used). Installed here when missing; sudo unless root.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  sudo=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

# Re-take docs/screenshots/*.png (the README shows them) from the browser tests.
screenshots: $(STAMP) browser
	UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest tests/e2e/test_settings_page.py tests/e2e/test_settings_health.py

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

e2e: $(STAMP) browser
	$(BIN)/python -m pytest tests/e2e

# sam build ships no bytecode; compiling it halves the cold import (docs/cold-start.md).
build: $(STAMP)
	@test -n "$(PY313)" || { echo "sam build needs python3.13 on PATH (the Lambda runtime)"; exit 1; }
	PATH="$(dir $(PY313)):$(CURDIR)/$(BIN):$$PATH" $(BIN)/sam build
	$(PY313) -m compileall -q --invalidation-mode unchecked-hash .aws-sam/build

# After `sam delete`, the stage's retained table is imported into a new stack first (ops/table.py:
# nothing happens while the stack exists), so the deploy adopts the data instead of colliding.
deploy: build
	$(BIN)/python -m ops.table adopt --stage $(STAGE)
	$(BIN)/sam deploy --config-env $(STAGE)

# Onto a table restored from point-in-time recovery (docs/operations.md, "Restore the table").
switch-table: $(STAMP)
	@test -n "$(TABLE)" || { echo "usage: make switch-table STAGE=<stage> TABLE=<restored table>"; exit 1; }
	$(BIN)/python -m ops.table switch --stage $(STAGE) --table $(TABLE)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# One part of `make bench` alone: sequential depth per operation (≈2.5 min), cold start on
# python3.13 (≈1.5 min; builds .venv/cold-start-python3.13 on first use), the dev server at
# 10,000 users (≈1 min), 10,000 users walked by startIndex.
bench-depth: $(STAMP)
	$(BIN)/python -m benchmarks.depth

bench-cold-start: $(STAMP)
	$(BIN)/python -m benchmarks.cold_start

bench-dev-server: $(STAMP)
	$(BIN)/python -m benchmarks.devserver_scale

bench-paging: $(STAMP)
	$(BIN)/python -m benchmarks.paging

# The long fuzz run (make test runs a short fixed-seed slice of the same tests): 5,000 requests
# through the handlers and 500 over HTTP to a dev server; FUZZ_SEED=<n> explores other inputs.
FUZZ_EXAMPLES ?= 5000
FUZZ_HTTP_EXAMPLES ?= 500
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_HTTP_EXAMPLES=$(FUZZ_HTTP_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) \
	  $(BIN)/python -m pytest tests/fuzz tests/e2e/test_fuzz_http.py

# The fault-injection runs (issue 14; make test runs a slice of each): every write path with
# each of its DynamoDB requests broken by every fault in turn (≈6.5 min), then the Okta- and
# Entra-shaped workloads over HTTP against the dev server with 5% and then 30% of its DynamoDB
# requests faulted, each checked for consistency (≈1 + ≈3.5 min); fails on any inconsistency.
# CHAOS_SEED and CHAOS_RATES pick other runs.
chaos: $(STAMP)
	CHAOS_WRITE_PATHS=all $(BIN)/python -m pytest tests/integration/faults/test_write_paths.py
	$(BIN)/python -m chaos

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache
