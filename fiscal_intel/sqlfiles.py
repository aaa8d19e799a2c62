"""SQL lives in ``sql/`` files; this module finds and runs them.

In a source checkout ``sql/`` sits beside the package; an installed wheel carries it inside the
package (see ``pyproject.toml``), so both places are looked up relative to this file.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

_PACKAGE = Path(__file__).resolve().parent


def _root(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cannot find the {name}/ folder next to {_PACKAGE}")


def sql_root() -> Path:
    return _root("sql")


def expectations_root() -> Path:
    return _root("expectations")


@cache
def sql_text(relative: str) -> str:
    """The text of ``sql/<relative>`` (``.sql`` added when missing)."""
    if not relative.endswith(".sql"):
        relative += ".sql"
    return (sql_root() / relative).read_text(encoding="utf-8")


_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


def run_sql(
    con: duckdb.DuckDBPyConnection, relative: str, /, **params: Any
) -> duckdb.DuckDBPyConnection:
    """Execute a SQL file, passing only the ``$name`` parameters it uses.

    A file of several statements (temp tables a final ``create or replace`` joins) runs them in
    order, each with its own parameters: DuckDB binds parameters to one statement only.
    """
    text = sql_text(relative)
    used = set(_PARAM.findall(text))
    missing = used - params.keys()
    if missing:
        raise KeyError(f"sql/{relative} needs parameters {sorted(missing)}")
    for statement in _statements(text):
        mine = set(_PARAM.findall(statement))
        con.execute(statement, {k: v for k, v in params.items() if k in mine} or None)
    return con


@cache
def _statements(text: str) -> tuple[str, ...]:
    return tuple(s.query for s in duckdb.extract_statements(text))


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create every macro of ``sql/macros/`` on this connection: the value parsers and the named
    business rules (they are cheap and connection-local)."""
    for path in sorted((sql_root() / "macros").glob("*.sql")):
        con.execute(sql_text(f"macros/{path.name}"))


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> Any:
    """First value of a query. Fetches every row: duckdb 2 refuses other work on a connection
    (register, relations) while a result is only partly read."""
    rows = con.execute(sql, params).fetchall()
    return rows[0][0] if rows else None


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> pl.DataFrame:
    """A query's result as a polars frame (through Arrow, without copying twice)."""
    return con.sql(sql, params=params).pl()
