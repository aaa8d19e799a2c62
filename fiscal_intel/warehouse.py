"""Opening the warehouse file: one place, so its name can never shadow a schema."""

from __future__ import annotations

from pathlib import Path

import duckdb

WAREHOUSE_CATALOG = "fiscal_intel_warehouse"
# Schemas the pipeline writes, and names DuckDB reserves: a file whose stem is one of them
# would make ``<schema>.<table>`` ambiguous between a catalog and a schema.
SHADOWED = frozenset(
    {"raw", "ops", "staging", "ref", "features", "scoring", "marts", "evaluation", "landing"}
    | {"main", "information_schema", "pg_catalog", "temp", "system", "memory"}
)


def connect_warehouse(
    database: str | Path, *, read_only: bool = False, config: dict | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse file whose two-part names are always schema.table.

    DuckDB names a file's catalog after its stem, so a warehouse called ``marts.duckdb`` (or
    ``raw``, ``ops``, ``staging``...) made ``marts.audit_ranking`` ambiguous between the catalog
    and the schema (a binder error). Such a file is attached under a name no schema uses and
    made the default. Any other name is opened directly, as before: DuckDB shares an open
    file between connections of one process only when it is opened that way.
    """
    if Path(database).stem.lower() not in SHADOWED:
        return duckdb.connect(str(database), read_only=read_only, config=config or {})
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
