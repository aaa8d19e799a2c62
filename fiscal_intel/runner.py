"""Materialise the pipeline stage by stage, as the CLI and the tests do.

Each stage (an asset group) is one in-process Dagster run over the same definitions, so a stage
can be timed and reported, and a failed blocking check stops the stages after it with its reason.
The whole run holds the warehouse's writer lock. It writes its ``ops.run_log`` row first, as
``running`` (and marks ``died`` the rows of runs that were killed), updates it when it ends, and
on success publishes the read-only copy that readers open (``fiscal_intel.published``).

What a run did is read from its events in ``fiscal_intel.run_events``, written to ``ops.run_log``
by ``fiscal_intel.run_log`` and profiled by ``fiscal_intel.profiling``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import dagster as dg
import duckdb

from fiscal_intel.jobs import STAGES
from fiscal_intel.locking import warehouse_lock
from fiscal_intel.partitions import all_tax_years, with_tax_years
from fiscal_intel.profiling import peak_rss_bytes, reset_peak_rss
from fiscal_intel.published import partial_path, publish
from fiscal_intel.resources import WarehouseResource, build_resources
from fiscal_intel.run_events import StageResult, check_outcomes, failure_reason, stage_result_of
from fiscal_intel.run_log import PUBLISHED, RunRecord, begin_run_log, write_run_log
from fiscal_intel.run_marker import write_marker
from fiscal_intel.settings import Settings
from fiscal_intel.warehouse import SHADOWED

# Stages that hold tax-year-partitioned assets.
PARTITIONED_STAGES = {"staging"}


class PipelineError(Exception):
    """A stage failed; the message is one line that says which asset or check and why."""

    stages: list[StageResult]  # what the run did, the failed stage included (for its profile)


def assets_and_checks() -> list:
    """Every asset and asset check of the code location (what a stage run selects from)."""
    from fiscal_intel.assets.checks import asset_checks
    from fiscal_intel.definitions import all_assets

    return [*all_assets, *asset_checks]


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
        begin_run_log(settings, record)
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
            exc.stages = record.stages
            raise
        except BaseException as exc:  # even Ctrl-C leaves a line saying the run did not finish
            record.status, record.message = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            if record.status in PUBLISHED and set(stages) >= set(STAGES):
                # Left behind if we die before the copy takes its name: the next run copies again.
                partial_path(settings.warehouse).touch()
            write_run_log(settings, record)
            if record.status in PUBLISHED and set(stages) >= set(STAGES):
                publish_run(settings, record)
            write_marker(settings.warehouse, record.run_id, record.started_at, record.status,
                         record.failed_stage)
    return record.stages


def publish_run(settings: Settings, record: RunRecord) -> None:
    """Publish the read-only copy of a finished run; if that fails the run is logged as failed."""
    try:
        publish(settings.warehouse)
    except (OSError, duckdb.Error) as exc:
        record.status = "failed"
        record.message = f"could not publish the read-only copy for readers: {exc}"
        write_run_log(settings, record)
        raise PipelineError(record.message) from exc


def _run_stages(
    settings: Settings,
    stages: tuple[str, ...],
    record: RunRecord,
    on_stage: Callable[[StageResult], None] | None,
    log_level: str,
) -> None:
    resources = build_resources(settings)
    definitions = with_tax_years(assets_and_checks(), settings)  # the run's tax years
    from fiscal_intel import instance as dagster_instance

    # Recorded in the persistent instance (DAGSTER_HOME, else data/dagster_home), so the UI
    # shows the history of command-line runs.
    with (
        dagster_instance.persistent_instance(settings.warehouse) as instance,
        _warehouse_kept_open(resources["warehouse"]),
    ):
        for stage in stages:
            write_marker(settings.warehouse, record.run_id, record.started_at, "running", stage)
            if stage == "staging":  # its checks are the first to need GX
                from fiscal_intel.validation.gx import preload_in_background

                preload_in_background()
            reset_peak_rss()
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
                    **(all_tax_years(settings) if stage in PARTITIONED_STAGES else {}),
                },
            )
            events = result.all_events
            stage_result = stage_result_of(stage, time.perf_counter() - start, events)
            stage_result.peak_rss_bytes = peak_rss_bytes()
            if not result.success:
                stage_result.steps.update(_failed_step_seconds(instance, result.run_id))
            record.stages.append(stage_result)
            # A failed blocking check also fails its step: report the check, which says why.
            _, blocking, _ = check_outcomes(events)
            if blocking:
                record.failed_stage = stage
                raise PipelineError(f"stage {stage}: {blocking[0]}")
            if not result.success:
                record.failed_stage = stage
                raise PipelineError(f"stage {stage}: {failure_reason(events)}")
            if on_stage:
                on_stage(stage_result)


@contextmanager
def _warehouse_kept_open(warehouse: WarehouseResource) -> Iterator[None]:
    """Hold one connection to the warehouse for the stages.

    DuckDB shares an open database between the connections of a process opened with the same
    settings: each asset's connection then joins it instead of opening the file, reading its
    catalogue and checkpointing it on close (~0.05 s, 100 times a run; the profile in
    benchmarks/department_cost.md). Committed work is in the write-ahead log, as before, so a
    killed run loses nothing more. Closed before the run log and the publication (which opens
    the file with other settings and checkpoints it). A file attached under another name
    (``fiscal_intel.warehouse.SHADOWED``) is not shared that way: it is opened per asset.
    """
    if Path(warehouse.database).stem.lower() in SHADOWED:
        yield
        return
    with warehouse.unlocked_connection():  # the resource's own settings, so the assets' joins match
        yield


def _failed_step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Seconds per failed step (a failure event carries no duration: start to failure)."""
    started: dict[str, float] = {}
    failed: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[entry.step_key] = entry.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE and entry.step_key in started:
            failed[entry.step_key] = entry.timestamp - started[entry.step_key]
    return failed


def materialize_assets(
    settings: Settings, keys: list[dg.AssetKey], *, log_level: str = "CRITICAL"
) -> StageResult:
    """Materialise these assets only (what they read must exist) in one in-process run, as
    ``fiscal-intel evaluate`` does; raise :class:`PipelineError` naming the failed step and why.

    The caller holds the warehouse lock. The run goes to an ephemeral instance, as it did
    when the command lived in ``scoring/evaluation.py``.
    """
    from fiscal_intel.definitions import all_assets

    start = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            # the assets only, as before: their checks run with the pipeline
            with_tax_years(all_assets, settings),
            selection=dg.AssetSelection.assets(*keys),
            resources=build_resources(settings),
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    events = result.all_events
    if not result.success:
        raise PipelineError(failure_reason(events))
    return stage_result_of("assets", time.perf_counter() - start, events)


@lru_cache(maxsize=1)
def _keys_after_scores() -> frozenset[dg.AssetKey]:
    """The assets that read the score tables (case actions, the ranking and the marts after
    it), found once from the whole graph: a Dagster run of these alone costs a fraction of one
    over every definition."""
    from fiscal_intel.definitions import defs
    from fiscal_intel.scoring.programs import PROGRAMS

    scores = [dg.AssetKey(["scoring", f"{p}_scores"]) for p in PROGRAMS]
    selection = dg.AssetSelection.assets(*scores)
    return frozenset((selection.downstream() - selection).resolve(defs.resolve_asset_graph()))


def rebuild_after_scores(
    settings: Settings, instance: dg.DagsterInstance, log_level: str = "CRITICAL"
) -> str | None:
    """Rebuild what reads the score tables, with their checks, through Dagster like every table
    (the department's pooled step re-scores a municipality, then calls this under its lock);
    None on success, else the failure in one line."""
    keys = _keys_after_scores()
    everything = with_tax_years(assets_and_checks(), settings)  # the run's tax years
    assets = [a for a in everything if isinstance(a, dg.AssetsDefinition) and set(a.keys) & keys]
    checks = [
        c for c in everything
        if isinstance(c, dg.AssetChecksDefinition) and {k.asset_key for k in c.check_keys} & keys
    ]  # fmt: skip
    result = dg.materialize(
        [*assets, *checks],
        resources=build_resources(settings),
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    return None if result.success else failure_reason(result.all_events)
