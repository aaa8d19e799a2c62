"""Tax secrecy (ET art. 583): leadership marts hold aggregates only, no figure comes from fewer
than 5 taxpayers, pools keep the totals, and the shareable export holds nothing else."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from fiscal_intel.cli import main
from fiscal_intel.leadership import IDENTIFYING_COLUMNS, LEADERSHIP_MARTS, SECRECY
from fiscal_intel.sqlfiles import run_sql

K = 5


@pytest.fixture(scope="module")
def wh(demo_run) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(demo_run["warehouse"]), read_only=True)
    yield con
    con.close()


def columns(con: duckdb.DuckDBPyConnection, table: str, catalog: str | None = None) -> set[str]:
    sql = (
        "select column_name from information_schema.columns "
        "where table_schema = 'marts' and table_name = ?"
    )
    params: list[str] = [table]
    if catalog:
        sql += " and table_catalog = ?"
        params.append(catalog)
    return {c for (c,) in con.execute(sql, params).fetchall()}


def assert_no_small_cells(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Every figure shown in ``table`` comes from 0 or K+ taxpayers; returns how many shown."""
    seen = 0
    for value, count in SECRECY[table].items():
        bad = con.execute(
            f"select count(*) from marts.{table} where {value} is not null "
            f"and ({count} is null or {count} between 1 and {K - 1})"
        ).fetchall()[0][0]
        assert bad == 0, f"marts.{table}.{value} shown from fewer than {K} taxpayers"
        seen += con.execute(
            f"select count({value}) from marts.{table}"
        ).fetchall()[0][0]
    return seen


def test_leadership_marts_have_no_identifying_column(wh) -> None:
    for table in LEADERSHIP_MARTS:
        cols = columns(wh, table)
        assert cols, table
        assert not cols & IDENTIFYING_COLUMNS, table


def test_no_figure_is_built_from_fewer_than_five_taxpayers(wh) -> None:
    for table in LEADERSHIP_MARTS:
        # Every figure the secrecy map names exists, and is guarded.
        assert set(SECRECY[table]) | set(SECRECY[table].values()) <= columns(wh, table), table
        shown = assert_no_small_cells(wh, table)
        if table != "tax_gap":  # the 1,000-taxpayer demo's random sample is too small to show
            assert shown > 0, table


def test_published_cells_recount_from_staging(wh) -> None:
    # The mart's own counts could lie; recount each published cell's taxpayers from staging.
    monthly = wh.execute(
        """
        select m.payers, count(distinct p.nit)
        from marts.revenue_monthly as m
        inner join staging.stg_payments as p
            on m.month = cast(date_trunc('month', p.paid_on) as date)
        left join staging.stg_entities as e on p.nit = e.nit
        where m.pooled_cells = 0 and m.ciiu_section is not distinct from e.ciiu_section
        group by m.month, m.ciiu_section, m.payers
        """
    ).fetchall()
    assert len(monthly) > 50
    assert all(mart == recount >= K for mart, recount in monthly)
    yearly = wh.execute(
        """
        with t as (
            select tax_year, nit from staging.stg_declarations
            union
            select tax_year, nit from staging.stg_payments
        )
        select y.filers, y.payers,
               count(distinct d.nit), count(distinct p.nit)
        from marts.revenue_yearly as y
        inner join t on y.tax_year = t.tax_year
        inner join staging.stg_entities as e
            on t.nit = e.nit
            and y.ciiu_section is not distinct from e.ciiu_section
            and y.comuna is not distinct from e.comuna
        left join staging.stg_declarations as d on t.nit = d.nit and t.tax_year = d.tax_year
        left join staging.stg_payments as p on t.nit = p.nit and t.tax_year = p.tax_year
        where y.pooled_cells = 0
        group by y.tax_year, y.ciiu_section, y.comuna, y.filers, y.payers
        """
    ).fetchall()
    assert len(yearly) > 20
    for filers, payers, n_filers, n_payers in yearly:
        assert (filers, payers) == (n_filers, n_payers)
        assert filers == 0 or filers >= K
        assert payers == 0 or payers >= K
    # Small cells were there to hide: the pools are not empty decoration.
    assert wh.execute(
        "select count(*) from marts.revenue_monthly where pooled_cells > 0"
    ).fetchall()[0][0] > 10


@pytest.fixture
def tiny() -> duckdb.DuckDBPyConnection:
    """Payments whose cells are 10 (G), 6 (I), 3 (C) and 1 (F) payers in January; one month
    with 2 payers alone; one month with 3 other payers alone."""
    con = duckdb.connect()
    con.execute("create schema staging; create schema marts; create schema ref")
    con.execute(
        "create table staging.stg_entities (nit varchar, ciiu_section varchar, comuna varchar)"
    )
    con.execute(
        "create table staging.stg_payments (payment_id varchar, nit varchar, tax_year integer, "
        "paid_on date, amount decimal(18, 2))"
    )
    con.execute(
        "create table staging.stg_declarations (nit varchar, tax_year integer, "
        "total_tax decimal(18, 2), balance_due decimal(18, 2))"
    )
    con.execute("create table ref.cpi_deflator (year integer, inflation_dec_pct double)")
    sections = ["G"] * 10 + ["I"] * 6 + ["C"] * 3 + ["F"] + ["S"] * 5
    for i, s in enumerate(sections):
        con.execute("insert into staging.stg_entities values (?, ?, '1')", [f"{i}", s])
        if i < 20:
            con.execute(
                "insert into staging.stg_payments values (?, ?, 2023, '2024-01-15', ?)",
                [f"p{i}", f"{i}", 1000 * (i + 1)],
            )
    for i in (20, 21):
        con.execute(
            "insert into staging.stg_payments values (?, ?, 2023, '2024-02-15', 7)", [f"q{i}", i]
        )
    for i in (22, 23, 24):
        con.execute(
            "insert into staging.stg_payments values (?, ?, 2023, '2024-03-15', 11)", [f"r{i}", i]
        )
    yield con
    con.close()


def test_small_cells_are_pooled_smallest_first_and_totals_kept(tiny) -> None:
    run_sql(tiny, "marts/revenue_monthly", min_cell_taxpayers=K)
    rows = tiny.execute(
        "select month::varchar, ciiu_section, collected, payers, pooled_cells "
        "from marts.revenue_monthly order by all"
    ).fetchall()
    january_pool = sum(1000 * (i + 1) for i in range(10, 20))  # I, C and F
    assert rows == [
        ("2024-01-01", "*", january_pool, 10, 3),  # C (3) + F (1) = 4 is too few: I joins
        ("2024-01-01", "G", sum(1000 * (i + 1) for i in range(10)), 10, 0),
        (None, "*", 2 * 7 + 3 * 11, 5, 2),  # two months of 2 and 3 payers, pooled: 5
    ]
    total = tiny.execute("select sum(amount)::double from staging.stg_payments").fetchall()[0][0]
    assert sum(r[2] for r in rows) == total


def test_a_pool_still_too_small_is_withheld(tiny) -> None:
    tiny.execute("delete from staging.stg_payments where paid_on = '2024-03-15'")
    run_sql(tiny, "marts/revenue_monthly", min_cell_taxpayers=K)
    assert tiny.execute(
        "select collected, payers, pooled_cells from marts.revenue_monthly where month is null"
    ).fetchall() == [(None, None, 1)]


def test_yearly_pools_comunas_within_a_section_then_sections_within_a_year(tiny) -> None:
    # G's ten payers live in three comunas: 5 (all filed), 3 and 2. The last two are pooled
    # into G's own pool, so G's total stays whole. Sections C (3 payers) and F (1) are too small
    # even whole: they go to the year's pool, with S (5 payers, 5 filers), the next smallest,
    # so that the pool has enough payers. I (6 payers, no returns) is shown.
    tiny.execute("update staging.stg_entities set comuna = '2' where nit in ('5', '6', '7')")
    tiny.execute("update staging.stg_entities set comuna = '3' where nit in ('8', '9')")
    for nit in ("0", "1", "2", "3", "4", "20", "21", "22", "23", "24"):
        tiny.execute("insert into staging.stg_declarations values (?, 2023, 100, 100)", [nit])
    run_sql(tiny, "marts/revenue_yearly", min_cell_taxpayers=K)
    rows = {
        (r[0], r[1]): r[2:]
        for r in tiny.execute(
            "select ciiu_section, comuna, filers, payers, declared_tax, pooled_cells "
            "from marts.revenue_yearly where tax_year = 2023"
        ).fetchall()
    }
    assert rows == {
        ("G", "1"): (5, 5, 500.0, 0),
        ("G", "*"): (0, 5, 0.0, 2),
        ("I", "1"): (0, 6, 0.0, 0),
        ("*", "*"): (5, 9, 500.0, 3),
    }
    total = tiny.execute("select sum(collected) from marts.revenue_yearly").fetchall()[0][0]
    paid = tiny.execute("select sum(amount)::double from staging.stg_payments").fetchall()[0][0]
    assert total == paid


def test_export_holds_only_the_leadership_marts(demo_run, wh, tmp_path: Path) -> None:
    out = tmp_path / "share" / "leadership.duckdb"
    assert main(["export-leadership", "--warehouse", str(demo_run["warehouse"]), "--out",
                 str(out)]) == 0  # fmt: skip
    with duckdb.connect(str(out), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database()"
        ).fetchall()
        assert sorted(tables) == sorted(("marts", t) for t in LEADERSHIP_MARTS)
        for table in LEADERSHIP_MARTS:
            assert not columns(con, table) & IDENTIFYING_COLUMNS
            assert_no_small_cells(con, table)
            exported = con.execute(f"select * from marts.{table} order by all").fetchall()
            original = wh.execute(f"select * from marts.{table} order by all").fetchall()
            assert exported == original, table
    # The Dagster asset wrote the same marts beside the warehouse during the run.
    beside = demo_run["warehouse"].parent / "leadership" / "leadership.duckdb"
    with duckdb.connect(str(beside), read_only=True) as con:
        assert con.execute("select count(*) from marts.revenue_monthly").fetchall() == wh.execute(
            "select count(*) from marts.revenue_monthly"
        ).fetchall()


def test_export_refuses_a_mart_with_an_identifying_column(tmp_path: Path) -> None:
    from fiscal_intel.leadership.export import export_leadership_file

    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        for table in LEADERSHIP_MARTS:
            con.execute(f"create table marts.{table} (x integer)")
        con.execute("alter table marts.arrears add column nit varchar")
    out = tmp_path / "out.duckdb"
    with pytest.raises(ValueError, match="identifying"):
        export_leadership_file(warehouse, out)
    assert not out.exists()
    assert not list(tmp_path.glob(".out.duckdb.tmp*"))
