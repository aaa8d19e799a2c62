"""A department's worker processes get their share of the cores (issue #19: two workers on two
cores each ran DuckDB, polars and OpenMP at two threads, four busy threads on two cores)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fiscal_intel.department import runner as department
from fiscal_intel.resources import build_resources
from fiscal_intel.settings import load_settings


def test_each_of_two_workers_on_two_cores_gets_one_thread(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    settings = load_settings(warehouse=str(tmp_path / "05615.duckdb"))
    assert (settings.duckdb_threads, settings.num_threads) == (0, 2)  # defaults: all the cores
    two = department.worker_settings(settings, 2)
    assert (two.duckdb_threads, two.num_threads) == (1, 1)
    # One worker (serial) keeps the settings; four cores and two workers: two threads each.
    assert department.worker_settings(settings, 1) == settings
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert department.worker_settings(settings, 2).duckdb_threads == 2
    # More workers than cores: one thread each, never zero.
    assert department.worker_settings(settings, 8).duckdb_threads == 1
    # A setting already below the share is kept.
    one = settings.replace(duckdb_threads=1, num_threads=1)
    assert department.worker_settings(one, 2).duckdb_threads == 1


def test_the_warehouse_connection_takes_the_duckdb_threads_setting(tmp_path: Path) -> None:
    settings = load_settings(warehouse=str(tmp_path / "05615.duckdb"))
    for threads in (1, 3):
        warehouse = build_resources(settings.replace(duckdb_threads=threads))["warehouse"]
        with warehouse.unlocked_connection() as con:
            assert con.execute("select current_setting('threads')").fetchone()[0] == threads
    warehouse = build_resources(settings)["warehouse"]  # 0: DuckDB's default, one per core
    with warehouse.unlocked_connection() as con:
        shown = con.execute("select current_setting('threads')").fetchone()[0]
    assert shown == os.cpu_count()


def test_spawned_workers_size_their_thread_pools_from_their_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")  # set by the user: kept
    monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    probe = (
        "import os, polars; print(polars.thread_pool_size(), os.environ['OMP_NUM_THREADS'], "
        "os.environ['OMP_WAIT_POLICY'], os.environ['MKL_NUM_THREADS'])"
    )
    with department.worker_environment(2):
        # A spawned process starts with this environment, before it imports polars.
        shown = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.split()
    assert shown == ["1", "1", "PASSIVE", "3"]
    # The caller's environment is as it was.
    assert "POLARS_MAX_THREADS" not in os.environ and "OMP_WAIT_POLICY" not in os.environ
    assert os.environ["MKL_NUM_THREADS"] == "3"


def test_a_municipality_is_reported_when_it_is_final_not_when_the_last_one_is(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A failed first run is reported at once, a built municipality when its lists are done:
    the engineer watching a 125-municipality night sees each line as it happens (runs stubbed)."""
    import fiscal_intel.department.marts as marts
    import fiscal_intel.department.report as report

    landing = tmp_path / "landing"
    for code in ("05615", "05002", "05021"):
        (landing / code).mkdir(parents=True)
    events: list[str] = []

    def run(settings, code, log_level="CRITICAL", *, phase="whole", first=None, chosen=False):
        events.append(f"{phase} {code}")
        failed = code == "05002" and phase == "before_choice"
        status = "failed" if failed else ("waiting" if phase == "before_choice" else "success")
        return department.MunicipalityResult(code, code, status, 0.0, "")

    monkeypatch.setattr(department, "run_municipality", run)
    monkeypatch.setattr(department, "_pooled", lambda waiting, *a: events.append("pooled") or set())
    monkeypatch.setattr(marts, "build_department", lambda *a, **k: events.append("view"))
    monkeypatch.setattr(report, "department_report", lambda *a, **k: events.append("report"))
    settings = load_settings(landing=str(landing))
    results = department.run_department(
        settings,
        tmp_path / "wh",
        on_result=lambda r: events.append(f"reported {r.code} {r.status}"),
    )
    assert [r.status for r in results] == ["failed", "success", "success"]  # by code
    assert events.index("reported 05002 failed") < events.index("pooled")
    for code in ("05615", "05021"):
        assert events.index(f"reported {code} success") == events.index(f"after_choice {code}") + 1
    assert events[-2:] == ["view", "report"]


def test_the_pool_reports_each_municipality_as_it_completes(tmp_path: Path) -> None:
    """On the worker pool, too, a municipality is reported when its run is done: the slow one
    here may only finish once the quick one has been reported (threads stand in for workers)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Event

    quick_reported = Event()
    reported: list[str] = []

    def quick() -> department.MunicipalityResult:
        return department.MunicipalityResult("05002", "B", "success", 0.0, "")

    def slow() -> department.MunicipalityResult:
        status = "success" if quick_reported.wait(timeout=10) else "failed"
        return department.MunicipalityResult("05615", "A", status, 0.0, "")

    def on_done(result: department.MunicipalityResult) -> None:
        reported.append(f"{result.code} {result.status}")
        if result.code == "05002":
            quick_reported.set()

    settings = load_settings(warehouse=str(tmp_path / "x.duckdb"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        out = department._in_pool(
            pool, {"05615": slow, "05002": quick}, {"05615": settings, "05002": settings}, on_done
        )
    assert reported == ["05002 success", "05615 success"]
    assert set(out) == {"05615", "05002"}
