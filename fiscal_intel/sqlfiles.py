"""SQL lives in ``sql/`` files; this module finds and runs them.

In a source checkout ``sql/`` sits beside the package; an installed wheel carries it inside the
package (see ``pyproject.toml``), so both places are looked up relative to this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
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
    """Create every macro of ``sql/macros/`` in the connection's database (which must hold no
    open transaction): the value parsers and the named business rules.

    They are stored in the database file (SQL checks and readers use them without installing),
    so once they are there in this version they are left alone: creating the ~30 macros, each a
    catalogue write, cost ~0.1 s on every connection, ~50 times a run. A marker macro named after
    a hash of their text says which version the file holds; they are created in one transaction.
    """
    texts, marker = _macros()
    if _has_macro(con, marker):
        return
    with one_transaction(con):
        for text in texts:
            con.execute(text)
        con.execute(f"create or replace macro {marker}() as 1")


def _has_macro(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the connection's database holds the macro ``name`` (without arguments).

    Calling it is ~1,000 times cheaper than looking it up in ``duckdb_functions()``, which lists
    every function; the call runs in a transaction of its own, since a failed statement aborts
    the transaction it is in.
    """
    con.begin()
    try:
        con.execute(f"select {name}()").fetchall()
    except duckdb.CatalogException:
        return False
    finally:
        con.rollback()  # nothing was written; after an error the transaction must end anyway
    return True


@cache
def _macros() -> tuple[tuple[str, ...], str]:
    """The texts of ``sql/macros/*.sql`` in order, and the marker macro's name for them."""
    import hashlib

    folder = sql_root() / "macros"
    texts = tuple(sql_text(f"macros/{path.name}") for path in sorted(folder.glob("*.sql")))
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
    return texts, f"fi_macros_{digest}"


@contextmanager
def one_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The block's statements in one transaction: one commit (one write-ahead-log flush) rather
    than one per statement. The connection must hold no open transaction (DuckDB has no nested
    ones: ``begin`` inside one fails and aborts it)."""
    con.begin()
    try:
        yield
        con.commit()
    except BaseException:
        con.rollback()
        raise


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> Any:
    """First value of a query. Fetches every row: duckdb 2 refuses other work on a connection
    (register, relations) while a result is only partly read."""
    rows = con.execute(sql, params).fetchall()
    return rows[0][0] if rows else None


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> pl.DataFrame:
    """A query's result as a polars frame (through Arrow, without copying twice)."""
    return con.sql(sql, params=params).pl()
