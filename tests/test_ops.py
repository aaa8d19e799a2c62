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

    # Run what the sensor asked for (after a first full load) and find the new payment.
    settings = load_settings(landing=str(landing), warehouse=str(warehouse))
    resources = build_resources(settings)
    everything = [*defs.assets, *defs.asset_checks]
    with dg.DagsterInstance.ephemeral() as instance:
        full = dg.materialize(everything, resources=resources, instance=instance)
        assert full.success
        triggered = dg.materialize(
            everything, selection=request.asset_selection, resources=resources, instance=instance
        )
        assert triggered.success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(
            "select count(*) from marts.revenue_monthly where month = '2024-06-01'"
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
