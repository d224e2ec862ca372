# The README's contract: `make run` serves the product, `make test` passes the tests, on a fresh machine
# with only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEPS_HASH := $(shell $(PYTHON) -c "import hashlib;print(hashlib.sha1(open('pyproject.toml','rb').read()).hexdigest()[:12])")
RUN_STAMP := $(VENV)/.installed-run-$(DEPS_HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(DEPS_HASH)
BENCH_STAMP := $(VENV)/.installed-bench-$(DEPS_HASH)
PYTEST_ARGS ?=
# pytest processes for `make test` (pytest-xdist): each has its own test database and Celery queues
TEST_WORKERS ?= auto
# e.g. make bench BENCH_ARGS="--scale 0.01"
BENCH_ARGS ?=

.PHONY: run test lint bench check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	rm -f $(VENV)/.installed-run-*
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/python manage.py run

# ruff (style, complexity), the floors (import-linter), the types (mypy), then the tests.
test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder $(PYTEST_ARGS)

# The architecture and the types: import-linter's floors and mypy over the core layers.
check: $(DEV_STAMP)
	$(BIN)/lint-imports
	$(BIN)/mypy

lint: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

$(BENCH_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	touch $@

# The benchmark suite (tests/bench): 5M receipts at full scale; BENCH_ARGS="--scale 0.01" for a quick check.
# Then the load test (50 clients for 60 s against gunicorn; LOAD_ARGS="--clients 10 --duration 20"); SKIP_LOAD=1 skips it.
bench: $(RUN_STAMP) $(BENCH_STAMP)
	$(BIN)/python manage.py bench $(BENCH_ARGS)
	$(if $(SKIP_LOAD),,$(BIN)/python -m tests.bench.load $(LOAD_ARGS))
