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
    MUNICIPALITY_JOB,
    MUNICIPALITY_WAREHOUSE,
    department_job,
    municipality_job,
    municipality_partitions,
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
    jobs=[municipality_job, department_job],
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
    pending = bool(changed) or bool(cursor.get("pending"))
    skip = None
    if changed:
        pass  # the view waits for these runs: asked for on a later tick
    elif pending and not _municipalities_in_progress(context.instance, sorted(known)):
        # Every municipality run asked for has finished (built or failed): the view, once.
        requests.append(
            dg.RunRequest(
                job_name=DEPARTMENT_JOB,
                run_key=f"department-{_fingerprint_key(current)}-{tick}",
                tags={"fiscal_intel/trigger": "department_landing"},
            )
        )
        pending = False
    elif pending:
        skip = "waiting for the municipality runs to finish before the department's view"
    else:
        skip = f"no new or changed municipality folder in {landing}"
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


def _municipalities_in_progress(instance: dg.DagsterInstance, codes: list[str]) -> bool:
    """True while a municipality partition has a run queued or going."""
    if not codes:
        return False
    status = (
        instance.get_status_by_partition(MUNICIPALITY_WAREHOUSE, codes, municipality_partitions)
        or {}
    )
    return any(s == dg.AssetPartitionStatus.IN_PROGRESS for s in status.values())


department_sensors = [department_landing_sensor]
