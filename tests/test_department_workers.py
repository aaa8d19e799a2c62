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


def test_workers_overlap_the_pooled_step_with_the_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """With workers, no core waits for a step it does not need (issue #19, idle cores): each
    municipality is read for the pooled step by the task that ran its first run, right after
    it; the fits train their members on every core, the largest first; each choice is written
    by the task that then runs the municipality's second run. A read or a choice that fails
    leaves that municipality ranking with its own model, named on stderr (threads stand in
    for the worker processes; runs, reads, fits and choices stubbed)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import fiscal_intel.department.pooled as pooled

    events: list[tuple] = []

    def run(settings, code, log_level="CRITICAL", *, phase="whole", first=None, chosen=False):
        events.append((phase, code, threading.get_ident(), chosen))
        status = "waiting" if phase == "before_choice" else "success"
        return department.MunicipalityResult(code, code, status, 0.0, "")

    def read(code, settings):
        events.append(("read", code, threading.get_ident()))
        return f"reading for the pooled model: OSError: {code}" if code == "05021" else [code]

    fits: list[dict] = []

    def fit(read, parallel, *, threads=None):
        fits.append({"read": sorted(read), "threads": threads})
        return {"inexacto": "now"}, {"inexacto": "then"}

    def choose(m, now, then):
        events.append(("choice", m[0], threading.get_ident(), now, then))
        return "pooled step: ValueError: broken" if m == ["05002"] else {}

    monkeypatch.setattr(department, "run_municipality", run)
    monkeypatch.setattr(pooled, "read_or_failure", read)
    monkeypatch.setattr(pooled, "fit_pooled", fit)
    monkeypatch.setattr(pooled, "choose_and_write", choose)
    settings = load_settings(warehouse=str(tmp_path / "x.duckdb"))
    order = ["05615", "05002", "05021", "05045"]
    reported: list[str] = []
    timeline: list[dict] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        department._overlapped(
            pool, order, dict.fromkeys(order, settings), "CRITICAL", True,
            lambda r: reported.append(r.code), timeline,
        )  # fmt: skip
    for code in order:  # read once, right after its first run, by the same task (thread)
        first = next(e for e in events if e[:2] == ("before_choice", code))
        reads = [e for e in events if e[:2] == ("read", code)]
        assert [e[2] for e in reads] == [first[2]]
        mine = [e for e in events if e[2] == first[2]]
        assert mine[mine.index(first) + 1] == reads[0]
    # One fit step over the municipalities read, on every core of the department.
    assert fits == [{"read": ["05002", "05045", "05615"], "threads": os.cpu_count()}]
    second = {e[1]: e for e in events if e[0] == "after_choice"}
    choices = {e[1]: e for e in events if e[0] == "choice"}
    assert set(choices) == {"05615", "05002", "05045"}  # not the one whose read failed
    assert all(c[3:] == ({"inexacto": "now"}, {"inexacto": "then"}) for c in choices.values())
    for code in ("05615", "05045"):  # the choice written, then the second run, on one thread
        assert second[code][3] is True
        assert events.index(choices[code]) < events.index(second[code])
        assert choices[code][2] == second[code][2]
    assert second["05002"][3] is False and second["05021"][3] is False  # their own model
    err = capsys.readouterr().err
    assert "municipality 05021: reading for the pooled model: OSError" in err
    assert "municipality 05002: pooled step: ValueError: broken" in err
    assert sorted(reported) == sorted(order)
    # The timeline holds every task, with its worker.
    kinds = [s["kind"] for s in timeline]
    assert kinds.count("first run") == 4 and kinds.count("choice and second run") == 4


def test_pooled_fits_start_with_the_largest() -> None:
    """The four pooled fits go to the workers largest first (the last to finish is a small
    one), and each model comes back under its program and date, whatever the order."""
    import polars as pl

    from fiscal_intel.department import pooled

    class Part:
        def __init__(self, rows: int) -> None:
            self.audits = pl.DataFrame({"x": list(range(rows))})
            self.amount = self.late = None

    class Read:
        def __init__(self, code: str) -> None:
            import datetime as dt

            self.settings = load_settings()
            self.cutoff = dt.date(2024, 1, 1)
            size = {"now": 10, "then": 5} if code == "a" else {"now": 1, "then": 1}
            self.now = {p: Part(size["now"] * (3 if p == "omiso" else 1)) for p in pooled.PROGRAMS}
            self.then = {p: Part(size["then"]) for p in pooled.PROGRAMS}

    calls: list[tuple] = []

    def parallel(fn, args):
        calls.extend(args)
        return [f"{a[0]} {'then' if a[5] else 'now'} {a[3]}" for a in args]

    now, then = pooled.fit_pooled({"a": Read("a"), "b": Read("b")}, parallel, threads=2)
    rows = [sum(p.audits.height for p in c[1]) for c in calls]
    assert rows == sorted(rows, reverse=True)
    assert now == {p: f"{p} now 2" for p in pooled.PROGRAMS}
    assert then == {p: f"{p} then 2" for p in pooled.PROGRAMS}
