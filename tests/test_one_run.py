"""A pipeline run is one Dagster run: its stages execute in order, each stage's result is split
out of the run's events, and a failed blocking check stops everything after its stage."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from fiscal_intel.jobs import STAGES
from fiscal_intel.run_marker import read_marker
from fiscal_intel.runner import PipelineError, _step_stages, assets_and_checks, run_pipeline
from fiscal_intel.settings import load_settings
from fiscal_intel.validation.gx import ExpectationOutcome, SuiteOutcome

FIXTURE = Path(__file__).parent / "fixtures" / "landing_small"


def test_a_cli_run_is_one_dagster_run_executing_the_stages_in_order(demo_run) -> None:
    home, settings = demo_run["warehouse"].parent / "dagster_home", demo_run["settings"]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].tags["fiscal_intel/stage"] == ",".join(STAGES)
        started = [
            entry.step_key
            for entry in instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.STEP_START)
        ]
        # The all-tax-years range tags of the one run: each partitioned table is one step that
        # materialises every tax year.
        years = {str(y) for y in range(settings.first_tax_year, settings.last_tax_year + 1)}
        partitioned = [
            key
            for d in assets_and_checks()
            if isinstance(d, dg.AssetsDefinition) and d.partitions_def is not None
            for key in d.keys
        ]
        assert partitioned
        for key in partitioned:
            assert instance.get_materialized_partitions(key) == years, key
    assert len(started) == len(set(started))  # every step once
    stage_of = _step_stages()
    order = [STAGES.index(stage_of[step]) for step in started]
    assert order == sorted(order)  # never a step of a stage before one of the stage before it
    assert set(order) == set(range(len(STAGES)))
    # The per-stage results split from the one run account for every step it ran.
    assert sum(len(s.steps) for s in demo_run["stages"]) == len(started)
    for stage in demo_run["stages"]:
        assert {stage_of[step] for step in stage.steps} == {stage.stage}
        assert sum(stage.steps.values()) <= stage.seconds


def test_a_failed_blocking_check_stops_the_stages_after_it(tmp_path: Path, monkeypatch) -> None:
    from fiscal_intel.assets import checks

    real = checks.validate_staged

    def planted(con: duckdb.DuckDBPyConnection, table: str) -> SuiteOutcome:
        if table != "stg_payments":
            return real(con, table)
        bad = ExpectationOutcome("expect_column_values_to_be_unique", "payment_id", False, 2, [])
        return SuiteOutcome(table, False, 4, [bad])

    monkeypatch.setattr(checks, "validate_staged", planted)
    warehouse = tmp_path / "w.duckdb"
    settings = load_settings(
        landing=str(FIXTURE), warehouse=str(warehouse), max_quarantine_share=1.0
    )
    done: list[str] = []
    with pytest.raises(PipelineError) as failure:
        run_pipeline(settings, on_stage=lambda stage: done.append(stage.stage))
    assert str(failure.value).startswith(
        "stage staging: check staging/stg_payments:expectations failed: stg_payments: "
        "column_values_to_be_unique on payment_id (2 rows"
    )
    assert done == ["ref", "raw"]  # the failed stage is not reported as done
    assert [s.stage for s in failure.value.stages] == ["ref", "raw", "staging"]
    staging = failure.value.stages[-1]
    assert "staging__stg_payments" in staging.steps  # its checks fail the asset's own step
    assert read_marker(warehouse)["status"] == "failed"
    assert read_marker(warehouse)["stage"] == "staging"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        schemas = {
            s for (s,) in con.execute("select distinct schema_name from duckdb_tables()").fetchall()
        }
        # The other staged tables were built; nothing after the staging stage ran.
        assert "staging" in schemas and not schemas & {"features", "scoring", "marts"}
        failed, stage = con.execute(
            "select status, failed_stage from ops.run_log order by started_at desc limit 1"
        ).fetchone()
    assert (failed, stage) == ("failed", "staging")
