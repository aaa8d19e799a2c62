"""Opening the warehouse file: one place, so its name can never shadow a schema."""

from __future__ import annotations

from pathlib import Path

import duckdb

WAREHOUSE_CATALOG = "fiscal_intel_warehouse"


def connect_warehouse(
    database: str | Path, *, read_only: bool = False, config: dict | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection whose default catalog is the warehouse file, under a fixed name.

    DuckDB names a file's catalog after its stem, so a warehouse called ``marts.duckdb`` (or
    ``raw``, ``ops``, ``staging``...) made ``marts.audit_ranking`` ambiguous between the catalog
    and the schema (a binder error). Attaching the file under a name no schema uses, and making
    it the default, keeps every two-part name a schema.table whatever the file is called.
    """
    config = dict(config or {})
    # A file database spills to <file>.tmp; the attached one does the same on purpose.
    config.setdefault("temp_directory", f"{database}.tmp")
    con = duckdb.connect(":memory:", config=config)
    try:
        literal = "'" + str(database).replace("'", "''") + "'"
        mode = " (read_only)" if read_only else ""
        con.execute(f"attach {literal} as {WAREHOUSE_CATALOG}{mode}")
        con.execute(f"use {WAREHOUSE_CATALOG}")
    except Exception:
        con.close()
        raise
    return con
