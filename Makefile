# Two commands for a newcomer: `make run` and `make test`. Each installs what it needs.
# While working: `make test-unit` (seconds), `make lint`, `make typecheck`; `make ci` runs
# what CI runs, in its order.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST := $(BIN)/python -m pytest -q
# Processes the slow tiers are spread over, a test file each at a time (WORKERS=0: all in
# this process); every process has its own databases, brokers and ports.
WORKERS ?= 2
SPREAD := -n $(WORKERS) --dist loadfile

.PHONY: install run ci lint format typecheck typecheck-baseline docs \
	test test-unit test-integration test-e2e bench lock clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

run: install
	$(BIN)/crm serve

ci:
	.ci/run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/python tests/typecheck_baseline.py

typecheck-baseline: install
	$(BIN)/python tests/typecheck_baseline.py --rewrite

docs: install
	$(BIN)/mkdocs build --strict

# Every tier; the unit tier first, so that a broken rule fails in seconds.
test: install
	$(PYTEST) tests/unit
	$(PYTEST) $(SPREAD) -m "not alone" tests/integration tests/e2e
	$(PYTEST) -m alone tests/integration tests/e2e

test-unit: install
	$(PYTEST) tests/unit

test-integration: install
	$(PYTEST) $(SPREAD) tests/integration

test-e2e: install
	$(PYTEST) $(SPREAD) tests/e2e

bench: install
	$(BIN)/python bench/commands.py

lock:
	$(BIN)/uv pip compile pyproject.toml --extra test --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV)
