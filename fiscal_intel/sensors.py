"""Sensors: new files in the landing folder start a run of what they affect."""

import hashlib
import json
from datetime import datetime
from pathlib import Path

import dagster as dg

from fiscal_intel.ingest.loader import landing_files
from fiscal_intel.ingest.sources import SOURCES
from fiscal_intel.jobs import TRAINING, everything
from fiscal_intel.partitions import all_tax_years
from fiscal_intel.resources import FiscalSettings
from fiscal_intel.run_events import failure_reason, stage_result_of
from fiscal_intel.run_log import RunRecord, write_run_log


def scan_landing(landing: Path) -> dict[str, list[int]]:
    """Every batch file under landing as ``source/file -> [size, mtime_ns]``.

    Size and mtime are enough to notice a new or rewritten file cheaply; the loader decides by
    content (sha256) whether it is really new.
    """
    found: dict[str, list[int]] = {}
    for source in SOURCES:
        for path in landing_files(landing / source):
            stat = path.stat()
            found[f"{source}/{path.name}"] = [stat.st_size, stat.st_mtime_ns]
    return found


def changed_files(seen: dict[str, list[int]], current: dict[str, list[int]]) -> list[str]:
    """Files new, rewritten or gone since the last scan (a file that left landing takes its
    rows out of raw in the next run)."""
    return sorted(n for n in current.keys() | seen.keys() if seen.get(n) != current.get(n))


@dg.sensor(
    job=everything,
    minimum_interval_seconds=60,
    # Off until the deployment turns it on (UI toggle or `dagster sensor start`): opening the UI
    # on a landing folder with files must not launch a full run by itself.
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts a run of the affected sources and everything downstream when files "
    "appear or change in the landing folder (the models are retrained only for new audits).",
)
def landing_files_sensor(
    context: dg.SensorEvaluationContext, settings: FiscalSettings
) -> dg.SensorResult | dg.SkipReason:
    seen = json.loads(context.cursor) if context.cursor else {}
    current = scan_landing(settings.landing_path)
    changed = changed_files(seen, current)
    if not changed:
        return dg.SkipReason(f"no new files in {settings.landing}")
    sources = sorted({name.split("/", 1)[0] for name in changed})
    selection = dg.AssetSelection.assets(*(dg.AssetKey(["raw", s]) for s in sources)).downstream()
    if "audits" not in sources:
        # New payments or returns change the cases, not what past audits teach: score them with
        # the stored models (retraining, and its backtest, cost minutes at national scale).
        selection = selection - TRAINING
    keys = sorted(selection.resolve(context.repository_def.asset_graph))
    run_key = hashlib.sha256(
        json.dumps({n: current.get(n) for n in changed}, sort_keys=True).encode()
    ).hexdigest()[:16]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=run_key,
                asset_selection=keys,
                tags={
                    "fiscal_intel/trigger": "landing",
                    "fiscal_intel/sources": ",".join(sources),
                    **all_tax_years(settings.settings),
                },
            )
        ],
        cursor=json.dumps(current, sort_keys=True),
    )



def _record_finished_run(
    context: dg.RunStatusSensorContext, status: str, settings: FiscalSettings
) -> None:
    """Write a run launched by the daemon or the UI into ``ops.run_log``, as CLI runs are, in
    the warehouse of the code location's settings (its ``settings`` resource)."""
    run = context.dagster_run
    if "fiscal_intel/run_id" in run.tags:
        # A stage of a command-line run (recorded in the same Dagster instance since runs are
        # persistent): the command writes its own line for the whole run.
        return
    events = [
        entry.dagster_event
        for entry in context.instance.all_logs(run.run_id)
        if entry.dagster_event is not None
    ]
    stats = context.instance.get_run_stats(run.run_id)
    started = datetime.fromtimestamp(stats.start_time) if stats.start_time else datetime.now()
    seconds = (stats.end_time or started.timestamp()) - started.timestamp()
    record = RunRecord(run.run_id, started, [stage_result_of(run.job_name, seconds, events)])
    record.status = status
    if status == "failed":
        record.failed_stage = run.job_name
        record.message = failure_reason(events)
    run_settings = settings.settings
    write_run_log(run_settings, record)
    if status == "success":  # what readers and BI tools open (fiscal_intel.published)
        from fiscal_intel.published import publish

        publish(run_settings.warehouse, timeout=run_settings.lock_timeout)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    # Running by default: it only records (and publishes) runs someone else launched; it never
    # requests one, so opening the UI still starts nothing.
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records every successful run of this code location in ops.run_log.",
)
def run_log_on_success(context: dg.RunStatusSensorContext, settings: FiscalSettings) -> None:
    _record_finished_run(context, "success", settings)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.FAILURE,
    # Running by default: it only records (and publishes) runs someone else launched; it never
    # requests one, so opening the UI still starts nothing.
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records every failed run of this code location in ops.run_log, with why.",
)
def run_log_on_failure(context: dg.RunStatusSensorContext, settings: FiscalSettings) -> None:
    _record_finished_run(context, "failed", settings)


sensors = [landing_files_sensor, run_log_on_success, run_log_on_failure]
