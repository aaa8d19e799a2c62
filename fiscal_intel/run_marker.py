"""The run going on now, in a small file beside the warehouse that anyone can read.

While a run writes the warehouse nobody else may open it, not even read-only, so ``status``
cannot read that run's ``ops.run_log`` row. The run therefore also writes what it is doing to
``warehouse.duckdb.run.json`` (replaced atomically at its start, at each stage and at its end).
A marker that says ``running`` while the writer lock is free belongs to a run that died.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any


def marker_path(warehouse: str | Path) -> Path:
    return Path(f"{warehouse}.run.json")


def write_marker(
    warehouse: str | Path,
    run_id: str,
    started_at: datetime,
    status: str,
    stage: str | None,
    record: dict | None = None,
) -> None:
    """Record the run's state (a failure to write it never stops the run). ``waiting``: a
    department's municipality run between its two phases (``record``: what its second phase
    needs of its first, ``fiscal_intel.runner.record_summary``)."""
    path = marker_path(warehouse)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    data = {
        "run_id": run_id,
        "pid": os.getpid(),
        "started_at": started_at.isoformat(timespec="seconds"),
        "status": status,
        "stage": stage,
        **({"record": record} if record is not None else {}),
    }
    try:
        tmp.write_text(json.dumps(data, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def read_marker(warehouse: str | Path) -> dict[str, Any] | None:
    try:
        data = json.loads(marker_path(warehouse).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
