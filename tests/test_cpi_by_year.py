"""The CPI of any tax year lives in one place, ``ref.cpi_by_year``: its rule (published level,
carried forward past the last published year), its span (every tax year the loader accepts),
and the marts and features that index pesos by tax year reading it rather than a copy."""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest

from fiscal_intel.definitions import defs
from fiscal_intel.ingest.sources import _YEAR
from fiscal_intel.sqlfiles import install_macros, run_sql, sql_root

READERS = [("marts", "compliance_yearly"), ("marts", "tax_gap"), ("features", "omiso_features")]


def test_published_levels_carried_forward_and_nulls_where_none() -> None:
    con = duckdb.connect()
    con.execute("create schema ref")
    con.execute(
        "create table ref.cpi_deflator as select * from (values (2001, 5.0, 100.0), "
        "(2002, 4.0, 104.0), (2004, 3.0, 110.0)) as t (year, inflation_dec_pct, cpi_dec)"
    )
    run_sql(con, "ref/cpi_by_year")
    rows = {r[0]: r[1:] for r in con.execute("select * from ref.cpi_by_year").fetchall()}
    assert min(rows) == 1990 and max(rows) == 2100 and len(rows) == 2100 - 1990 + 1
    assert rows[2001] == (100.0, True, 2004, 110.0)
    assert rows[2004] == (110.0, True, 2004, 110.0)
    assert rows[2003] == (None, False, 2004, 110.0)  # a year missing from the file: no index
    assert rows[2000] == (None, False, 2004, 110.0)  # before the first published year
    assert {rows[y] for y in range(2005, 2101)} == {(110.0, False, 2004, 110.0)}


def test_one_row_for_every_tax_year_the_loader_accepts(demo_run) -> None:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        first, last, n, published, shipped = con.execute(
            "select min(year), max(year), count(distinct year), count(*) filter (where published), "
            "(select count(*) from ref.cpi_deflator) from ref.cpi_by_year"
        ).fetchone()
    assert first <= _YEAR["min_value"] and last >= _YEAR["max_value"]
    assert n == last - first + 1  # one row a year, no gap
    assert published == shipped


def test_the_rule_is_read_from_the_table_not_copied() -> None:
    graph = defs.resolve_asset_graph()
    cpi_by_year = dg.AssetKey(["ref", "cpi_by_year"])
    assert dg.AssetKey(["ref", "cpi_deflator"]) in graph.get(cpi_by_year).parent_keys
    for key in READERS:
        parents = graph.get(dg.AssetKey(list(key))).parent_keys
        assert cpi_by_year in parents and dg.AssetKey(["ref", "cpi_deflator"]) not in parents
    copies = [
        p.relative_to(sql_root()).as_posix()
        for p in sorted(sql_root().rglob("*.sql"))
        if "arg_max(cpi_dec" in p.read_text(encoding="utf-8")
    ]
    assert copies == ["ref/cpi_by_year.sql"]


@pytest.fixture(scope="module")
def short_cpi(demo_run, tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """A copy of the demo warehouse whose CPI stops at 2021, three years before its last tax
    year, with the non-filer estimate rebuilt without the secrecy threshold."""
    copy = tmp_path_factory.mktemp("cpi") / "w.duckdb"
    shutil.copy(demo_run["warehouse"], copy)
    con = duckdb.connect(str(copy))
    install_macros(con)
    con.execute("delete from ref.cpi_deflator where year > 2021")
    run_sql(con, "ref/cpi_by_year")
    params = {"filing_deadline_month": 4, "filing_deadline_day": 30, "min_cell_taxpayers": 1}
    run_sql(con, "marts/compliance_yearly", **params)
    yield con
    con.close()


def test_tax_years_past_the_last_cpi_count_at_its_level(short_cpi) -> None:
    rows = short_cpi.execute(
        "select tax_year, non_filer_tax_estimate / non_filers from marts.compliance_yearly "
        "where non_filers > 0 order by tax_year"
    ).fetchall()
    per_case = dict(rows)
    assert max(per_case) > 2021 and all(v is not None for v in per_case.values())
    # the mean per non-filer is in each year's pesos: flat from the last CPI year on
    later = [per_case[y] for y in per_case if y >= 2021]
    assert len(later) >= 2 and max(later) - min(later) < 1e-6 * max(later)
    assert per_case[min(per_case)] < later[0]  # earlier years in their (lower) prices
