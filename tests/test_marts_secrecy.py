"""Tax secrecy (ET art. 583): leadership marts hold aggregates only, no figure comes from fewer
than 5 taxpayers, pools keep the totals, and the shareable export holds nothing else. The attacker
tests try what issue 13 case 10 did: a dominant payer in a published cell, totals minus the
published cells, and two consecutive nightly exports."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from fiscal_intel.cli import main
from fiscal_intel.leadership import IDENTIFYING_COLUMNS, LEADERSHIP_MARTS, SECRECY
from fiscal_intel.leadership.export import published_columns
from fiscal_intel.sqlfiles import install_macros, run_sql

K = 5
P = 10.0  # the p % rule's default
B = 1_000_000  # the default rounding of published amounts


def params(**overrides: object) -> dict[str, object]:
    base = {"min_cell_taxpayers": K, "dominance_p_percent": P, "secrecy_rounding_cop": 1}
    return base | overrides


def dominated(amounts: list[float], p: float = P) -> bool:
    """The p % rule, written again from its definition (not from the macro)."""
    top = sorted(amounts, reverse=True)
    return sum(top) - top[0] - (top[1] if len(top) > 1 else 0) < p / 100 * top[0]


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
        # The demo's random sample is too small to show a gap; the monthly forecast has no actual.
        if table not in ("tax_gap", "revenue_forecast_monthly"):
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
    con.execute("create table staging.as_of_date as select date '2024-04-30' as as_of")
    install_macros(con)
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
    run_sql(tiny, "marts/revenue_monthly", **params())
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
    # February alone (2 payers) in 2024's pool of months: 2024's total minus January would give
    # it, so January, the year's smallest other month, joins the pool (5 cells, 22 payers).
    tiny.execute("delete from staging.stg_payments where paid_on = '2024-03-15'")
    run_sql(tiny, "marts/revenue_monthly", **params())
    assert tiny.execute(
        "select collected, payers, pooled_cells from marts.revenue_monthly"
    ).fetchall() == [(sum(1000 * (i + 1) for i in range(20)) + 14.0, 22, 5)]
    # The same 2 payers in a year of their own: no set of that year's months is safe, and the
    # pool of months is withheld.
    tiny.execute("update staging.stg_payments set paid_on = '2023-02-15' where amount = 7")
    run_sql(tiny, "marts/revenue_monthly", **params())
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
    run_sql(tiny, "marts/revenue_yearly", **params())
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
            # The same rows, with every amount rounded to the base and every ratio to 4 places.
            select = published_columns(wh, "warehouse", table, B)
            original = wh.execute(f"select {select} from marts.{table} order by all").fetchall()
            assert exported == original, table
        amounts = con.execute("select collected from marts.revenue_yearly").fetchall()
        assert all(v is None or v % B == 0 for (v,) in amounts)
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


def test_a_dominated_cell_is_pooled_with_the_next_smallest_cell(tiny) -> None:
    # April: G has 10 payers of 1,000; I has 6 payers, one of 9,000 and five of 40 (a count
    # rule shows I, yet its largest payer is 98 % of it); C has 5 payers of 1,000. I alone in
    # the pool would be I itself: C joins it, and the pool (9,000 of 14,200) is not dominated.
    tiny.execute("delete from staging.stg_payments")
    amounts = {"G": [1000] * 10, "I": [9000] + [40] * 5, "C": [1000] * 5}
    for section, values in amounts.items():
        for i, amount in enumerate(values):
            nit = f"{section}{i}"
            tiny.execute("insert into staging.stg_entities values (?, ?, '1')", [nit, section])
            tiny.execute(
                "insert into staging.stg_payments values (?, ?, 2023, '2024-04-10', ?)",
                [f"x{nit}", nit, amount],
            )
    # A payment in May, after the as-of month (April 30): an open period, never shown.
    tiny.execute("insert into staging.stg_payments values ('late', 'G0', 2023, '2024-05-02', 5)")
    run_sql(tiny, "marts/revenue_monthly", **params())
    rows = tiny.execute(
        "select month::varchar, ciiu_section, collected, payers, pooled_cells "
        "from marts.revenue_monthly order by all"
    ).fetchall()
    assert rows == [("2024-04-01", "*", 14_200, 11, 2), ("2024-04-01", "G", 10_000, 10, 0)]
    assert dominated(amounts["I"]) and not dominated(amounts["I"] + amounts["C"])
    # Published amounts are rounded to the base.
    run_sql(tiny, "marts/revenue_monthly", **params(secrecy_rounding_cop=1_000))
    assert tiny.execute("select collected from marts.revenue_monthly order by all").fetchall() == [
        (10_000.0,), (14_000.0,)
    ]


CONTRIBUTIONS = """
    select cast(date_trunc('month', p.paid_on) as date) as month, e.ciiu_section, p.nit,
        sum(p.amount)::double as amount
    from staging.stg_payments as p
    left join staging.stg_entities as e on p.nit = e.nit
    cross join staging.as_of_date as a
    where p.paid_on < date_trunc('month', a.as_of + interval 1 day)
    group by all
"""


def payers_in(con: duckdb.DuckDBPyConnection, where: str) -> dict[object, list[float]]:
    """Per group, each payer's total in the closed months the attacker singles out."""
    out: dict[object, list[float]] = {}
    for group, amount in con.execute(
        f"select grp, amount from (select *, {where}) where grp is not null"
    ).fetchall():
        out.setdefault(group, []).append(amount)
    return out


def test_attacker_finds_no_dominant_payer_in_any_published_cell(wh) -> None:
    wh.execute(f"create or replace temp view contributions as {CONTRIBUTIONS}")
    shown = payers_in(
        wh,
        "(select month || '/' || ciiu_section from marts.revenue_monthly as m where "
        "m.pooled_cells = 0 and m.month = c.month and m.ciiu_section = c.ciiu_section) as grp "
        "from contributions as c",
    )
    assert len(shown) > 100
    for cell, amounts in shown.items():
        assert len(amounts) >= K and not dominated(amounts), cell
    # Without the rule, the same data has cells of 5+ payers where one payer dominates.
    everyone = payers_in(wh, "month || '/' || ciiu_section as grp from contributions")
    assert sum(len(a) >= K and dominated(a) for a in everyone.values()) > 10


def test_attacker_subtracting_shown_cells_from_totals_gets_only_safe_pools(wh) -> None:
    # A month's total is the sum of its rows (and the yearly mart gives every year's): minus
    # the shown cells, the attacker has the month's pool. It must be a safe aggregate of two
    # cells or more, never one sensitive cell.
    wh.execute(f"create or replace temp view contributions as {CONTRIBUTIONS}")
    pools = payers_in(
        wh,
        "case when not exists (select 1 from marts.revenue_monthly as m where m.month = c.month "
        "and m.pooled_cells = 0 and m.ciiu_section = c.ciiu_section) "
        "and exists (select 1 from marts.revenue_monthly as m where m.month = c.month) "
        "then c.month end as grp from contributions as c",
    )
    sizes = dict(
        wh.execute(
            "select month, pooled_cells from marts.revenue_monthly where ciiu_section = '*' "
            "and month is not null"
        ).fetchall()
    )
    assert set(pools) == set(sizes) and len(pools) > 20
    for month, amounts in pools.items():
        assert sizes[month] >= 2, month
        assert len(amounts) >= K and not dominated(amounts), month
    # The months the mart cannot show even as a pool: a year's total (revenue_forecast.actual)
    # minus its published months gives that year's share of them, which must be safe too.
    hidden = payers_in(
        wh,
        "case when not exists (select 1 from marts.revenue_monthly as m where m.month = c.month) "
        "then year(c.month) end as grp from contributions as c",
    )
    shown_years = {
        y for (y,) in wh.execute(
            "select target_year from marts.revenue_forecast "
            "where kind = 'actual' and actual is not null"
        ).fetchall()
    }  # fmt: skip
    for year in hidden:
        if year in shown_years:
            # One amount per payer: a payer may pay in several of the hidden months.
            by_payer = payers_in(
                wh,
                "case when not exists (select 1 from marts.revenue_monthly as m "
                "where m.month = c.month) and year(c.month) = " + str(year) +
                " then c.nit end as grp from contributions as c",
            )
            totals = [sum(v) for v in by_payer.values()]
            assert len(totals) >= K and not dominated(totals), year
    assert hidden and shown_years  # the demo has such months, and years shown


def _release(source: Path, folder: Path, night: int, rounding: int, extra: list[tuple]) -> dict:
    """One night: the warehouse as it was plus ``extra`` payments, its revenue_monthly rebuilt
    and the leadership file exported; returns the published monthly cells."""
    from fiscal_intel.leadership.export import export_leadership_file

    warehouse = folder / f"night{night}.duckdb"
    shutil.copy(source, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        for row in extra:
            con.execute(
                "insert into staging.stg_payments (payment_id, nit, tax_year, paid_on, amount) "
                "values (?, ?, ?, ?, ?)",
                list(row),
            )
        # The as-of date is the latest event in the data, as the staging asset sets it.
        con.execute(
            "update staging.as_of_date set as_of = "
            "greatest(as_of, (select max(paid_on) from staging.stg_payments))"
        )
        install_macros(con)
        run_sql(con, "marts/revenue_monthly", **params(secrecy_rounding_cop=rounding))
    out = folder / f"leadership{night}.duckdb"
    export_leadership_file(warehouse, out, rounding_cop=rounding)
    with duckdb.connect(str(out), read_only=True) as con:
        return {
            (m, s): (c, n)
            for m, s, c, n in con.execute(
                "select month, ciiu_section, collected, payers from marts.revenue_monthly"
            ).fetchall()
        }


def test_attacker_comparing_two_nightly_exports(demo_run, wh, tmp_path: Path) -> None:
    as_of = wh.execute("select as_of from staging.as_of_date").fetchall()[0][0]
    # A payer already counted in a published cell of a closed month pays 47,000 more there (a
    # late receipt), and another payment lands the day after the as-of date (an open month).
    month, section, nit = wh.execute(
        f"select c.month, c.ciiu_section, min(c.nit) from ({CONTRIBUTIONS}) as c "
        "inner join marts.revenue_monthly as m on m.month = c.month "
        "and m.ciiu_section = c.ciiu_section and m.pooled_cells = 0 "
        "where m.collected > 0 group by all order by c.month desc, c.ciiu_section limit 1"
    ).fetchall()[0]
    late = ("late-1", nit, month.year, month.replace(day=15), 47_000)
    fresh = ("new-1", nit, as_of.year, as_of + timedelta(days=1), 1_234_567)

    def attack(rounding: int) -> tuple[dict, dict]:
        folder = tmp_path / f"r{rounding}"
        folder.mkdir()
        return (
            _release(demo_run["warehouse"], folder, 1, rounding, []),
            _release(demo_run["warehouse"], folder, 2, rounding, [late, fresh]),
        )

    # Unprotected (no rounding) the attack works: same payers, the cell moved by the payment.
    before, after = attack(1)
    key = (month, section)
    assert after[key][1] == before[key][1]
    assert after[key][0] - before[key][0] == 47_000
    # Protected: the open month is not published at all, and the late payment does not show to
    # the peso (the cell moved by 0 or by the rounding base).
    before, after = attack(B)
    open_month = (as_of + timedelta(days=1)).replace(day=1)
    assert not any(m == open_month for m, _ in after)
    assert set(before) == set(after)
    moved = {k: after[k][0] - before[k][0] for k in before if after[k] != before[k]}
    assert set(moved) <= {key}
    assert all(delta in (0, B) for delta in moved.values())


def test_a_threshold_below_its_floor_is_refused(
    demo_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "leadership.duckdb"
    args = ["export-leadership", "--warehouse", str(demo_run["warehouse"]), "--out", str(out)]
    for name, value in (("MIN_CELL_TAXPAYERS", "1"), ("DOMINANCE_P_PERCENT", "0"),
                        ("SECRECY_ROUNDING_COP", "1")):  # fmt: skip
        monkeypatch.setenv(f"FISCAL_INTEL_{name}", value)
        assert main(args) == 2  # a setting that cannot be used: a bad argument
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"FISCAL_INTEL_{name}" in err, err
        assert "floor" in err and not out.exists()
        monkeypatch.delenv(f"FISCAL_INTEL_{name}")
    monkeypatch.setenv("FISCAL_INTEL_MIN_CELL_TAXPAYERS", "3")  # the floor itself is accepted
    assert main(args) == 0
    assert "aggregates only: cells of 3+ taxpayers" in capsys.readouterr().out
