"""Shared fixtures: a small generated municipality, run once per session into a temp DuckDB."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from fiscal_intel.sqlfiles import install_macros  # noqa: E402


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the parsing macros installed."""
    c = duckdb.connect()
    install_macros(c)
    yield c
    c.close()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    """A ~1,000-taxpayer municipality generated and run end to end (shared, read-only)."""
    from fiscal_intel.demo import generate
    from fiscal_intel.runner import run_pipeline
    from fiscal_intel.settings import load_settings

    root = tmp_path_factory.mktemp("demo")
    landing, truth = root / "landing", root / "truth"
    # the base world (no planted campaign): tests/test_actions.py has its own with one
    generate(landing, truth, taxpayers=1_000, seed=7, past_campaign=False)
    settings = load_settings(landing=str(landing), warehouse=str(root / "warehouse.duckdb"))
    stages = run_pipeline(settings)
    return {"root": root, "landing": landing, "truth": truth, "settings": settings,
            "stages": stages, "warehouse": Path(settings.warehouse)}
