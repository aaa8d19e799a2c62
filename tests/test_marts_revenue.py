"""Revenue marts on the generated municipality: they reconcile with what was loaded, growth is
what the rows say, and the CPI reference is DANE's published series."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import duckdb
import polars as pl
import pytest

import fiscal_intel
from fiscal_intel.settings import Settings

REFERENCE = Path(fiscal_intel.__file__).resolve().parent / "reference"


@pytest.fixture(scope="module")
def wh(demo_run) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(demo_run["warehouse"]), read_only=True)
    yield con
    con.close()


def one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchall()[0][0]


def test_monthly_collected_reconciles_with_payments_loaded(wh) -> None:
    paid = one(wh, "select sum(amount)::double from staging.stg_payments")
    receipts = one(wh, "select count(distinct payment_id) from raw.payments")
    assert receipts == one(wh, "select count(*) from staging.stg_payments") > 1_000
    # Every peso is in the mart, pooled cells included: none had to be withheld here. Each
    # published amount is rounded to COP 1 M (tax secrecy), so each row is within half of it;
    # the demo's as-of date ends a month, so no open month is left out.
    assert one(wh, "select count(*) from marts.revenue_monthly where collected is null") == 0
    rows = one(wh, "select count(*) from marts.revenue_monthly")
    half = Settings().secrecy_rounding_cop / 2
    assert one(wh, "select sum(collected) from marts.revenue_monthly") == pytest.approx(
        paid, abs=rows * half
    )
    # Per month too (the pool of months too small on their own has no month).
    by_month = wh.sql(
        "select month, sum(collected) as mart from marts.revenue_monthly "
        "where month is not null group by month"
    ).pl()
    paid_by_month = wh.sql(
        "select cast(date_trunc('month', paid_on) as date) as month, sum(amount)::double as paid "
        "from staging.stg_payments group by 1"
    ).pl()
    rows_by_month = wh.sql(
        "select month, count(*) as n from marts.revenue_monthly where month is not null group by 1"
    ).pl()
    joined = by_month.join(paid_by_month, on="month", how="left").join(rows_by_month, on="month")
    assert ((joined["mart"] - joined["paid"]).abs() <= joined["n"] * half).all()


def test_yearly_agrees_with_monthly_and_with_returns(wh) -> None:
    monthly = one(wh, "select sum(collected) from marts.revenue_monthly")
    yearly = one(wh, "select sum(collected) from marts.revenue_yearly")
    rows = one(wh, "select count(*) from marts.revenue_monthly")  # rounded to COP 1 M each
    assert yearly == pytest.approx(monthly, abs=rows * Settings().secrecy_rounding_cop / 2)
    declared = one(wh, "select sum(total_tax)::double from staging.stg_declarations")
    assert one(wh, "select sum(declared_tax) from marts.revenue_yearly") == pytest.approx(
        declared, abs=1
    )
    # Per tax year: payments applied to the year and returns of the year.
    per_year = wh.sql(
        "select tax_year, sum(collected) as c, sum(declared_tax) as d, sum(filers) as f "
        "from marts.revenue_yearly group by tax_year"
    ).pl()
    staged = wh.sql(
        "select tax_year::integer as tax_year, sum(amount)::double as c from staging.stg_payments "
        "group by all"
    ).pl()
    returns = wh.sql(
        "select tax_year::integer as tax_year, sum(total_tax)::double as d, count(*) as f "
        "from staging.stg_declarations group by all"
    ).pl()
    joined = per_year.join(staged, on="tax_year", suffix="_s").join(
        returns, on="tax_year", suffix="_r"
    )
    assert joined.height == returns.height
    assert (joined["c"] - joined["c_s"]).abs().max() < 1
    assert (joined["d"] - joined["d_r"]).abs().max() < 1
    assert (joined["f"] == joined["f_r"]).all()


def test_contract_columns_keep_their_types(wh) -> None:
    columns = dict(
        wh.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'revenue_monthly'"
        ).fetchall()
    )
    for name, dtype in {"month": "DATE", "ciiu_section": "VARCHAR", "collected": "DOUBLE",
                        "payers": "INTEGER"}.items():  # fmt: skip
        assert columns[name] == dtype


def test_growth_is_cell_on_previous_year_nominal_and_real(wh) -> None:
    cells = wh.sql(
        "select y.*, c.inflation_dec_pct from marts.revenue_yearly as y "
        "left join ref.cpi_deflator as c on y.tax_year = c.year where y.pooled_cells = 0"
    ).pl()
    prev = cells.select(
        (pl.col("tax_year") + 1).alias("tax_year"), "ciiu_section", "comuna",
        pl.col("declared_tax").alias("prev_declared"),
    )  # fmt: skip
    joined = cells.join(prev, on=["tax_year", "ciiu_section", "comuna"], nulls_equal=True)
    checked = joined.filter(pl.col("prev_declared") > 0)
    assert checked.height > 20
    for row in checked.iter_rows(named=True):
        nominal = row["declared_tax"] / row["prev_declared"] - 1
        assert row["declared_growth"] == pytest.approx(nominal)
        real = (1 + nominal) / (1 + row["inflation_dec_pct"] / 100) - 1
        assert row["declared_growth_real"] == pytest.approx(real)
    # No growth is given against a pooled (hidden) cell or across a gap.
    orphans = cells.join(prev, on=["tax_year", "ciiu_section", "comuna"], how="anti",
                         nulls_equal=True)  # fmt: skip
    assert orphans["declared_growth"].null_count() == orphans.height


def test_cpi_reference_is_danes_series_chained_from_december_2018() -> None:
    with (REFERENCE / "cpi_deflator.csv").open(encoding="utf-8") as fh:
        rows = {int(r["year"]): r for r in csv.DictReader(fh)}
    published = {2015: 6.77, 2016: 5.75, 2017: 4.09, 2018: 3.18, 2019: 3.80, 2020: 1.61,
                 2021: 5.62, 2022: 13.12, 2023: 9.28, 2024: 5.20}  # fmt: skip
    for year, rate in published.items():
        assert float(rows[year]["inflation_dec_pct"]) == rate
        ratio = float(rows[year]["cpi_dec"]) / float(rows[year - 1]["cpi_dec"])
        assert ratio == pytest.approx(1 + rate / 100, abs=1e-6)
    assert float(rows[2018]["cpi_dec"]) == 100.0
    assert "cpi_deflator.csv" in (REFERENCE / "SOURCES.md").read_text(encoding="utf-8")


def test_arrears_are_declared_balances_not_yet_paid(wh) -> None:
    as_of = one(wh, "select as_of from staging.as_of_date")
    settings = Settings()
    debts = wh.sql(
        """
        select d.nit, d.tax_year, d.first_filed_on,
               d.balance_due::double - coalesce(sum(p.amount)::double, 0) as outstanding
        from staging.stg_declarations as d
        left join staging.stg_payments as p
            on d.nit = p.nit and d.tax_year = p.tax_year and p.paid_on <= $as_of
        where d.first_filed_on <= $as_of
        group by d.nit, d.tax_year, d.first_filed_on, d.balance_due
        having outstanding > 0
        """,
        params={"as_of": as_of},
    ).pl()

    def bucket(row: dict) -> str:
        deadline = row["first_filed_on"].replace(
            year=row["tax_year"] + 1, month=settings.filing_deadline_month,
            day=settings.filing_deadline_day,
        )  # fmt: skip
        days = (as_of - max(deadline, row["first_filed_on"])).days
        for limit, name in ((365, "0-1"), (730, "1-2"), (1095, "2-3"), (1826, "3-5")):
            if days < limit:
                return name
        return "5+"

    expected: dict[str, float] = {}
    for row in debts.iter_rows(named=True):
        expected[bucket(row)] = expected.get(bucket(row), 0.0) + row["outstanding"]
    mart = dict(
        wh.execute(
            "select age_bucket, sum(outstanding) from marts.arrears group by age_bucket"
        ).fetchall()
    )
    assert set(mart) == set(expected)
    for name, total in expected.items():
        assert mart[name] == pytest.approx(total, abs=1)
    assert one(wh, "select bool_and(likely_prescribed = (age_bucket = '5+')) from marts.arrears")


def test_compliance_counts_agree_with_returns_and_the_planted_truth(demo_run, wh) -> None:
    comp = wh.sql("select * from marts.compliance_yearly order by tax_year").pl()
    assert comp.height >= 6
    returns = dict(
        wh.execute(
            "select tax_year, count(*) from staging.stg_declarations as d, staging.as_of_date as a "
            "where d.first_filed_on <= a.as_of group by all"
        ).fetchall()
    )
    truth = pl.read_csv(demo_run["truth"] / "tax_gap.csv", schema_overrides={"nit": pl.Utf8})
    omisos = dict(truth.filter(pl.col("program") == "omiso").group_by("tax_year").len().rows())
    for r in comp.iter_rows(named=True):
        assert r["filers"] == returns[r["tax_year"]]
        assert r["on_time"] + r["late"] == r["filers"]
        assert r["obliged"] == r["filers"] + r["non_filers"]
        assert r["filing_rate"] == pytest.approx(r["filers"] / r["obliged"])
        # The generator's non-filers are the registered entities that did not file; the mart's
        # rule (registries and third-party evidence, nothing planted) finds nearly the same.
        assert abs(r["non_filers"] - omisos[r["tax_year"]]) <= 0.1 * omisos[r["tax_year"]]


def test_audit_yield_totals_and_organic_split(wh) -> None:
    totals = wh.sql("select * from marts.audit_yield where program = 'total'").pl()
    collected = dict(
        wh.execute(
            "select year(paid_on)::integer, sum(amount)::double from staging.stg_payments "
            "group by all"
        ).fetchall()
    )
    assessed = dict(
        wh.execute(
            "select year(closed_on)::integer, sum(assessed_amount)::double "
            "from staging.stg_audits group by all"
        ).fetchall()
    )
    for r in totals.iter_rows(named=True):
        assert r["collected"] == pytest.approx(collected[r["year"]], abs=1)
        if r["assessed"] is not None:
            assert r["assessed"] == pytest.approx(assessed.get(r["year"], 0.0), abs=1)
        if r["enforcement_in_organic"]:
            assert r["enforcement_collected"] is None
            assert r["organic_collected"] == pytest.approx(r["collected"])
        else:
            assert r["organic_collected"] == pytest.approx(
                r["collected"] - r["enforcement_collected"]
            )
    complete = totals.filter(pl.col("complete_year")).sort("year")
    growth = complete["collected_growth"].to_list()[1:]
    expected = [b / a - 1 for a, b in zip(complete["collected"], complete["collected"][1:],
                                          strict=False)]  # fmt: skip
    assert all(math.isclose(g, e) for g, e in zip(growth, expected, strict=True))
