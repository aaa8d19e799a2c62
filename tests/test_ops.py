"""Running unattended: the landing sensor, one writer at a time, and recovery from SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from fiscal_intel.definitions import defs
from fiscal_intel.locking import warehouse_lock
from fiscal_intel.partitions import all_tax_years
from fiscal_intel.resources import build_resources
from fiscal_intel.sensors import landing_files_sensor
from fiscal_intel.settings import load_settings

FIXTURE = Path(__file__).parent / "fixtures" / "landing_small"


def _cli(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "fiscal_intel.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        **kw,
    )


def _tick(landing: Path, warehouse: Path, cursor: str | None):
    settings = load_settings(landing=str(landing), warehouse=str(warehouse))
    context = dg.build_sensor_context(
        cursor=cursor, definitions=defs, resources=build_resources(settings)
    )
    return landing_files_sensor(context)


def test_a_new_file_triggers_a_run_of_what_it_affects(tmp_path: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    shutil.copytree(FIXTURE, landing)
    first = _tick(landing, warehouse, None)
    assert isinstance(first, dg.SensorResult) and len(first.run_requests) == 1
    assert dg.AssetKey(["raw", "taxpayers"]) in first.run_requests[0].asset_selection

    assert isinstance(_tick(landing, warehouse, first.cursor), dg.SkipReason)

    (landing / "payments" / "pagos_2.csv").write_text(
        "payment_id,nit,tax_year,paid_on,amount\nP-9,900111222,2023,2024-06-01,1000\n"
    )
    second = _tick(landing, warehouse, first.cursor)
    (request,) = second.run_requests
    keys = {k.to_user_string() for k in request.asset_selection}
    assert "raw/payments" in keys and "marts/revenue_monthly" in keys
    assert "raw/taxpayers" not in keys and "raw/declarations" not in keys
    assert request.run_key != first.run_requests[0].run_key
    # new payments are scored with the stored models; only new audits retrain them
    assert "scoring/inexacto_scores" in keys and "scoring/risk_models" not in keys
    first_keys = {k.to_user_string() for k in first.run_requests[0].asset_selection}
    assert "scoring/risk_models" in first_keys

    # Run what the sensor asked for (after a first full load) and find the new payment.
    settings = load_settings(landing=str(landing), warehouse=str(warehouse))
    resources = build_resources(settings)
    everything = [*defs.assets, *defs.asset_checks]
    with dg.DagsterInstance.ephemeral() as instance:
        full = dg.materialize(everything, resources=resources, instance=instance,
                              tags=all_tax_years(settings))
        assert full.success
        triggered = dg.materialize(
            everything, selection=request.asset_selection, resources=resources, instance=instance,
            tags=request.tags,
        )
        assert triggered.success
        events = triggered.get_asset_materialization_events()
        rebuilt = {e.asset_key.to_user_string() for e in events}
        assert {"raw/payments", "staging/stg_payments", "marts/revenue_monthly"} <= rebuilt
        assert "raw/taxpayers" not in rebuilt
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(
            "select count(*) from staging.stg_payments where payment_id = 'P-9'"
        ).fetchall() == [(1,)]



def test_two_runs_at_once_both_finish(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    args = ("run", "--landing", str(FIXTURE), "--warehouse", str(warehouse))
    first, second = _cli(*args), _cli(*args)
    outputs = [p.communicate(timeout=240)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert any("waiting for another run" in out for out in outputs)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select status from ops.run_log").fetchall() == [("success",)] * 2
        # The second run found nothing new to load.
        assert con.execute("select count(*) from raw.payments").fetchall() == [(7,)]


def test_a_run_that_cannot_wait_says_why(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    with warehouse_lock(warehouse, timeout=1):
        proc = _cli("run", "--landing", str(FIXTURE), "--warehouse", str(warehouse),
                    env={"FISCAL_INTEL_LOCK_TIMEOUT": "1"})
        out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 1
    assert f"warehouse {warehouse} is in use by another run (pid {os.getpid()})" in out


TABLES = (
    "staging.stg_declarations",
    "staging.stg_payments",
    "features.inexacto_features",
    "marts.audit_ranking",
    "marts.revenue_monthly",
    "marts.revenue_yearly",
)


def _snapshot(warehouse: Path) -> dict[str, list]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {t: con.execute(f"select * from {t} order by all").fetchall() for t in TABLES}


@pytest.mark.parametrize(
    "kill_at", ["raw__withholdings", "features__inexacto_features", "marts__revenue_yearly"]
)
def test_sigkill_then_rerun_gives_the_uninterrupted_result(
    demo_run, tmp_path: Path, kill_at: str
) -> None:
    warehouse = tmp_path / "w.duckdb"
    args = ("--verbose", "run", "--landing", str(demo_run["landing"]), "--warehouse",
            str(warehouse))
    proc = _cli(*args, start_new_session=True)
    marker = f'Started execution of step "{kill_at}"'
    for line in proc.stdout:
        if marker in line:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=240)
    assert proc.returncode == -signal.SIGKILL, f"never reached {kill_at}"

    started = time.perf_counter()
    rerun = _cli(*args[1:])
    out = rerun.communicate(timeout=240)[0]
    assert rerun.returncode == 0, out
    print(f"recovery after kill at {kill_at}: {time.perf_counter() - started:.1f} s")
    assert _snapshot(warehouse) == _snapshot(demo_run["warehouse"])


def test_daemon_connections_wait_for_a_cli_run(tmp_path: Path) -> None:
    """Outside a CLI run, each connection takes the writer lock, so it waits instead of failing
    on DuckDB's own file lock."""
    from fiscal_intel.resources import WarehouseResource

    warehouse = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time, duckdb\n"
         "from fiscal_intel.locking import warehouse_lock\n"
         f"with warehouse_lock({str(warehouse)!r}, timeout=5):\n"
         f"    con = duckdb.connect({str(warehouse)!r})\n"
         "    print('holding', flush=True)\n"
         "    time.sleep(1.5)\n"
         "    con.close()\n"],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    started = time.perf_counter()
    with WarehouseResource(database=str(warehouse), lock_timeout=30).get_connection() as con:
        waited = time.perf_counter() - started
        con.execute("create table t as select 1 as x")
    holder.wait(timeout=30)
    assert waited > 0.5


def test_backup_is_a_complete_database(demo_run, tmp_path: Path) -> None:
    from fiscal_intel.cli import main

    out = tmp_path / "backups" / "w.duckdb"
    assert main(["backup", "--warehouse", str(demo_run["warehouse"]), "--out", str(out)]) == 0
    assert _snapshot(out) == _snapshot(demo_run["warehouse"])


def test_the_shipped_instance_config_loads(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = (Path(__file__).parent.parent / "deploy" / "dagster.yaml").read_text()
    (home / "dagster.yaml").write_text(
        config.replace("/var/lib/fiscal-intel/dagster", str(home / "storage"))
    )
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_coordinator.get_run_queue_config().max_concurrent_runs == 1
    finally:
        instance.dispose()


def test_rebuilding_a_tax_year_partition_is_idempotent(tmp_path: Path) -> None:
    from fiscal_intel.runner import run_pipeline

    settings = load_settings(landing=str(FIXTURE), warehouse=str(tmp_path / "w.duckdb"))
    run_pipeline(settings, stages=("ref", "raw", "staging"))
    tables = ("staging.stg_declarations", "staging.stg_payments", "staging.stg_withholdings")

    def snapshot() -> dict[str, list]:
        with duckdb.connect(settings.warehouse, read_only=True) as con:
            return {t: con.execute(f"select * from {t} order by all").fetchall() for t in tables}

    before = snapshot()
    assert all(before.values())
    # Tamper with 2022 so we can see which partitions a rebuild touches.
    with duckdb.connect(settings.warehouse) as con:
        con.execute("update staging.stg_payments set amount = 0 where tax_year = 2022")
    keys = [dg.AssetKey(["staging", t.split(".")[1]]) for t in tables]
    everything = [*defs.assets, *defs.asset_checks]
    with dg.DagsterInstance.ephemeral() as instance:
        for _ in range(2):
            assert dg.materialize(everything, selection=keys, partition_key="2023",
                                  resources=build_resources(settings), instance=instance).success
        with duckdb.connect(settings.warehouse, read_only=True) as con:
            untouched = con.execute(
                "select sum(amount) from staging.stg_payments where tax_year = 2022"
            ).fetchall()
        assert untouched == [(0,)]
        assert dg.materialize(everything, selection=keys, partition_key="2022",
                              resources=build_resources(settings), instance=instance).success
    assert snapshot() == before


def test_a_tax_year_outside_the_partitions_is_quarantined_at_load(tmp_path: Path) -> None:
    """Issue #13 case 3: it used to reach raw and fail the partition check on every run."""
    from fiscal_intel.runner import run_pipeline

    landing = tmp_path / "landing"
    shutil.copytree(FIXTURE, landing)
    (landing / "payments" / "old.csv").write_text(
        "payment_id,nit,tax_year,paid_on,amount\nP-OLD,900111222,2005,2006-03-01,1000\n"
    )
    # old.csv is one bad row (100 % quarantined), which the quarantine-share gate would stop
    # first: this test is about where the row goes.
    settings = load_settings(
        landing=str(landing), warehouse=str(tmp_path / "w.duckdb"), max_quarantine_share=1.0
    )
    run_pipeline(settings, stages=("ref", "raw", "staging"))
    with duckdb.connect(settings.warehouse, read_only=True) as con:
        assert con.execute(
            "select reason from ops.quarantine where file = 'old.csv'"
        ).fetchall() == [
            (
                "tax_year '2005' is below 2010 (tax years 2010-2035: settings first_tax_year, "
                "last_tax_year)",
            )
        ]
        assert con.execute("select count(*) from raw.payments where tax_year = 2005").fetchone()[
            0
        ] == 0


def test_daemon_runs_are_recorded_in_the_run_log(tmp_path: Path, monkeypatch) -> None:
    from fiscal_intel.sensors import run_log_on_success

    warehouse = tmp_path / "w.duckdb"
    settings = load_settings(landing=str(FIXTURE), warehouse=str(warehouse))
    selection = dg.AssetSelection.groups("ref", "raw")
    (tmp_path / "home").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        result = dg.materialize([*defs.assets, *defs.asset_checks], selection=selection,
                                resources=build_resources(settings), instance=instance)
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        events = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event]
        (success,) = [e for e in events if e.event_type == dg.DagsterEventType.RUN_SUCCESS]
        context = dg.build_run_status_sensor_context(
            sensor_name="run_log_on_success", dagster_event=success,
            dagster_instance=instance, dagster_run=run,
            resources={"settings": build_resources(settings)["settings"]},
        )
        run_log_on_success(context)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select run_id, status, files_loaded, rows_loaded, rows_quarantined, checks_passed "
            "from ops.run_log"
        ).fetchall()
    assert rows == [(result.run_id, "success", 7, 41, 3, rows[0][5])]
    assert rows[0][5] >= 7  # every raw asset's load-accounting check, at least
