"""``fiscal-intel backup``: a consistent copy of the warehouse, taken between runs.

The copy is made while holding the writer lock, after a CHECKPOINT has folded the write-ahead
log into the file, so it is a complete database that DuckDB opens as is.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb

from fiscal_intel.locking import warehouse_lock


def _say(line: str) -> None:
    print(f"fiscal-intel: {line}", file=sys.stderr, flush=True)


def backup_warehouse(warehouse: str | Path, out: str | Path, *, timeout: float) -> int:
    """Copy ``warehouse`` to ``out``; returns the number of tables in the copy."""
    source, target = Path(warehouse), Path(out)
    if not source.is_file():
        raise FileNotFoundError(f"warehouse {source} does not exist")
    if target.resolve() == source.resolve():
        raise ValueError("the backup must not overwrite the warehouse itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with warehouse_lock(source, timeout=timeout, on_wait=_say):
        with duckdb.connect(str(source)) as con:
            con.execute("checkpoint")
        shutil.copyfile(source, partial)
    with duckdb.connect(str(partial), read_only=True) as con:
        tables = con.execute("select count(*) from duckdb_tables()").fetchall()[0][0]
    partial.replace(target)  # only a verified copy takes the backup's name
    return tables
