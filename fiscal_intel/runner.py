"""Materialise the pipeline stage by stage, as the CLI and the tests do.

Each stage (an asset group) is one in-process Dagster run over the same definitions, so a stage
can be timed and reported, and a failed blocking check stops the stages after it with its reason.
The whole run holds the warehouse's writer lock and ends by writing a row to ``ops.run_log``.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dagster as dg
import duckdb

from fiscal_intel.jobs import STAGES
from fiscal_intel.locking import warehouse_lock
from fiscal_intel.partitions import ALL_TAX_YEARS
from fiscal_intel.resources import build_resources
from fiscal_intel.settings import Settings
from fiscal_intel.sqlfiles import run_sql

# Stages that hold tax-year-partitioned assets.
PARTITIONED_STAGES = {"staging"}


class PipelineError(Exception):
    """A stage failed; the message is one line that says which asset or check and why."""


@dataclass
class StageResult:
    stage: str
    seconds: float
    assets: int
    metadata: dict[str, dict] = field(default_factory=dict)
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)  # ERROR and WARN alike


@dataclass
class RunRecord:
    """What one run did, for ``ops.run_log``."""

    run_id: str
    started_at: datetime
    stages: list[StageResult] = field(default_factory=list)
    status: str = "running"
    failed_stage: str | None = None
    message: str | None = None


def _assets_and_checks() -> list:
    from fiscal_intel.assets.checks import asset_checks
    from fiscal_intel.definitions import all_assets

    return [*all_assets, *asset_checks]


def _failure_reason(events: list[dg.DagsterEvent]) -> str:
    for event in events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            message = error.message.strip() if error else "unknown error"
            # Dagster wraps user errors: the cause says what actually went wrong.
            while error is not None and error.cause is not None:
                error = error.cause
                message = error.message.strip()
            if event.step_failure_data.user_failure_data is not None:
                message = event.step_failure_data.user_failure_data.description or message
            return f"{event.step_key}: {message.splitlines()[0]}"
    return "the run failed without a step failure (see the Dagster logs)"


def _check_outcomes(events: list[dg.DagsterEvent]) -> tuple[int, list[str], list[str]]:
    """Passed count, failed blocking (ERROR) checks, and every failed check, as lines."""
    passed, blocking, failed = 0, [], []
    for event in events:
        if event.event_type != dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            continue
        evaluation = event.event_specific_data
        if evaluation.passed:
            passed += 1
            continue
        key = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        line = f"check {key} failed: {evaluation.description}"
        failed.append(line)
        if evaluation.severity == dg.AssetCheckSeverity.ERROR:
            blocking.append(line)
    return passed, blocking, failed


def stage_result_of(stage: str, seconds: float, events: list[dg.DagsterEvent]) -> StageResult:
    """What a Dagster run did, from its events (in-process result or the event log alike)."""
    materializations = [
        e for e in events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
    ]
    metadata = {
        e.asset_key.to_user_string(): {
            k: v.value for k, v in e.step_materialization_data.materialization.metadata.items()
        }
        for e in materializations
    }
    # A failed raw asset still loaded its good files: its Failure carries what it did.
    for event in events:
        failure = event.step_failure_data if event.is_step_failure else None
        if failure is not None and failure.user_failure_data is not None:
            metadata[event.step_key] = {
                k: v.value for k, v in failure.user_failure_data.metadata.items()
            }
    passed, _, failed = _check_outcomes(events)
    assets = len({e.asset_key for e in materializations})  # one per asset, not per partition
    return StageResult(stage, seconds, assets, metadata, passed, failed)


def run_pipeline(
    settings: Settings,
    *,
    stages: tuple[str, ...] = STAGES,
    on_stage: Callable[[StageResult], None] | None = None,
    on_wait: Callable[[str], None] | None = None,
    log_level: str = "WARNING",
) -> list[StageResult]:
    """Materialise every stage in order; raise :class:`PipelineError` on the first failure.

    Waits for (or, past ``settings.lock_timeout``, refuses) any other run on the same warehouse.
    """
    with warehouse_lock(settings.warehouse, timeout=settings.lock_timeout, on_wait=on_wait):
        record = RunRecord(str(uuid.uuid4()), datetime.now())
        try:
            _run_stages(settings, stages, record, on_stage, log_level)
            record.status = "success"
            from fiscal_intel.assets.raw import unreadable_files

            # With continue_past_unreadable the run built everything but some files failed:
            # the CLI exits 1, and the log must not call that a success.
            unreadable = unreadable_files(record.stages)
            if unreadable:
                record.status = "incomplete"
                record.message = f"{len(unreadable)} unreadable file(s): {unreadable[0]}"
        except PipelineError as exc:
            record.status, record.message = "failed", str(exc)
            raise
        except BaseException as exc:  # even Ctrl-C leaves a line saying the run did not finish
            record.status, record.message = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            write_run_log(settings, record)
    return record.stages


def _run_stages(
    settings: Settings,
    stages: tuple[str, ...],
    record: RunRecord,
    on_stage: Callable[[StageResult], None] | None,
    log_level: str,
) -> None:
    resources = build_resources(settings)
    definitions = _assets_and_checks()
    with dg.DagsterInstance.ephemeral() as instance:
        for stage in stages:
            start = time.perf_counter()
            result = dg.materialize(
                definitions,
                selection=dg.AssetSelection.groups(stage),
                resources=resources,
                instance=instance,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
                # Every tax-year partition in one run: each partitioned table is rebuilt once.
                tags={
                    "fiscal_intel/stage": stage,
                    "fiscal_intel/run_id": record.run_id,
                    **(ALL_TAX_YEARS if stage in PARTITIONED_STAGES else {}),
                },
            )
            events = result.all_events
            stage_result = stage_result_of(stage, time.perf_counter() - start, events)
            record.stages.append(stage_result)
            # A failed blocking check also fails its step: report the check, which says why.
            _, blocking, _ = _check_outcomes(events)
            if blocking:
                record.failed_stage = stage
                raise PipelineError(f"stage {stage}: {blocking[0]}")
            if not result.success:
                record.failed_stage = stage
                raise PipelineError(f"stage {stage}: {_failure_reason(events)}")
            if on_stage:
                on_stage(stage_result)


def _sum_meta(record: RunRecord, name: str) -> int:
    """Sum a load counter over the raw assets (keys ``raw/…``, or ``raw__…`` for failed steps)."""
    return sum(
        int(meta.get(name, 0) or 0)
        for stage in record.stages
        for key, meta in stage.metadata.items()
        if key.startswith(("raw/", "raw__"))
    )


def write_run_log(settings: Settings, record: RunRecord) -> None:
    """Append the run's line to ``ops.run_log`` (a failure here must not hide the run's own)."""
    facts: dict[str, Any] = {"as_of": None, "models": {}, "tables": {}}
    try:
        with build_resources(settings)["warehouse"].get_connection() as con:
            con.execute("create schema if not exists ops")
            run_sql(con, "ops/run_log")
            tables = {
                f"{s}.{t}"
                for s, t in con.execute(
                    "select schema_name, table_name from duckdb_tables() "
                    "where schema_name in ('marts', 'scoring', 'staging')"
                ).fetchall()
            }
            if "staging.as_of_date" in tables:
                facts["as_of"] = con.execute("select as_of from staging.as_of_date").fetchall()[0][
                    0
                ]
            if "scoring.risk_models" in tables:
                facts["models"] = dict(
                    con.execute("select program, model_version from scoring.risk_models").fetchall()
                )
            for table in sorted(t for t in tables if t.startswith("marts.")):
                facts["tables"][table] = con.execute(f"select count(*) from {table}").fetchall()[0][
                    0
                ]
            checks_failed = [line for s in record.stages for line in s.checks_failed]
            con.execute(
                "insert into ops.run_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    record.run_id,
                    record.started_at,
                    datetime.now(),
                    record.status,
                    record.failed_stage,
                    record.message,
                    str(settings.landing),
                    facts["as_of"],
                    _sum_meta(record, "files_loaded"),
                    _sum_meta(record, "files_failed"),
                    _sum_meta(record, "rows_loaded"),
                    _sum_meta(record, "rows_quarantined"),
                    sum(s.checks_passed for s in record.stages),
                    json.dumps(checks_failed, ensure_ascii=False),
                    json.dumps(facts["models"]),
                    json.dumps(facts["tables"]),
                ],
            )
    except duckdb.Error as exc:
        print(f"fiscal-intel: could not write ops.run_log: {exc}", file=sys.stderr)
