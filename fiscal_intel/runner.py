"""Materialise the pipeline stage by stage, as the CLI and the tests do.

The stages (asset groups) are one in-process Dagster run over the same definitions: each step
carries its stage's priority, so the run executes the stages in order, and a failed step or
blocking check stops the run before the next stage starts, with its reason. Each stage is still
timed and reported on its own, split out of the run's events as Dagster stores them
(``_StageWatcher``), which also records the stage in progress in the run marker. One run
instead of one per stage saves Dagster's per-run cost five times a run (plan, run record,
planned-materialization events: benchmarks/department_cost.md).

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


# A department runs each municipality in two Dagster runs (#19), its pooled step between them:
# BEFORE_CHOICE builds everything but the score tables and what reads them (all the pooled step
# reads: features, own models, backtest), AFTER_CHOICE the rest, once, with the choice made.
WHOLE, BEFORE_CHOICE, AFTER_CHOICE = "whole", "before_choice", "after_choice"
PHASES = (WHOLE, BEFORE_CHOICE, AFTER_CHOICE)


def run_pipeline(
    settings: Settings,
    *,
    stages: tuple[str, ...] = STAGES,
    on_stage: Callable[[StageResult], None] | None = None,
    on_wait: Callable[[str], None] | None = None,
    log_level: str = "WARNING",
    phase: str = WHOLE,
    record: RunRecord | None = None,
    tags: dict[str, str] | None = None,
) -> list[StageResult]:
    """Materialise every stage in order; raise :class:`PipelineError` on the first failure.

    Waits for (or, past ``settings.lock_timeout``, refuses) any other run on the same warehouse.
    ``phase``: :data:`WHOLE`, or one of a department's two runs of a municipality, each under
    the lock: :data:`BEFORE_CHOICE` starts the run's ``ops.run_log`` row and leaves the run
    ``waiting`` (marker) unpublished; :data:`AFTER_CHOICE` finishes that run (``record``: the
    first phase's, else read back from the marker), logs and publishes it.
    """
    with warehouse_lock(settings.warehouse, timeout=settings.lock_timeout, on_wait=on_wait):
        record = open_run(settings, phase, record)
        try:
            _run_stages(settings, stages, record, on_stage, log_level, phase, tags)
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
            close_run(settings, stages, phase, record)
    return record.stages


def open_run(settings: Settings, phase: str, record: RunRecord | None) -> RunRecord:
    """The record a run of ``phase`` works under (in process or through Celery): a second phase
    takes over its first's (``record``, else the one its marker left waiting) and marks the
    warehouse running again; any other run, or a second phase with no first waiting (the lists
    as a run of their own), starts its ``ops.run_log`` row."""
    if phase == AFTER_CHOICE:
        record = record or waiting_record(settings.warehouse)
        if record is not None:
            write_marker(settings.warehouse, record.run_id, record.started_at, "running", None)
            return record
    record = record or RunRecord(str(uuid.uuid4()), datetime.now())
    begin_run_log(settings, record)
    return record


def close_run(
    settings: Settings, stages: tuple[str, ...], phase: str, record: RunRecord
) -> None:
    """End a run of ``phase``: a first phase that built everything it runs is left ``waiting``
    (its lists come in the second phase, after the pooled step); any other run is finished."""
    if phase == BEFORE_CHOICE and record.status in PUBLISHED:
        record.status = "running"
        write_marker(
            settings.warehouse, record.run_id, record.started_at, "waiting", None,
            record=record_summary(record),
        )  # fmt: skip
    else:
        _finish_run(settings, stages, record)


def _finish_run(settings: Settings, stages: tuple[str, ...], record: RunRecord) -> None:
    """The run's ``ops.run_log`` row, its publication when it built everything, its marker."""
    if record.status in PUBLISHED and set(stages) >= set(STAGES):
        # Left behind if we die before the copy takes its name: the next run copies again.
        partial_path(settings.warehouse).touch()
    write_run_log(settings, record)
    if record.status in PUBLISHED and set(stages) >= set(STAGES):
        publish_run(settings, record)
    write_marker(
        settings.warehouse,
        record.run_id,
        record.started_at,
        record.status,
        record.failed_stage,
    )


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
    phase: str = WHOLE,
    tags: dict[str, str] | None = None,
) -> None:
    """The stages as one Dagster run (one plan, one run record: a sixth of the per-run cost of
    a run per stage), executed stage after stage and stopped after a failed stage, as six runs
    were; each stage's result is split out of the run's events as Dagster stores them.
    ``phase``: all the stages' assets, or a department's part of them (:func:`phase_selection`).
    """
    resources = build_resources(settings)
    definitions = with_tax_years(_ordered_assets_and_checks(), settings)  # the run's tax years
    from fiscal_intel import instance as dagster_instance

    job = dg.Definitions(
        assets=definitions,
        resources=resources,
        jobs=[dg.define_asset_job(RUN_JOB, selection=phase_selection(phase, stages))],
    ).resolve_job_def(RUN_JOB)
    # Recorded in the persistent instance (DAGSTER_HOME, else data/dagster_home), so the UI
    # shows the history of command-line runs.
    with (
        dagster_instance.persistent_instance(settings.warehouse) as instance,
        _warehouse_kept_open(resources["warehouse"]),
    ):
        watcher = _StageWatcher(settings, record, _step_stages(), on_stage)
        run_id = str(uuid.uuid4())
        instance.add_event_listener(run_id, watcher)
        result = job.execute_in_process(
            instance=instance,
            run_id=run_id,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
            tags={
                "fiscal_intel/stage": ",".join(stages),
                "fiscal_intel/run_id": record.run_id,
                # Every tax-year partition in one run: each partitioned table is rebuilt once.
                **(all_tax_years(settings) if PARTITIONED_STAGES & set(stages) else {}),
                **({"fiscal_intel/phase": phase} if phase != WHOLE else {}),
                **(tags or {}),
            },
        )
        watcher.finish()
    merge_stages(record.stages, watcher.done)
    for stage_result in watcher.done:
        events = watcher.events[stage_result.stage]
        # A failed blocking check also fails its step: report the check, which says why.
        _, blocking, _ = check_outcomes(events)
        if blocking:
            record.failed_stage = stage_result.stage
            raise PipelineError(f"stage {stage_result.stage}: {blocking[0]}")
        if any(e.event_type == dg.DagsterEventType.STEP_FAILURE for e in events):
            record.failed_stage = stage_result.stage
            raise PipelineError(f"stage {stage_result.stage}: {failure_reason(events)}")
    if watcher.error is not None:
        raise watcher.error
    if not result.success:  # failed outside any step (e.g. a resource could not start)
        record.failed_stage = watcher.done[-1].stage if watcher.done else stages[0]
        raise PipelineError(f"stage {record.failed_stage}: {failure_reason(result.all_events)}")


def phase_selection(phase: str, stages: tuple[str, ...] = STAGES) -> dg.AssetSelection:
    """The assets (with their checks) of ``stages`` that a run of ``phase`` materialises: all
    of them, those before the department's choice (everything the score tables do not feed), or
    the score tables and everything downstream of them."""
    groups = dg.AssetSelection.groups(*stages)
    if phase == WHOLE:
        return groups
    from fiscal_intel.scoring.programs import PROGRAMS

    lists = dg.AssetSelection.assets(
        *(dg.AssetKey(["scoring", f"{p}_scores"]) for p in PROGRAMS)
    ).downstream()
    if phase == BEFORE_CHOICE:
        return groups - lists
    if phase == AFTER_CHOICE:
        return groups & lists
    raise ValueError(f"unknown phase {phase!r}: one of {', '.join(PHASES)}")


def merge_stages(done: list[StageResult], new: list[StageResult]) -> None:
    """Add ``new`` stage results to ``done``: a stage a first phase already ran (scoring and
    marts run in both of a department's phases) becomes one result, its seconds, steps, assets
    and checks summed, so a run reports each stage once whichever way it ran."""
    by_stage = {r.stage: r for r in done}
    for result in new:
        old = by_stage.get(result.stage)
        if old is None:
            done.append(result)
            by_stage[result.stage] = result
            continue
        old.seconds += result.seconds
        old.assets += result.assets
        old.metadata.update(result.metadata)
        old.checks_passed += result.checks_passed
        old.checks_failed.extend(result.checks_failed)
        old.steps.update(result.steps)
        if result.peak_rss_bytes is not None:
            old.peak_rss_bytes = max(old.peak_rss_bytes or 0, result.peak_rss_bytes)


def record_summary(record: RunRecord) -> dict:
    """What a second phase in another process needs of a run's first (``waiting_record``): its
    id and start, and per stage the counts ``ops.run_log`` sums and the raw assets' metadata."""
    return {
        "started_at": record.started_at.isoformat(),
        "stages": [
            {
                "stage": r.stage, "seconds": r.seconds, "assets": r.assets,
                "checks_passed": r.checks_passed, "checks_failed": r.checks_failed,
                "steps": r.steps, "peak_rss_bytes": r.peak_rss_bytes,
                "metadata": {
                    k: {n: v for n, v in m.items() if isinstance(v, (int, float, str, list))}
                    for k, m in r.metadata.items() if k.startswith(("raw/", "raw__"))
                },
            }
            for r in record.stages
        ]
    }  # fmt: skip


def waiting_record(warehouse: str | Path) -> RunRecord | None:
    """The run a first phase left waiting on ``warehouse`` (its marker), to finish in a second
    phase; None when there is none (the warehouse was built otherwise, or another run came
    between: the second phase is then a run of its own)."""
    from fiscal_intel.run_marker import read_marker

    marker = read_marker(warehouse) or {}
    if marker.get("status") != "waiting" or "record" not in marker:
        return None
    summary = marker["record"]
    record = RunRecord(marker["run_id"], datetime.fromisoformat(summary["started_at"]))
    record.stages = [StageResult(**r) for r in summary["stages"]]
    return record


# The name dg.materialize gives its runs: the runs of `fiscal-intel run` keep it in the UI.
RUN_JOB = "__ephemeral_asset_job__"
PRIORITY_TAG = "dagster/priority"  # Dagster's in-process executor runs higher priorities first


class _StageStopped(dg.DagsterExecutionInterruptedError):
    """Raised from the event listener when a stage after a failed one is about to start: the
    way to end an in-process Dagster run early, which Dagster records as a failed run."""


class _StageWatcher:
    """Listens to the run's events as Dagster stores them (in-process, in order, before they
    are logged to the console): records the stage in progress in the run marker, splits the
    run into per-stage results (the wall time from a stage's first step to the next stage's;
    the first also holds the run's start), reports each finished stage, and stops the run
    when a stage after a failed one is about to start."""

    def __init__(
        self,
        settings: Settings,
        record: RunRecord,
        step_stages: dict[str, str],
        on_stage: Callable[[StageResult], None] | None,
    ) -> None:
        self.settings, self.record = settings, record
        self.step_stages, self.on_stage = step_stages, on_stage
        self.events: dict[str, list[dg.DagsterEvent]] = {}
        self.done: list[StageResult] = []
        self.current: str | None = None
        self.failed: str | None = None  # the first stage with a failed step or blocking check
        self.error: BaseException | None = None  # raised by on_stage: re-raised after the run
        self.mark = time.perf_counter()
        self.started: dict[str, float] = {}
        self.failed_steps: dict[str, float] = {}  # a failure event carries no duration

    def __call__(self, entry: dg.EventLogEntry) -> None:
        event, step = entry.dagster_event, entry.step_key
        if event is None or step is None:
            return
        stage = self.step_stages.get(step, self.current or "")
        now = time.perf_counter()
        if event.event_type == dg.DagsterEventType.STEP_START:
            if stage != self.current:
                self._close(now)
                if self.failed is not None or self.error is not None:
                    self.current = None
                    raise _StageStopped(
                        f"stage {stage} not run: stage {self.failed or 'before it'} failed"
                    )
                self._open(stage)
            self.started[step] = now
        self.events.setdefault(stage, []).append(event)
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            self.failed = self.failed or stage
            self.failed_steps[step] = now - self.started.get(step, now)
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                self.failed = self.failed or stage

    def _open(self, stage: str) -> None:
        self.current = stage
        write_marker(
            self.settings.warehouse, self.record.run_id, self.record.started_at, "running", stage
        )
        if stage == "staging":  # its checks are the first to need GX
            from fiscal_intel.validation.gx import preload_in_background

            preload_in_background()
        reset_peak_rss()

    def _close(self, now: float) -> None:
        stage = self.current
        if stage is None:  # the time before the first step goes to the first stage
            return
        events = self.events.get(stage, [])
        result = stage_result_of(stage, now - self.mark, events)
        result.peak_rss_bytes = peak_rss_bytes()
        result.steps.update(
            {k: v for k, v in self.failed_steps.items() if self.step_stages.get(k) == stage}
        )
        self.done.append(result)
        self.mark, self.current = now, None
        if self.on_stage and self.failed is None and self.error is None:
            try:
                self.on_stage(result)
            except BaseException as exc:  # Dagster would swallow it here: kept for the caller
                self.error = exc

    def finish(self) -> None:
        self._close(time.perf_counter())


@lru_cache(maxsize=1)
def _ordered_assets_and_checks() -> tuple:
    """Every asset and check, each step given its stage's priority, so the one run executes
    the stages in order, as six runs did (and stops after a failed one, see _StageWatcher)."""
    from fiscal_intel.jobs import STAGES

    stage_of = _step_stages()
    return tuple(
        _with_priority(d, -STAGES.index(stage_of[d.op.name]))
        if isinstance(d, dg.AssetsDefinition)
        else d  # a spec (an asset fiscal_intel does not build) has no step
        for d in assets_and_checks()
    )


@lru_cache(maxsize=1)
def _step_stages() -> dict[str, str]:
    """The stage (asset group) of each step: an asset's op, or a check's op (the group of the
    asset it checks)."""
    group: dict[dg.AssetKey, str | None] = {}
    for d in assets_and_checks():
        if isinstance(d, dg.AssetSpec):
            group[d.key] = d.group_name
        elif not isinstance(d, dg.AssetChecksDefinition):
            group.update(d.group_names_by_key)
    stages: dict[str, str] = {}
    for d in assets_and_checks():
        if isinstance(d, dg.AssetChecksDefinition):
            stages[d.op.name] = str(group[next(iter(d.check_keys)).asset_key])
        elif isinstance(d, dg.AssetsDefinition):
            stages[d.op.name] = str(d.group_names_by_key[next(iter(d.keys))])
    return stages


def _with_priority(definition: dg.AssetsDefinition, priority: int) -> dg.AssetsDefinition:
    """The same asset or check (same keys, same function) with its op tagged with a Dagster
    step priority: the in-process executor runs the ready step of highest priority first."""
    from dagster._core.definitions.op_definition import OpDefinition

    op = definition.op
    tagged = OpDefinition.dagster_internal_init(
        compute_fn=op.compute_fn,
        name=op.name,
        ins={i.name: dg.In.from_definition(i) for i in op.input_defs},
        outs={o.name: dg.Out.from_definition(o) for o in op.output_defs},
        description=op.description,
        config_schema=op.config_schema,
        required_resource_keys=op.required_resource_keys,
        tags={**op.tags, PRIORITY_TAG: str(priority)},
        version=None,
        retry_policy=op.retry_policy,
        code_version=op._version,  # noqa: SLF001 (what with_replaced_properties passes too)
        pool=op.pool,
    )
    attributes = {**definition.get_attributes_dict(), "node_def": tagged}
    return type(definition).dagster_internal_init(**attributes)


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
            # Checks evaluated in an asset's step (assets/checks.py) are deselected too.
            selection=dg.AssetSelection.assets(*keys).without_checks(),
            resources=build_resources(settings),
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    events = result.all_events
    if not result.success:
        raise PipelineError(failure_reason(events))
    return stage_result_of("assets", time.perf_counter() - start, events)
