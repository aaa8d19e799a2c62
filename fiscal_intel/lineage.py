"""What a SQL file reads, writes and says about itself, from DuckDB's own parser.

The asset factory (``fiscal_intel.assets.factory``) builds each SQL asset's dependencies from
the tables its statement reads and its description from the file's header comment, so the
lineage is never written by hand beside the SQL (dbt's ``ref()`` gives the same for free).

Every statement of the file is parsed by DuckDB (``json_serialize_sql``); every base table in
the tree is a read, whether it sits in a ``from``, a join, a subquery or an ``exists``. A
``create table ... as`` is reduced to its query first (DuckDB serialises queries only). Names
that are the file's own CTEs or temp tables are not reads. Warehouse tables are always written
with their schema (``staging.stg_audits``); an unqualified name that is neither a CTE nor a temp
table is something the Python side registers (a frame, a file view) and is reported apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import duckdb

from fiscal_intel.sqlfiles import sql_text

Table = tuple[str, str]  # (schema, table)

_CTAS = re.compile(
    r"^create\s+(?:or\s+replace\s+)?(?P<temp>temp(?:orary)?\s+)?table\s+"
    r"(?:if\s+not\s+exists\s+)?(?P<name>[\w\".]+)\s+as\s+(?P<query>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_COMMENT = re.compile(r"^\s*--[^\n]*\n?")


@dataclass(frozen=True)
class SqlLineage:
    """What ``sql/<relative>.sql`` reads and writes, and its header comment."""

    relative: str
    reads: frozenset[Table]  # schema-qualified tables read (not written by the file itself)
    writes: frozenset[Table]  # schema-qualified tables it creates
    registered: frozenset[str]  # unqualified names that are no CTE or temp table of the file
    description: str


def header_comment(text: str) -> str:
    """The ``--`` lines the file opens with, as one paragraph (blank-comment lines break it)."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("--"):
            break
        lines.append(stripped[2:].strip())
    paragraphs = " ".join(line if line else "\n\n" for line in lines).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def _strip_comments(sql: str) -> str:
    sql = sql.strip()
    while True:
        shorter = _COMMENT.sub("", sql, count=1).strip()
        if shorter == sql:
            return sql
        sql = shorter


def _name(qualified: str) -> Table | str:
    parts = [p.strip('"') for p in qualified.split(".")]
    return (parts[-2], parts[-1]) if len(parts) >= 2 else parts[0]


def _walk(node: Any, tables: list[tuple[str, str]], ctes: set[str]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE" and "table_name" in node:
            tables.append((node.get("schema_name") or "", node["table_name"]))
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            ctes.update(entry["key"] for entry in cte_map.get("map", []))
        for value in node.values():
            _walk(value, tables, ctes)
    elif isinstance(node, list):
        for value in node:
            _walk(value, tables, ctes)


def query_tables(con: duckdb.DuckDBPyConnection, query: str) -> tuple[list[Table], set[str]]:
    """(schema, table) of every base table a query names (schema '' when unqualified), and the
    names of the CTEs it defines, as DuckDB's parser sees them."""
    tree = json.loads(con.execute("select json_serialize_sql(?)", [query]).fetchone()[0])
    if tree.get("error"):
        raise ValueError(f"DuckDB cannot parse the query: {tree.get('error_message')}")
    tables: list[Table] = []
    ctes: set[str] = set()
    _walk(tree["statements"], tables, ctes)
    return tables, ctes


@cache
def sql_lineage(relative: str) -> SqlLineage:
    """The lineage of ``sql/<relative>.sql`` (see the module docstring)."""
    return lineage_of(sql_text(relative), relative)


def lineage_of(text: str, relative: str = "<text>") -> SqlLineage:
    """The lineage of the SQL ``text`` (the file ``sql/<relative>.sql``, for messages)."""
    reads: set[Table] = set()
    writes: set[Table] = set()
    temps: set[str] = set()
    registered: set[str] = set()
    con = duckdb.connect()
    try:
        for statement in duckdb.extract_statements(text):
            sql = _strip_comments(statement.query).rstrip(";").strip()
            kind = statement.type
            if kind == duckdb.StatementType.DROP:
                continue
            if kind == duckdb.StatementType.CREATE:
                match = _CTAS.match(sql)
                if match is None:
                    continue  # a table declared column by column reads nothing
                target = _name(match["name"])
                if match["temp"] or isinstance(target, str):
                    temps.add(target if isinstance(target, str) else target[1])
                else:
                    writes.add(target)
                sql = match["query"]
            elif kind != duckdb.StatementType.SELECT:
                raise ValueError(
                    f"sql/{relative}.sql: cannot derive lineage from a {kind.name} statement"
                )
            tables, ctes = query_tables(con, sql)
            for schema, table in tables:
                if schema:
                    reads.add((schema, table))
                elif table not in ctes and table not in temps:
                    registered.add(table)
    finally:
        con.close()
    return SqlLineage(
        relative=relative,
        reads=frozenset(reads - writes),
        writes=frozenset(writes),
        registered=frozenset(registered),
        description=header_comment(text),
    )
