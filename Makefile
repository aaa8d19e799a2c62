# Two commands: `make demo` (set up, generate the demo municipality, run everything) and
# `make test` (set up, lint, run the whole test suite). Both create .venv from uv.lock.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .uv/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
export GX_ANALYTICS_ENABLED := False

.PHONY: setup demo test lint browser redis ui bench clean

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --quiet --locked --compile-bytecode --python $(PYTHON)
	@touch $@

setup: .venv/.synced

demo: setup
	.venv/bin/fiscal-intel demo

lint: setup
	.venv/bin/ruff check fiscal_intel tests
	.venv/bin/sqlfluff lint sql/

# The leadership report is tested in a real headless browser: Debian's chromium, installed once
# (idempotent; root or sudo). Without it the browser test fails under CI=true.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The Celery test (issue #19) starts a local Redis broker: Debian's redis-server, installed once
# the same way (idempotent; root or sudo). Without it that test fails under CI=true.
redis:
	@command -v redis-server >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

# The suite on two pytest-xdist workers (the machine has 2 cores). --dist loadscope keeps each
# module's tests, and so its module fixtures, on one worker; --no-loadscope-reorder keeps the
# order tests/conftest.py gives (slowest modules first, not most tests first); the session
# fixtures that build a demo municipality are built once and copied to each worker (built_once).
# PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 2
test: lint browser redis
	.venv/bin/pytest -q -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder

ui: setup
	@# The instance `fiscal-intel run` records its runs in, so the UI shows their history.
	mkdir -p $${DAGSTER_HOME:-data/dagster_home}
	DAGSTER_HOME=$$(realpath $${DAGSTER_HOME:-data/dagster_home}) .venv/bin/dg dev

# Scale benchmark (issue #7): 10k, 100k and 1M taxpayers x 3 runs, the DuckDB floor, the pandas
# peer and the demo; writes benchmarks/RESULTS.md. Quick look: make bench BENCH_ARGS="--sizes
# 10000 --repeats 1". Generated landings are cached in data/bench/.
BENCH_ARGS ?=
bench: setup
	.venv/bin/python benchmarks/scale.py $(BENCH_ARGS)

clean:
	rm -rf .venv .uv data
