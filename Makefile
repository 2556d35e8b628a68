# Keel: `make demo` runs the demo, `make test` runs the tests; both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock requirements-build.lock pyproject.toml | sha256sum | cut -c1-12)

.PHONY: install demo test lint format services bench bench-tracing profile lock clean

install: $(STAMP)

# Every dependency comes from the hashed lock file; the project itself is installed
# without touching the index (no unpinned build requirements either).
$(STAMP): requirements.lock requirements-build.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-build.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $@

demo: install
	$(BIN)/keel demo

services:
	bash .ci/services

test: install services
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/tools/test_deps.py

# Keel against bare Celery on the local Redis and Postgres, one Procfile worker at 1 s of
# model latency, where the processes' memory goes; rewrites BENCHMARKS.md.
bench: install services
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.shapes
	$(BIN)/python -m bench.memory --variant WORKER_POOL=prefork,WORKER_CONCURRENCY=4
	$(BIN)/python bench/guardrails_bench.py
	$(BIN)/python bench/local_tier_bench.py
	$(BIN)/python bench/optout_bench.py

# Trace export with the collector down against tracing off (SPEC 13); rewrites its section.
bench-tracing: install services
	$(BIN)/python -m bench.tracing_overhead

# Where a worker's CPU goes, sampled by py-spy; rewrites its section of BENCHMARKS.md.
profile: install services
	$(BIN)/python -m bench.profile

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-pin after changing pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock
	uv pip compile requirements-build.in --generate-hashes --python-version 3.11 -o requirements-build.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
