"""The department's landing sensor: a new municipality folder becomes a new partition and a run.

Each tick scans the department landing (the ``landing`` setting: one subfolder per DANE code),
adds every folder named by a DIVIPOLA code that is not yet a partition, and asks for a run of
each municipality whose files are new or changed since the last tick (a fingerprint of each
folder's files in the cursor). A folder that is no DIVIPOLA code is refused and named. Once the
municipality runs it asked for have all finished, it asks for the department's view (the pooled
models, ``department.duckdb`` and its report) over every municipality built.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from fiscal_intel.department.landing import municipality_folders, unknown_codes
from fiscal_intel.department.partitions import (
    DEPARTMENT_JOB,
    LISTS_JOB,
    MUNICIPALITY_JOB,
    MUNICIPALITY_MODELS,
    MUNICIPALITY_WAREHOUSE,
    POOLED_JOB,
    department_job,
    lists_job,
    municipality_job,
    municipality_partitions,
    partition_statuses,
    pooled_job,
)
from fiscal_intel.resources import FiscalSettings
from fiscal_intel.sensors import scan_landing


def folder_fingerprint(folder: Path) -> str:
    """A short hash of a municipality folder's batch files (name, size, mtime): it changes when
    a file appears, is rewritten or leaves; the loader still decides by content what is new."""
    files = json.dumps(scan_landing(folder), sort_keys=True)
    return hashlib.sha256(files.encode()).hexdigest()[:16]


def _fingerprint_key(folders: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(folders, sort_keys=True).encode()).hexdigest()[:16]


@dg.sensor(
    jobs=[municipality_job, pooled_job, lists_job, department_job],
    minimum_interval_seconds=60,
    # Off until the deployment turns it on, like the municipality's landing sensor: opening the
    # UI on a department landing must not start a run of every municipality by itself.
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Adds each new municipality folder (DANE code, checked against DIVIPOLA) of the "
    "department landing as a partition, runs the new or changed municipalities, then the "
    "department's view.",
)
def department_landing_sensor(
    context: dg.SensorEvaluationContext, settings: FiscalSettings
) -> dg.SensorResult:
    landing = settings.landing_path
    cursor = json.loads(context.cursor) if context.cursor else {}
    seen: dict[str, str] = cursor.get("folders", {})
    folders = municipality_folders(landing)
    refused = unknown_codes(list(folders))
    for code in sorted(set(refused) - set(cursor.get("refused", []))):  # once, not every tick
        context.log.warning(
            f"folder {code}/ of {landing} is not a municipality code in DIVIPOLA: not added"
        )
    current = {c: folder_fingerprint(p) for c, p in folders.items() if c not in refused}
    known = set(context.instance.get_dynamic_partitions(municipality_partitions.name))
    new = sorted(set(current) - known)
    changed = sorted(c for c in current if seen.get(c) != current[c] or c in new)
    # Run keys carry the tick's number: a folder back to an earlier state (a file added, then
    # removed) is a change to run again, not a run the daemon already launched under that key.
    tick = cursor.get("tick", 0) + 1
    requests = [
        dg.RunRequest(
            job_name=MUNICIPALITY_JOB,
            partition_key=code,
            run_key=f"{code}-{current[code]}-{tick}",
            tags={"fiscal_intel/municipality": code, "fiscal_intel/trigger": "department_landing"},
        )
        for code in changed
    ]
    # What the department waits for, in order (``pending``): the first runs asked for, then the
    # pooled models, then every municipality's lists, then the view; a changed folder starts
    # again from its first run. ``pending`` True (an older cursor) is the first step.
    pending = cursor.get("pending") or None
    if pending is True:
        pending = "first_runs"
    skip = None
    key = f"{_fingerprint_key(current)}-{tick}"
    tags = {"fiscal_intel/trigger": "department_landing"}
    instance = context.instance
    if changed:
        pending = "first_runs"  # the pooled models wait for these runs: a later tick asks
    elif pending == "first_runs" and not _in_progress(instance, MUNICIPALITY_MODELS, known):
        # Every first run asked for has finished (built or failed): the pooled models, once.
        requests.append(dg.RunRequest(job_name=POOLED_JOB, run_key=f"pooled-{key}", tags=tags))
        pending = "pooled_models"
    elif pending == "pooled_models" and not _job_in_progress(instance, POOLED_JOB):
        # Each municipality's lists, with the choice the pooled models recorded.
        from fiscal_intel.department.assets import first_runs

        built = first_runs(instance, settings.settings)
        requests.extend(
            dg.RunRequest(
                job_name=LISTS_JOB,
                partition_key=code,
                run_key=f"{code}-lists-{key}",
                tags={**tags, "fiscal_intel/municipality": code},
            )
            for code in built
        )
        pending = "lists" if built else "view"
    elif pending == "lists" and not _in_progress(instance, MUNICIPALITY_WAREHOUSE, known):
        pending = "view"
    if pending == "view":
        # Every municipality's lists have finished (built or failed): the view, once.
        requests.append(
            dg.RunRequest(job_name=DEPARTMENT_JOB, run_key=f"department-{key}", tags=tags)
        )
        pending = None
    if not requests:
        skip = (
            f"waiting for the department's runs to finish ({pending.replace('_', ' ')})"
            if pending
            else f"no new or changed municipality folder in {landing}"
        )
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=(
            [municipality_partitions.build_add_request(new)] if new else []
        ),
        cursor=json.dumps(
            {"folders": current, "pending": pending, "refused": sorted(refused), "tick": tick},
            sort_keys=True,
        ),
        skip_reason=skip,
    )


def _in_progress(instance: dg.DagsterInstance, asset: dg.AssetKey, codes: set[str]) -> bool:
    """True while a municipality partition of ``asset`` has a run queued or going."""
    status = partition_statuses(instance, asset, codes)
    return any(s == dg.AssetPartitionStatus.IN_PROGRESS for s in status.values())


def _job_in_progress(instance: dg.DagsterInstance, job: str) -> bool:
    """True while a run of ``job`` is queued or going (created and not finished)."""
    from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES

    return bool(
        instance.get_run_records(
            dg.RunsFilter(job_name=job, statuses=list(NOT_FINISHED_STATUSES)), limit=1
        )
    )


department_sensors = [department_landing_sensor]
