"""Materialise the pipeline stage by stage, as the CLI and the tests do.

Each stage (an asset group) is one in-process Dagster run over the same definitions, so a stage
can be timed and reported, and a failed blocking check stops the stages after it with its reason.
The whole run holds the warehouse's writer lock. It writes its ``ops.run_log`` row first, as
``running`` (and marks ``died`` the rows of runs that were killed), updates it when it ends, and
on success publishes the read-only copy that readers open (``fiscal_intel.published``).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import dagster as dg
import duckdb

from fiscal_intel.jobs import STAGES
from fiscal_intel.locking import warehouse_lock
from fiscal_intel.partitions import all_tax_years, with_tax_years
from fiscal_intel.published import partial_path, publication_interrupted, publish
from fiscal_intel.resources import build_resources
from fiscal_intel.run_marker import write_marker
from fiscal_intel.settings import Settings
from fiscal_intel.sqlfiles import run_sql

# Stages that hold tax-year-partitioned assets.
PARTITIONED_STAGES = {"staging"}


class PipelineError(Exception):
    """A stage failed; the message is one line that says which asset or check and why."""

    stages: list[StageResult]  # what the run did, the failed stage included (for its profile)


@dataclass
class StageResult:
    stage: str
    seconds: float
    assets: int
    metadata: dict[str, dict] = field(default_factory=dict)
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)  # ERROR and WARN alike
    steps: dict[str, float] = field(default_factory=dict)  # seconds per Dagster step key
    peak_rss_bytes: int | None = None  # the process's peak resident memory during the stage


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


def one_line(message: str) -> str:
    """The whole message on one line: a line break (a quoted header spanning lines, a Dagster
    error with its cause) becomes ' / ' rather than cutting the reason short."""
    return " / ".join(line.strip() for line in message.strip().splitlines() if line.strip())


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
            return f"{event.step_key}: {one_line(message)}"
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
        line = f"check {key} failed: {one_line(evaluation.description or '')}"
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
    steps = {
        e.step_key: e.event_specific_data.duration_ms / 1000
        for e in events
        if e.event_type == dg.DagsterEventType.STEP_SUCCESS and e.step_key is not None
    }
    return StageResult(stage, seconds, assets, metadata, passed, failed, steps)


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
                _publish(settings, record)
            write_marker(settings.warehouse, record.run_id, record.started_at, record.status,
                         record.failed_stage)
    return record.stages


# A run that built every table (``incomplete``: every table, from the readable files) is
# published; a failed or killed one is not, so readers never see a half-built warehouse. Nor is
# a run of some stages only (tests, benchmarks): it may finish what a killed run left half done.
PUBLISHED = ("success", "incomplete")


def _publish(settings: Settings, record: RunRecord) -> None:
    try:
        publish(settings.warehouse)
    except (OSError, duckdb.Error) as exc:
        record.status = "failed"
        record.message = f"could not publish the read-only copy for readers: {exc}"
        write_run_log(settings, record)
        raise PipelineError(record.message) from exc


def begin_run_log(settings: Settings, record: RunRecord) -> None:
    """Before any stage: mark ``died`` the runs that never finished (we hold the lock, so their
    process is gone), finish a publication a killed run left half-copied, and write this run's
    row as ``running`` (plus the marker ``status`` reads while the warehouse is busy)."""
    write_marker(settings.warehouse, record.run_id, record.started_at, "running", None)
    warehouse = build_resources(settings)["warehouse"]
    try:
        with warehouse.get_connection() as con:
            con.execute("create schema if not exists ops")
            run_sql(con, "ops/run_log")
            con.execute(
                "update ops.run_log set status = 'died', message = coalesce(message, "
                "'the run ended without finishing (killed, or the machine stopped)') "
                "where status = 'running'"
            )
            latest = con.execute(
                "select status from ops.run_log order by started_at desc limit 1"
            ).fetchall()
        if publication_interrupted(settings.warehouse) and latest and latest[0][0] in PUBLISHED:
            try:
                publish(settings.warehouse)  # the last run finished but died while copying
            except OSError as exc:  # this run publishes again at its end
                print(f"fiscal-intel: could not finish the last publication: {exc}",
                      file=sys.stderr)  # fmt: skip
        with warehouse.get_connection() as con:
            con.execute(
                "insert into ops.run_log (run_id, started_at, status, landing) "
                "values (?, ?, 'running', ?)",
                [record.run_id, record.started_at, str(settings.landing)],
            )
    except duckdb.Error as exc:
        print(f"fiscal-intel: could not write ops.run_log: {exc}", file=sys.stderr)


def _run_stages(
    settings: Settings,
    stages: tuple[str, ...],
    record: RunRecord,
    on_stage: Callable[[StageResult], None] | None,
    log_level: str,
) -> None:
    resources = build_resources(settings)
    definitions = with_tax_years(_assets_and_checks(), settings)  # the run's tax years
    from fiscal_intel import instance as dagster_instance

    # Recorded in the persistent instance (DAGSTER_HOME, else data/dagster_home), so the UI
    # shows the history of command-line runs.
    with dagster_instance.persistent_instance(settings.warehouse) as instance:
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
            _, blocking, _ = _check_outcomes(events)
            if blocking:
                record.failed_stage = stage
                raise PipelineError(f"stage {stage}: {blocking[0]}")
            if not result.success:
                record.failed_stage = stage
                raise PipelineError(f"stage {stage}: {_failure_reason(events)}")
            if on_stage:
                on_stage(stage_result)


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
            from fiscal_intel.catalogue import comment_sql_table

            comment_sql_table(con, "ops/run_log")
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
            # The row written as `running` at the start is replaced by the finished one.
            con.execute("begin transaction")
            con.execute("delete from ops.run_log where run_id = ?", [record.run_id])
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
            con.execute("commit")
    except duckdb.Error as exc:
        print(f"fiscal-intel: could not write ops.run_log: {exc}", file=sys.stderr)


# ----------------------------------------------------------------------------------------------
# Profiling: where a run's time and memory go (``fiscal-intel run --profile``, benchmarks/)
# ----------------------------------------------------------------------------------------------
# The benchmark's phases, in pipeline order; "overhead" is the time outside any Dagster step.
PHASES: tuple[str, ...] = (
    "generate", "ingest", "validate", "staging", "features", "train", "score", "marts", "overhead"
)  # fmt: skip

_peak_before_reset = 0  # the highest watermark seen before the last reset (the process's peak)
_rss_reset_works: bool | None = None


def _vm_hwm_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_rss_bytes() -> int:
    """The process's resident-memory high-water mark since the last :func:`reset_peak_rss`.

    Where the kernel's watermark cannot be read or reset (not Linux, a locked-down /proc) this is
    the peak of the whole process so far: an upper bound of the stage's own.
    """
    hwm = _vm_hwm_bytes()
    if hwm is not None:
        return hwm
    try:
        import resource  # POSIX only: elsewhere there is no process watermark to read
    except ImportError:
        return 0

    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def reset_peak_rss() -> bool:
    """Start a new high-water mark (Linux: ``5`` into ``/proc/self/clear_refs``).

    The watermark being dropped is kept, so :func:`process_peak_rss_bytes` stays the peak of the
    whole process. Returns whether the kernel's mark was reset.
    """
    global _peak_before_reset, _rss_reset_works
    _peak_before_reset = max(_peak_before_reset, peak_rss_bytes())
    if _rss_reset_works is False:
        return False
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
        _rss_reset_works = True
    except OSError:
        _rss_reset_works = False
    return _rss_reset_works


def process_peak_rss_bytes() -> int:
    """The peak resident memory of the whole process so far, across resets."""
    return max(_peak_before_reset, peak_rss_bytes())


def process_seconds() -> float | None:
    """Seconds since this process started (interpreter start-up and imports included), or None.

    Linux: the process's start time in clock ticks since boot (``/proc/self/stat``, field 22)
    against ``/proc/uptime``, both on the boot clock, so resolution is one tick (10 ms).
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            # The command name (field 2) may hold spaces: fields are counted after its ')'.
            after_name = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as uptime:
            up = float(uptime.read().split()[0])
        return max(up - int(after_name[19]) / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError, AttributeError):  # not Linux: no /proc, no sysconf
        return None


@lru_cache(maxsize=1)
def _check_step_keys() -> frozenset[str]:
    return frozenset(
        d.node_def.name for d in _assets_and_checks() if isinstance(d, dg.AssetChecksDefinition)
    )


def step_phase(step_key: str) -> str:
    """The benchmark phase a Dagster step belongs to, from its key (``raw__payments`` …)."""
    if step_key in _check_step_keys():
        return "validate"
    prefix, _, name = step_key.partition("__")
    if prefix in ("ref", "raw"):
        return "ingest"
    if prefix in ("staging", "features"):
        return prefix
    if prefix == "scoring":
        # The models are fitted in risk_models (and refitted as of a past date in the backtest);
        # the *_scores steps apply them. Until scoring is split, *_scores also trains.
        return "train" if name in ("risk_models", "backtest") else "score"
    return "marts"  # marts, exports and the evaluation against truth


def run_profile(
    stages: list[StageResult],
    *,
    pipeline_seconds: float,
    startup_seconds: float | None,
    generate_seconds: float = 0.0,
    total_seconds: float | None = None,
    status: str = "success",
) -> dict[str, Any]:
    """Where a run's time and memory went, by stage, step and benchmark phase (JSON-ready).

    ``startup_seconds`` is the process's age when the pipeline started (interpreter, imports and,
    for the demo, generating the data); ``total_seconds`` its age now. Every second of
    ``total_seconds`` is in exactly one phase: what no Dagster step accounts for is "overhead",
    split into start-up, Dagster's own time around the steps of each stage, the rest of the
    pipeline call (lock, resources, run log) and what came after it (the printed summary).
    """
    stage_rows = []
    phases: dict[str, dict[str, Any]] = {
        p: {"seconds": 0.0, "steps": 0, "peak_rss_bytes": None} for p in PHASES
    }
    phases["generate"]["seconds"] = generate_seconds
    in_steps = 0.0
    for stage in stages:
        step_sum = sum(stage.steps.values())
        in_steps += step_sum
        stage_rows.append(
            {
                "stage": stage.stage,
                "seconds": stage.seconds,
                "steps_seconds": step_sum,
                "overhead_seconds": stage.seconds - step_sum,
                "peak_rss_bytes": stage.peak_rss_bytes,
                "steps": {
                    key: {"seconds": seconds, "phase": step_phase(key)}
                    for key, seconds in sorted(stage.steps.items())
                },
            }
        )
        for key, seconds in stage.steps.items():
            phase = phases[step_phase(key)]
            phase["seconds"] += seconds
            phase["steps"] += 1
            # A stage's peak is the only memory measure finer than the run: a phase gets the
            # highest peak among the stages its steps ran in.
            if stage.peak_rss_bytes is not None:
                phase["peak_rss_bytes"] = max(phase["peak_rss_bytes"] or 0, stage.peak_rss_bytes)
    in_stages = sum(s.seconds for s in stages)
    startup = None if startup_seconds is None else max(startup_seconds - generate_seconds, 0.0)
    after = None
    if total_seconds is not None and startup_seconds is not None:
        after = max(total_seconds - startup_seconds - pipeline_seconds, 0.0)
    overhead = {
        "startup": startup,
        "dagster_around_steps": in_stages - in_steps,
        "pipeline_outside_stages": pipeline_seconds - in_stages,
        "after_pipeline": after,
    }
    phases["overhead"]["seconds"] = sum(v for v in overhead.values() if v is not None)
    if total_seconds is None:
        total_seconds = generate_seconds + in_steps + phases["overhead"]["seconds"]
    return {
        "status": status,
        "total_seconds": total_seconds,
        "pipeline_seconds": pipeline_seconds,
        "peak_rss_bytes": process_peak_rss_bytes(),
        "peak_rss_method": (
            "VmHWM, reset at each stage start"
            if _rss_reset_works
            else "process high-water mark so far (the kernel's could not be reset)"
        ),
        "phases": phases,
        "overhead": overhead,
        "stages": stage_rows,
    }
