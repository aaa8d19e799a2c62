# Two commands: `make demo` (set up, generate the demo municipality, run everything) and
# `make test` (set up, lint, run the whole test suite). Both create .venv from uv.lock.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .uv/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
export GX_ANALYTICS_ENABLED := False

.PHONY: setup demo test lint ui clean

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

test: lint
	.venv/bin/pytest -q

ui: setup
	.venv/bin/dagster dev -w workspace.yaml

clean:
	rm -rf .venv .uv data
