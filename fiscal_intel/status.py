"""``fiscal-intel status``: what the last runs did and what is failing, for the engineer on call.

It never gets in a run's way. When no run is going it reads ``ops.run_log`` in the warehouse
itself, holding the writer lock for the few milliseconds that takes (a run starting then waits
that long); a row still ``running`` there belongs to a run whose process is gone, shown as
``died``. While a run goes it reads the history from the published copy and the running run
from its marker file (``fiscal_intel.run_marker``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import duckdb

from fiscal_intel.locking import WarehouseBusy, warehouse_lock
from fiscal_intel.published import published_path
from fiscal_intel.run_marker import read_marker
from fiscal_intel.settings import Settings
from fiscal_intel.warehouse import connect_warehouse

COLUMNS = (
    "started_at, finished_at, status, failed_stage, message, as_of, files_loaded, "
    "rows_loaded, rows_quarantined, checks_passed, checks_failed, model_versions"
)


def _runs(path: Path, runs: int) -> list[tuple] | None:
    """The last ``runs`` rows of ``ops.run_log`` in ``path`` (None: no run log there)."""
    with connect_warehouse(path, read_only=True) as con:
        exists = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'ops' "
            "and table_name = 'run_log'"
        ).fetchall()[0][0]
        if not exists:
            return None
        return con.execute(
            f"select {COLUMNS} from ops.run_log order by started_at desc limit ?", [runs]
        ).fetchall()


def _alive(pid: object) -> bool:
    """Whether process ``pid`` still runs (on this machine)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def print_status(settings: Settings, runs: int = 10) -> int:
    """Print the last ``runs`` runs. Exit code: 0 all well, 1 the latest finished run failed or
    died (or there is none), 2 it succeeded but some non-blocking checks (freshness) warn. A run
    in progress is shown above them and does not change the exit code."""
    warehouse = Path(settings.warehouse)
    published = published_path(warehouse)
    live = None  # the marker of the run going on now
    try:
        rows = None
        if warehouse.is_file():
            who = f"fiscal-intel status (pid {os.getpid()})"
            with warehouse_lock(warehouse, timeout=0, who=who):
                rows = _runs(warehouse, runs)
        marker = read_marker(warehouse) or {}
        if marker.get("status") == "waiting" and _alive(marker.get("pid")):
            # A department's municipality between its two runs (the pooled step in between):
            # shown as going on, its row left out as when a run holds the lock.
            live, rows = marker, [r for r in rows or [] if r[2] != "running"]
        # Killed runs leave their row `running`; with the lock free, their process is gone.
        rows = [(*r[:2], "died" if r[2] == "running" else r[2], *r[3:]) for r in rows or []]
    except (WarehouseBusy, PermissionError) as exc:
        # PermissionError: a probe running as a user who may not lock; trust the marker then.
        live = read_marker(warehouse) or {}
        if isinstance(exc, PermissionError) and live.get("status") != "running":
            live = None
        rows = (_runs(published, runs) if published.is_file() else None) or []
    except duckdb.Error as exc:
        print(f"fiscal-intel: cannot open {settings.warehouse}: {exc}", file=sys.stderr)
        return 1
    if live is not None and live.get("status") == "waiting":
        print(
            f"A department run is going on {settings.warehouse}: started "
            f"{live.get('started_at', '?')} (pid {live.get('pid', '?')}); its data, models and "
            "backtest are built, its lists wait for the department's pooled step. The runs "
            "below are finished ones."
        )
    elif live is not None:
        stage = f", stage {live['stage']}" if live.get("stage") else ""
        print(
            f"A run is going on {settings.warehouse}: started {live.get('started_at', '?')} "
            f"(pid {live.get('pid', '?')}{stage}); the runs below are from the published copy "
            f"{published}."
        )
    if not rows:
        print(f"fiscal-intel: no finished runs recorded in {settings.warehouse} yet")
        return 1
    print(f"Last {len(rows)} run(s) on {settings.warehouse}:")
    print(
        f"  {'started':<20}{'secs':>7}  {'status':<11}{'as of':<12}{'files':>6}"
        f"{'rows':>11}{'quar.':>7}{'checks':>8}  models"
    )
    for (
        started,
        finished,
        status,
        _stage,
        _msg,
        as_of,
        files,
        loaded,
        quarantined,
        passed,
        _failed,
        models,
    ) in rows:
        seconds = f"{(finished - started).total_seconds():>7.1f}" if finished else f"{'-':>7}"
        passed = passed or 0
        failed = len(json.loads(_failed or "[]"))
        checks = f"{passed}/{passed + failed}"
        versions = ", ".join(f"{k} {v}" for k, v in json.loads(models or "{}").items())
        print(
            f"  {started:%Y-%m-%d %H:%M:%S} {seconds}  {status:<11}{str(as_of or '-'):<12}"
            f"{files or 0:>6}{loaded or 0:>11,}{quarantined or 0:>7,}{checks:>8}  {versions}"
        )
    latest = rows[0]
    failing = json.loads(latest[10] or "[]")
    code = 0
    if latest[2] == "incomplete":
        print(f"\nLatest run INCOMPLETE (built from the readable files): {latest[4]}")
        code = 1
    elif latest[2] == "died":
        marker = read_marker(warehouse) or {}
        died_in = marker.get("stage") if marker.get("status") == "running" else None
        stage = f" during stage {died_in}" if died_in else ""
        print(
            f"\nLatest run DIED{stage} (started {latest[0]:%Y-%m-%d %H:%M:%S}; its process is "
            "gone and it never finished). Readers still see the last complete run; the next "
            "run picks up where it stopped."
        )
        code = 1
    elif latest[2] != "success":
        print(f"\nLatest run FAILED at stage {latest[3]}: {latest[4]}")
        code = 1
    if failing:
        print("\nFailing checks in the latest run:")
        for line in failing:
            print(f"  {line}")
        code = code or 2
    if code == 0:
        print("\nLatest run succeeded and every check passed.")
    return code
