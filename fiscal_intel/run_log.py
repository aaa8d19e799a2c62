"""The run log: one row per pipeline run in ``ops.run_log``, whoever ran it.

A run writes its row first, as ``running`` (and marks ``died`` the rows of runs that were
killed), and replaces it when it ends with what it loaded, quarantined and built. The
command-line runner, the Celery runner and the run-status sensors (runs launched by the daemon
or the UI) all write through here.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from fiscal_intel.published import publication_interrupted, publish
from fiscal_intel.resources import build_resources
from fiscal_intel.run_events import StageResult
from fiscal_intel.run_marker import write_marker
from fiscal_intel.settings import Settings
from fiscal_intel.sqlfiles import run_sql


@dataclass
class RunRecord:
    """What one run did, for ``ops.run_log``."""

    run_id: str
    started_at: datetime
    stages: list[StageResult] = field(default_factory=list)
    status: str = "running"
    failed_stage: str | None = None
    message: str | None = None


# A run that built every table (``incomplete``: every table, from the readable files) is
# published; a failed or killed one is not, so readers never see a half-built warehouse. Nor is
# a run of some stages only (tests, benchmarks): it may finish what a killed run left half done.
PUBLISHED = ("success", "incomplete")


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
