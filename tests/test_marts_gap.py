"""The tax gap from the random-audit sample: the mart's arithmetic against an independent
computation, and the estimate against the generator's planted truth."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from fiscal_intel.leadership.forecast import t975
from fiscal_intel.sqlfiles import install_macros, run_sql


@pytest.fixture(scope="module")
def unsuppressed(demo_run, tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """A copy of the demo warehouse with the gap marts rebuilt without the secrecy threshold: the
    1,000-taxpayer demo's random sample finds tax in fewer than 5 cases, so the real mart is
    (rightly) empty; the arithmetic is checked on the unsuppressed numbers."""
    copy = tmp_path_factory.mktemp("gap") / "w.duckdb"
    shutil.copy(demo_run["warehouse"], copy)
    con = duckdb.connect(str(copy))
    install_macros(con)
    params = {"filing_deadline_month": 4, "filing_deadline_day": 30, "min_cell_taxpayers": 1}
    run_sql(con, "marts/compliance_yearly", **params)
    run_sql(con, "marts/tax_gap", **params)
    yield con
    con.close()


def expected_estimates(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple]:
    as_of = con.execute("select as_of from staging.as_of_date").fetchall()[0][0]
    cpi = dict(con.execute("select year, cpi_dec from ref.cpi_deflator").fetchall())
    last = max(cpi)

    def to_current(year: int) -> float:
        return cpi[min(year, last)] / cpi[last]

    audits = con.sql(
        "select a.program, a.tax_year, a.assessed_amount::double as y, "
        "coalesce(d.total_tax, 0)::double as x from staging.stg_audits as a "
        "left join staging.stg_declarations as d using (nit, tax_year) "
        "where a.selection = 'random' and a.closed_on <= $as_of",
        params={"as_of": as_of},
    ).pl()
    returns = con.sql(
        "select tax_year, count(*) as n, sum(total_tax)::double as x "
        "from staging.stg_declarations group by all"
    ).pl()
    non_filers = con.sql("select tax_year, non_filers as n from marts.compliance_yearly").pl()
    out = {}
    for program, population in (("inexacto", returns), ("omiso", non_filers)):
        s = audits.filter(pl.col("program") == program)
        lo, hi = s["tax_year"].min(), s["tax_year"].max()
        pop = population.filter(pl.col("tax_year").is_between(lo, hi))
        n, big_n = s.height, pop["n"].sum()
        weight = sum(r["n"] * to_current(r["tax_year"]) for r in pop.iter_rows(named=True))
        const = [r["y"] / to_current(r["tax_year"]) for r in s.iter_rows(named=True)]
        mean = sum(const) / n
        var = sum((c - mean) ** 2 for c in const) / (n - 1)
        out[(program, "mean_per_case")] = (
            n, big_n, mean * weight, weight * math.sqrt((1 - n / big_n) * var / n)
        )
        if program == "inexacto":
            ratio = s["y"].sum() / s["x"].sum()
            resid = (s["y"] - ratio * s["x"]).to_list()
            rm = sum(resid) / n
            rvar = sum((e - rm) ** 2 for e in resid) / (n - 1)
            out[(program, "ratio_to_declared")] = (
                n, big_n, ratio * pop["x"].sum(), big_n * math.sqrt((1 - n / big_n) * rvar / n)
            )
    return out


def test_gap_estimates_match_an_independent_computation(unsuppressed) -> None:
    mart = {
        (r["program"], r["method"]): r
        for r in unsuppressed.sql("select * from marts.tax_gap").pl().iter_rows(named=True)
    }
    expected = expected_estimates(unsuppressed)
    assert set(expected) <= set(mart)
    for key, (n, big_n, estimate, se) in expected.items():
        row = mart[key]
        assert (row["sample_cases"], row["population_cases"]) == (n, big_n)
        assert row["estimate"] == pytest.approx(estimate, rel=1e-9)
        half = t975(n - 1) * se
        assert row["upper_95"] - row["estimate"] == pytest.approx(half, rel=0.01)
        assert row["lower_95"] == pytest.approx(max(0.0, estimate - half), abs=0.01 * half + 1)
    total = mart[("total", "mean_per_case")]
    parts = mart[("inexacto", "mean_per_case")]["estimate"] + mart[("omiso", "mean_per_case")][
        "estimate"
    ]
    assert total["estimate"] == pytest.approx(parts)


def test_compliance_non_filer_estimate_is_the_omiso_gap_by_year(unsuppressed) -> None:
    gap = unsuppressed.execute(
        "select first_year, last_year, estimate from marts.tax_gap "
        "where program = 'omiso' and method = 'mean_per_case'"
    ).fetchall()[0]
    by_year = unsuppressed.execute(
        "select sum(non_filer_tax_estimate) from marts.compliance_yearly "
        "where tax_year between ? and ?",
        [gap[0], gap[1]],
    ).fetchall()[0][0]
    assert by_year == pytest.approx(gap[2], rel=1e-9)


def test_gap_against_the_planted_truth(demo_run, unsuppressed) -> None:
    truth = pl.read_csv(Path(demo_run["truth"]) / "tax_gap.csv", schema_overrides={"nit": pl.Utf8})
    rows = unsuppressed.sql("select * from marts.tax_gap").pl()

    def true_gap(program: str, lo: int, hi: int) -> float:
        t = truth.filter(pl.col("tax_year").is_between(lo, hi))
        if program != "total":
            t = t.filter(pl.col("program") == program)
        return float(t["true_gap"].sum())

    for r in rows.iter_rows(named=True):
        actual = true_gap(r["program"], r["first_year"], r["last_year"])
        # Audits assess what they find (never the evasion they miss): the estimate is a floor.
        assert r["estimate"] <= 1.1 * actual, (r["program"], r["method"])
    # Non-filers owe what audits find when they look (no under-reporting to miss): the
    # interval holds the truth.
    omiso = rows.filter(program="omiso").row(0, named=True)
    assert omiso["lower_95"] <= true_gap("omiso", omiso["first_year"], omiso["last_year"]) <= (
        omiso["upper_95"]
    )
