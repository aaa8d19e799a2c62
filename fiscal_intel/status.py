"""``fiscal-intel status``: what the last runs did and what is failing, for the engineer on call."""

from __future__ import annotations

import json
import sys

import duckdb

from fiscal_intel.settings import Settings


def print_status(settings: Settings, runs: int = 10) -> int:
    """Print the last ``runs`` runs. Exit code: 0 all well, 1 the latest run failed (or there is
    none), 2 the latest run succeeded but some non-blocking checks (freshness) warn."""
    try:
        con = duckdb.connect(settings.warehouse, read_only=True)
    except duckdb.Error as exc:
        print(f"fiscal-intel: cannot open {settings.warehouse}: {exc}", file=sys.stderr)
        return 1
    with con:
        exists = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'ops' "
            "and table_name = 'run_log'"
        ).fetchall()[0][0]
        if not exists:
            print(f"fiscal-intel: no runs recorded in {settings.warehouse} yet")
            return 1
        rows = con.execute(
            "select started_at, finished_at, status, failed_stage, message, as_of, files_loaded, "
            "rows_loaded, rows_quarantined, checks_passed, checks_failed, model_versions "
            "from ops.run_log order by started_at desc limit ?",
            [runs],
        ).fetchall()
    print(f"Last {len(rows)} run(s) on {settings.warehouse}:")
    print(
        f"  {'started':<20}{'secs':>7}  {'status':<8}{'as of':<12}{'files':>6}"
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
        seconds = (finished - started).total_seconds()
        failed = len(json.loads(_failed or "[]"))
        checks = f"{passed}/{passed + failed}"
        versions = ", ".join(f"{k} {v}" for k, v in json.loads(models or "{}").items())
        print(
            f"  {started:%Y-%m-%d %H:%M:%S} {seconds:>7.1f}  {status:<8}{str(as_of or '-'):<12}"
            f"{files:>6}{loaded:>11,}{quarantined:>7,}{checks:>8}  {versions}"
        )
    if not rows:
        return 1
    latest = rows[0]
    failing = json.loads(latest[10] or "[]")
    code = 0
    if latest[2] == "incomplete":
        print(f"\nLatest run INCOMPLETE (built from the readable files): {latest[4]}")
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
