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
def demo_landing(tmp_path_factory: pytest.TempPathFactory):
    """The ~1,000-taxpayer municipality (seed 7) as generated, once per session (read-only):
    ``demo_run`` runs it, tests/test_demo_generator.py checks the generator on it."""
    from fiscal_intel.demo import generate

    root = tmp_path_factory.mktemp("demo")
    # the base world (no planted campaign): campaign_run below has one
    summary = generate(root / "landing", root / "truth", taxpayers=1_000, seed=7,
                       past_campaign=False)  # fmt: skip
    return summary


@pytest.fixture(scope="session")
def demo_run(demo_landing):
    """A ~1,000-taxpayer municipality generated and run end to end (shared, read-only)."""
    from fiscal_intel.runner import run_pipeline
    from fiscal_intel.settings import load_settings

    landing, truth = demo_landing.landing, demo_landing.truth_dir
    root = landing.parent
    settings = load_settings(landing=str(landing), warehouse=str(root / "warehouse.duckdb"))
    stages = run_pipeline(settings)
    return {"root": root, "landing": landing, "truth": truth, "settings": settings,
            "stages": stages, "warehouse": Path(settings.warehouse)}


@pytest.fixture(scope="session")
def campaign_run(tmp_path_factory: pytest.TempPathFactory):
    """The same municipality with its planted past campaign, run end to end with the campaign
    register imported, as `fiscal-intel demo` does (shared, read-only): tests/test_actions.py,
    and tests/test_validation_pushdown.py for the staged tables the base world leaves empty."""
    from fiscal_intel.actions.campaign import import_register
    from fiscal_intel.demo import generate
    from fiscal_intel.runner import run_pipeline
    from fiscal_intel.settings import load_settings

    root = tmp_path_factory.mktemp("campaign_demo")
    landing, truth = root / "landing", root / "truth"
    generate(landing, truth, taxpayers=1_000, seed=7)
    settings = load_settings(landing=str(landing), warehouse=str(root / "warehouse.duckdb"))
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        import_register(con, truth / "campaign_register.csv")
    run_pipeline(settings)
    return {"root": root, "landing": landing, "truth": truth, "settings": settings,
            "warehouse": Path(settings.warehouse)}


# Issue #19: a tiny department (three municipalities of ~200-300 taxpayers, plus a fourth with an
# unreadable file and a folder that is no DANE code), run once with 2 workers, for the department
# tests and the Celery test (which must equal it, table for table).
DEPARTMENT_GOOD = ("05615", "05002", "05021")
DEPARTMENT_BROKEN = "05030"


@pytest.fixture(scope="session")
def department(tmp_path_factory: pytest.TempPathFactory):
    import shutil

    from fiscal_intel.cli import main
    from fiscal_intel.demo.department import generate_department

    root = tmp_path_factory.mktemp("department")
    landing = root / "landing"
    generate_department(landing, root / "truth", [("05615", 300, 1), ("05002", 200, 2),
                                                  ("05021", 200, 3)])  # fmt: skip
    shutil.copytree(landing / "05002", landing / DEPARTMENT_BROKEN)
    (landing / DEPARTMENT_BROKEN / "taxpayers" / "broken.xlsx").write_bytes(b"not a workbook")
    (landing / "99999" / "taxpayers").mkdir(parents=True)
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(
            ["run", "--landing", str(landing), "--warehouse-dir", str(root / "wh"),
             "--workers", "2"]
        )  # fmt: skip
    return {"root": root, "landing": landing, "wh": root / "wh", "exit": code,
            "stderr": err.getvalue()}  # fmt: skip
