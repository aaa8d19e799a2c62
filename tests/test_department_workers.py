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
