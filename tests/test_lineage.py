"""Lineage from the SQL (issue #16, requirement 2): each SQL asset's dependencies are the tables
its statement reads, no more and no fewer, and its description is the file's header comment."""

from __future__ import annotations

import re

import dagster as dg
import duckdb
import pytest

from fiscal_intel.assets.factory import upstream_keys
from fiscal_intel.definitions import defs
from fiscal_intel.lineage import header_comment, lineage_of, sql_lineage
from fiscal_intel.resources import build_resources
from fiscal_intel.sqlfiles import install_macros, run_sql, sql_root, sql_text

GRAPH = defs.resolve_asset_graph()


def _sql_assets() -> list[tuple[dg.AssetKey, bool]]:
    """(key, partitioned) of every asset the factory built from a SQL file."""
    out = []
    for key in sorted(GRAPH.get_all_asset_keys(), key=lambda k: k.path):
        node = GRAPH.get(key)
        if "sql" in node.kinds:
            out.append((key, node.partitions_def is not None))
    return out


SQL_ASSETS = _sql_assets()


def test_the_parser_finds_every_read_and_skips_ctes_and_temp_tables() -> None:
    text = """-- A made-up mart: reads in a CTE, a join, a subquery in the from clause, an exists,
    -- an in-list subquery and a union; builds and drops a temp table.
    --
    -- Second paragraph.
    create or replace temp table helper as
    select k from staging.a where d <= $as_of;

    create or replace table marts.made_up as
    with first as (select k from helper), second as (select * from first join "ref".b using (k))
    select s.* from second as s, (select 1 as one from features.c) as sub
    where exists (select 1 from ops.quarantine as q where q.nit = s.k)
      and s.k in (select k from staging.d)
    union all
    select * from registered_frame, read_csv($path) as f;

    drop table helper;
    """
    lineage = lineage_of(text)
    assert lineage.reads == {
        ("staging", "a"), ("ref", "b"), ("features", "c"), ("ops", "quarantine"), ("staging", "d")
    }
    assert lineage.writes == {("marts", "made_up")}
    assert lineage.registered == {"registered_frame"}
    assert lineage.description == (
        "A made-up mart: reads in a CTE, a join, a subquery in the from clause, an exists, an "
        "in-list subquery and a union; builds and drops a temp table.\n\nSecond paragraph."
    )
    with pytest.raises(ValueError, match="cannot derive lineage from a"):
        lineage_of("insert into marts.x select * from staging.y")


def test_the_issue_cases() -> None:
    """Lineage written by hand had omiso_features read the registry undeclared, and arrears
    (among six) declare a table it never reads."""
    omiso = GRAPH.get(dg.AssetKey(["features", "omiso_features"]))
    assert dg.AssetKey(["staging", "stg_commerce_registry"]) in omiso.parent_keys
    arrears = GRAPH.get(dg.AssetKey(["marts", "arrears"]))
    assert dg.AssetKey(["ref", "cpi_deflator"]) not in arrears.parent_keys


@pytest.mark.parametrize("key", [k for k, _ in SQL_ASSETS], ids=lambda k: k.to_user_string())
def test_deps_and_description_come_from_the_file(key: dg.AssetKey) -> None:
    schema, name = key.path
    lineage = sql_lineage(f"{schema}/{name}")
    node = GRAPH.get(key)
    assert set(node.parent_keys) == set(upstream_keys(lineage.reads))
    assert not lineage.registered  # nothing but warehouse tables, CTEs and its temp tables
    assert node.description == header_comment(sql_text(f"{schema}/{name}"))
    assert node.description


def test_every_table_file_is_an_asset() -> None:
    """A SQL file in a table folder without an asset would never run: adding a mart is adding
    its file and its name in the module of its stage."""
    built = {tuple(k.path) for k, _ in SQL_ASSETS}
    for folder in ("staging", "features", "marts"):
        for path in sorted((sql_root() / folder).glob("*.sql")):
            assert (folder, path.stem) in built, path


_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


def _build(con: duckdb.DuckDBPyConnection, key: dg.AssetKey, partitioned: bool, params) -> None:
    schema, name = key.path
    if partitioned:
        query = sql_text(f"{schema}/{name}").strip().rstrip(";")
        used = set(_PARAM.findall(query))
        args = {k: v for k, v in {**params, "years": []}.items() if k in used}
        con.execute(f"create or replace temp table _probe as select * from ({query}) as q", args)
    else:
        run_sql(con, f"{schema}/{name}", **params)


def test_each_statement_needs_exactly_its_declared_tables(demo_run) -> None:
    """The proof by DuckDB's binder: every SQL asset's statement runs in a database holding only
    its declared upstream tables (empty, with the warehouse's columns), and fails naming the
    table when any one of them is missing."""
    params = build_resources(demo_run["settings"])["settings"].sql_params()
    for key, partitioned in SQL_ASSETS:
        schema, name = key.path
        reads = sorted(sql_lineage(f"{schema}/{name}").reads)
        con = duckdb.connect()
        try:
            install_macros(con)
            con.execute(f"attach '{demo_run['warehouse']}' as src (read_only)")
            for s in {schema, *(s for s, _ in reads)}:
                con.execute(f'create schema if not exists "{s}"')
            for s, t in reads:
                con.execute(f'create table "{s}"."{t}" as select * from src."{s}"."{t}" limit 0')
            con.execute("detach src")
            _build(con, key, partitioned, params)
            for s, t in reads:
                con.execute(f'alter table "{s}"."{t}" rename to "{t}__hidden"')
                with pytest.raises(duckdb.CatalogException, match=t):
                    _build(con, key, partitioned, params)
                con.execute(f'alter table "{s}"."{t}__hidden" rename to "{t}"')
        finally:
            con.close()
