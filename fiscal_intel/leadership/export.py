"""The leadership marts alone, in a separate DuckDB file that can be shared (council, press,
other agencies) without exposing taxpayer-level data."""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from fiscal_intel.catalogue import LEADERSHIP_TITLES_ES, comment_table, table_columns
from fiscal_intel.leadership import IDENTIFYING_COLUMNS, LEADERSHIP_MARTS
from fiscal_intel.published import readable

# Figures of type double that are ratios, not pesos: rounded to 4 decimals rather than to the
# rounding base (the CPI inflation is public, rounding it changes nothing).
RATIO = re.compile(r"rate|growth|share|error_pct|inflation")


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    # ATTACH takes no parameters: the path goes in as a string literal, quotes doubled.
    return "'" + str(path).replace("'", "''") + "'"


def _check_marts(con: duckdb.DuckDBPyConnection, catalog: str) -> None:
    for table in LEADERSHIP_MARTS:
        columns = {
            c
            for (c,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_catalog = ? and table_schema = 'marts' and table_name = ?",
                [catalog, table],
            ).fetchall()
        }
        if not columns:
            raise FileNotFoundError(f"marts.{table} does not exist: run fiscal-intel first")
        leaked = columns & IDENTIFYING_COLUMNS
        if leaked:
            raise ValueError(f"marts.{table} has identifying columns {sorted(leaked)}")


def published_columns(
    con: duckdb.DuckDBPyConnection, catalog: str, table: str, rounding_cop: int
) -> str:
    """The select list of ``table`` as it is shared: every figure of type double rounded, amounts
    to ``rounding_cop`` pesos and ratios (rates, growth, shares) to 4 decimals, so that two
    nightly files do not differ by one payment to the peso, directly or through a ratio."""
    out = []
    # pragma_table_info, not information_schema.columns (which lists every column of every
    # attached file first): the department's view calls this for each mart of each municipality.
    for name, kind in table_columns(con, "marts", table, catalog=catalog):
        quoted = '"' + name.replace('"', '""') + '"'
        if kind != "DOUBLE":
            out.append(quoted)
        elif RATIO.search(name):
            out.append(f"round({quoted}, 4) as {quoted}")
        else:
            out.append(f"round({quoted} / {int(rounding_cop)}) * {int(rounding_cop)} as {quoted}")
    return ", ".join(out)


def _copy(
    con: duckdb.DuckDBPyConnection, source: str, target: str, rounding_cop: int
) -> dict[str, int]:
    con.execute(f"create schema if not exists {target}.marts")
    rows = {}
    for table in LEADERSHIP_MARTS:
        select = published_columns(con, source, table, rounding_cop)
        con.execute(
            # The catalog is named after the file: quoted, since "05615.duckdb" gives 05615.
            f"create table {target}.marts.{table} as select {select} "
            f"from {_identifier(source)}.marts.{table}"
        )
        # Spanish titles for the readers of the shared file; column texts from the catalogue.
        comment_table(con, "marts", table, LEADERSHIP_TITLES_ES[table], catalog=target)
        rows[table] = con.execute(f"select count(*) from {target}.marts.{table}").fetchall()[0][0]
    return rows


def _temporary(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    _discard(tmp)
    return tmp


def _discard(tmp: Path) -> None:
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)


def export_leadership(
    con: duckdb.DuckDBPyConnection, out: Path, rounding_cop: int = 1_000_000
) -> dict[str, int]:
    """Copy the leadership marts from the warehouse ``con`` is open on into a new DuckDB file.

    The file is written beside ``out`` and moved into place at the end, so a reader never sees
    a half-written export and a failed one leaves the previous file. A table with an identifying
    column is refused; figures are rounded (``published_columns``). Returns the rows copied per
    mart.
    """
    out = Path(out)
    source = con.execute("select current_database()").fetchall()[0][0]
    _check_marts(con, source)
    tmp = _temporary(out)
    con.execute(f"attach {_literal(tmp)} as leadership_export")
    try:
        rows = _copy(con, source, "leadership_export", rounding_cop)
    except BaseException:
        con.execute("detach leadership_export")
        _discard(tmp)
        raise
    con.execute("detach leadership_export")
    os.replace(tmp, out)
    return rows


def export_leadership_file(
    warehouse: Path, out: Path, rounding_cop: int = 1_000_000
) -> dict[str, int]:
    """``export_leadership`` from a warehouse file that is only read (attached read-only)."""
    warehouse, out = Path(warehouse), Path(out)
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist: run fiscal-intel first")
    if out.resolve() == warehouse.resolve():
        raise ValueError("--out must be a new file, not the warehouse itself")
    tmp = _temporary(out)
    try:
        # The published copy: never in a run's way.
        with readable(warehouse) as source, duckdb.connect(str(tmp)) as con:
            con.execute(f"attach {_literal(source)} as warehouse (read_only)")
            _check_marts(con, "warehouse")
            target = con.execute("select current_database()").fetchall()[0][0]
            rows = _copy(con, "warehouse", target, rounding_cop)
            con.execute("detach warehouse")
    except BaseException:
        _discard(tmp)
        raise
    os.replace(tmp, out)
    return rows
