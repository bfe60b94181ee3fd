# `make run` and `make test` each do the whole set-up on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run test setup lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# bpmn-js and bpmn-moddle for the web UI and the modeler round-trip test (tests/processes/).
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

# Debian's Chromium for the browser tests (Playwright cannot download browsers here) and CJK fonts for
# readable screenshots; skipped when already present.
CHROMIUM_STAMP := /usr/bin/chromium

$(CHROMIUM_STAMP):
	apt-get install -y --no-install-recommends chromium fonts-noto-cjk || \
	  (apt-get update && apt-get install -y --no-install-recommends chromium fonts-noto-cjk)

setup: $(STAMP) $(NODE_STAMP) $(CHROMIUM_STAMP)

run: setup
	$(BIN)/xinfang db upgrade
	$(BIN)/xinfang org load --demo
	$(BIN)/xinfang deploy processes/ --by setup
	$(BIN)/xinfang serve

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/xinfang bench

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache
