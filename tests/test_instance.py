"""Command-line runs are recorded in a persistent Dagster instance the UI reads, and nothing
starts a run by itself when the UI opens: every sensor and schedule starts STOPPED."""

from __future__ import annotations

import dagster as dg

from fiscal_intel.instance import WalSqliteEventLogStorage, dagster_home, ensure_dagster_home


def test_dagster_home_defaults_beside_the_warehouse(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    assert dagster_home(warehouse) == tmp_path / "data" / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    assert dagster_home(warehouse) == tmp_path / "elsewhere"


def test_dagster_home_is_created_with_a_config_that_is_never_rewritten(tmp_path) -> None:
    home = ensure_dagster_home(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, WalSqliteEventLogStorage)
    assert (home / "history" / "runs" / "index.db").is_file()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    ensure_dagster_home(home)
    assert "enabled: true" in (home / "dagster.yaml").read_text()


def test_cli_runs_are_in_the_persistent_instance(demo_run) -> None:
    home = demo_run["warehouse"].parent / "dagster_home"
    assert (home / "dagster.yaml").is_file()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
    # One run per `fiscal-intel run`, tagged with its stages (comma-separated).
    stages = {s for r in runs for s in r.tags.get("fiscal_intel/stage", "").split(",")}
    assert stages >= {s.stage for s in demo_run["stages"]}
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    assert len({r.tags["fiscal_intel/run_id"] for r in runs}) == 1


def test_nothing_that_launches_runs_starts_by_itself() -> None:
    """Every schedule and every sensor that can request a run starts STOPPED; only the run-log
    recorders (run-status sensors: they react to finished runs, never request one) run."""
    from fiscal_intel.definitions import defs

    sensors = list(defs.sensors or [])
    schedules = list(defs.schedules or [])
    assert schedules
    assert all(s.default_status == dg.DefaultScheduleStatus.STOPPED for s in schedules)
    running = {s.name for s in sensors if s.default_status == dg.DefaultSensorStatus.RUNNING}
    assert running == {"run_log_on_success", "run_log_on_failure"}
    assert all(isinstance(s, dg.RunStatusSensorDefinition) for s in sensors if s.name in running)
    landing = next(s for s in sensors if s.name == "landing_files_sensor")
    assert landing.default_status == dg.DefaultSensorStatus.STOPPED


def test_run_log_sensor_leaves_cli_runs_to_the_cli(monkeypatch) -> None:
    """A CLI run is in the same instance now: the run-status sensor must not log it twice."""
    from types import SimpleNamespace

    import fiscal_intel.sensors as sensors
    from fiscal_intel.resources import FiscalSettings
    from fiscal_intel.sensors import _record_finished_run

    written = []
    monkeypatch.setattr(sensors, "write_run_log", lambda *a: written.append(a))
    run = SimpleNamespace(tags={"fiscal_intel/run_id": "abc"}, run_id="r1", job_name="staging")
    _record_finished_run(SimpleNamespace(dagster_run=run), "success", FiscalSettings())
    assert written == []


def test_dg_check_defs_loads_the_code_location() -> None:
    """`dg check defs` (dagster-dg-cli, [tool.dg] in pyproject.toml) validates the definitions."""
    import subprocess
    import sys
    from pathlib import Path

    dg_cli = Path(sys.executable).parent / "dg"
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [str(dg_cli), "check", "defs"], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All definitions loaded successfully" in done.stdout + done.stderr


def _import_instance(_: int) -> None:
    import fiscal_intel.instance  # noqa: F401  (dagster and sqlalchemy imported before the race)


def _open_and_list(warehouse: str) -> int:
    from fiscal_intel.instance import persistent_instance

    with persistent_instance(warehouse) as instance:
        return len(instance.get_runs())


def test_a_new_home_opened_by_several_processes_at_once_stays_usable(tmp_path) -> None:
    """A department's municipalities start together and share one new folder: each opening
    creates the SQLite schemas, and two at once left two Alembic version rows that broke every
    later run ("more than one head present")."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(max_workers=4, mp_context=get_context("spawn")) as pool:
        # Workers import everything first, so that their openings coincide; three new folders.
        list(pool.map(_import_instance, range(4)))
        for attempt in range(3):
            warehouse = str(tmp_path / f"wh{attempt}" / "05001.duckdb")
            assert list(pool.map(_open_and_list, [warehouse] * 4)) == [0, 0, 0, 0]
            assert _open_and_list(warehouse) == 0
