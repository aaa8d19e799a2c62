"""Shared fixtures: a small generated municipality, run once per session into a temp DuckDB."""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from filelock import FileLock

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from fiscal_intel.sqlfiles import install_macros  # noqa: E402


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the parsing macros installed."""
    c = duckdb.connect()
    install_macros(c)
    yield c
    c.close()


# Under pytest-xdist (`make test`: -n 2 --dist loadscope --no-loadscope-reorder) each module goes
# whole to a worker, in collection order. The modules that take longest (measured with
# --durations; the Celery test also builds the department) go first, so none of them starts last
# while the other worker has nothing left to do; by the time test_department, test_pooled and
# the demo's other users come, the session fixtures they copy are built. Serial runs keep the
# file order. A module missing here just keeps its place after these.
SLOWEST_MODULES_FIRST = (
    "test_department_celery.py", "test_ops.py", "test_readers.py", "test_department_partitions.py",
    "test_cases_in_progress.py", "test_messy_demo.py", "test_pipeline_small.py", "test_instance.py",
    "test_department.py", "test_inspector_files.py", "test_pipeline_demo.py", "test_actions.py",
    "test_real_exports.py", "test_two_phase.py",
)  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {name: i for i, name in enumerate(SLOWEST_MODULES_FIRST)}
        items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept


def built_once(tmp_path_factory: pytest.TempPathFactory, key: str,
               build: Callable[[Path], Any]) -> tuple[Path, Any]:
    """A session fixture's folder, built by ``build(folder)`` once per test run: its folder and
    what ``build`` returned. Serial, in the session's tmp dir. Under pytest-xdist (``make test``
    runs 2 workers) the first worker to ask builds it in a folder the workers share, under a file
    lock named by ``key`` (the fixture's inputs), while the others wait; then every worker, the
    builder too, works on its own copy (file times kept: the loader orders files by them), so a
    test that writes beside a warehouse stays in its worker as it would in a serial run, and no
    worker reads a folder another one writes."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(key)
        return folder, build(folder)
    # A worker's basetemp is <run>/popen-gwN: its parent is this run's, shared by the workers.
    shared = tmp_path_factory.getbasetemp().parent / "built_once" / key
    shared.parent.mkdir(exist_ok=True)
    result = shared / ".built.pickle"  # written last: its presence says the folder is whole
    with FileLock(f"{shared}.lock"):
        if not result.exists():
            shutil.rmtree(shared, ignore_errors=True)  # a worker's build that failed half way
            shared.mkdir()
            value = build(shared)
            result.write_bytes(pickle.dumps(value))
    folder = tmp_path_factory.mktemp(key)
    shutil.copytree(shared, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".built*"))
    return folder, pickle.loads(result.read_bytes())


@pytest.fixture(scope="session")
def demo_landing(tmp_path_factory: pytest.TempPathFactory):
    """The ~1,000-taxpayer municipality (seed 7) as generated, once per session (read-only):
    ``demo_run`` runs it, tests/test_demo_generator.py checks the generator on it."""
    import dataclasses

    from fiscal_intel.demo import generate

    def build(root: Path):
        # the base world (no planted campaign): campaign_run below has one
        return generate(root / "landing", root / "truth", taxpayers=1_000, seed=7,
                        past_campaign=False)  # fmt: skip

    root, summary = built_once(tmp_path_factory, "demo_1000_seed7_base", build)
    return dataclasses.replace(summary, landing=root / "landing", truth_dir=root / "truth")


@pytest.fixture(scope="session")
def demo_run(demo_landing, tmp_path_factory: pytest.TempPathFactory):
    """A ~1,000-taxpayer municipality generated and run end to end (shared, read-only): a copy
    of ``demo_landing``'s landing and truth, the warehouse beside them."""
    from fiscal_intel.runner import run_pipeline
    from fiscal_intel.settings import load_settings

    def build(root: Path):
        for name in ("landing", "truth"):  # copy2 keeps file times: the loader orders by them
            shutil.copytree(demo_landing.landing.parent / name, root / name)
        return run_pipeline(load_settings(landing=str(root / "landing"),
                                          warehouse=str(root / "warehouse.duckdb")))  # fmt: skip

    root, stages = built_once(tmp_path_factory, "demo_1000_seed7_base_run", build)
    landing, truth = root / "landing", root / "truth"
    settings = load_settings(landing=str(landing), warehouse=str(root / "warehouse.duckdb"))
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

    def build(root: Path) -> None:
        landing, truth = root / "landing", root / "truth"
        generate(landing, truth, taxpayers=1_000, seed=7)
        with duckdb.connect(str(root / "warehouse.duckdb")) as con:
            import_register(con, truth / "campaign_register.csv")
        run_pipeline(load_settings(landing=str(landing), warehouse=str(root / "warehouse.duckdb")))

    root, _ = built_once(tmp_path_factory, "demo_1000_seed7_campaign_run", build)
    landing, truth = root / "landing", root / "truth"
    settings = load_settings(landing=str(landing), warehouse=str(root / "warehouse.duckdb"))
    return {"root": root, "landing": landing, "truth": truth, "settings": settings,
            "warehouse": Path(settings.warehouse)}


# Issue #19: a tiny department (three municipalities of ~200-300 taxpayers, plus a fourth with an
# unreadable file and a folder that is no DANE code), run once with 2 workers, for the department
# tests and the Celery test (which must equal it, table for table).
DEPARTMENT_GOOD = ("05615", "05002", "05021")
DEPARTMENT_BROKEN = "05030"


@pytest.fixture(scope="session")
def department(tmp_path_factory: pytest.TempPathFactory):
    import contextlib
    import io

    from fiscal_intel.cli import main
    from fiscal_intel.demo.department import generate_department

    def build(root: Path) -> dict:
        landing = root / "landing"
        generate_department(landing, root / "truth", [("05615", 300, 1), ("05002", 200, 2),
                                                      ("05021", 200, 3)])  # fmt: skip
        shutil.copytree(landing / "05002", landing / DEPARTMENT_BROKEN)
        (landing / DEPARTMENT_BROKEN / "taxpayers" / "broken.xlsx").write_bytes(b"not a workbook")
        (landing / "99999" / "taxpayers").mkdir(parents=True)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(
                ["run", "--landing", str(landing), "--warehouse-dir", str(root / "wh"),
                 "--workers", "2"]
            )  # fmt: skip
        return {"exit": code, "stderr": err.getvalue()}

    root, ran = built_once(tmp_path_factory, "department_3_municipalities_run", build)
    return {"root": root, "landing": root / "landing", "wh": root / "wh", **ran}
