"""An omiso case's amount counts at least what an omiso audit of another year assessed the same
business, indexed by the CPI (issue #20, round 4: ``audited_tax`` in
sql/features/omiso_features.sql, ``ProgramSpec.amount_floor``, ``ranking.amount_floor``)."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import polars as pl

from fiscal_intel.resources import build_resources
from fiscal_intel.scoring.programs import PROGRAMS
from fiscal_intel.scoring.ranking import (
    amount_floor,
    rank_candidates,
    reasons_for,
    stored_model,
)
from fiscal_intel.scoring.reasons import loads
from fiscal_intel.sqlfiles import frame, install_macros, run_sql


def test_the_omiso_spec_floors_its_amount_at_the_audited_tax() -> None:
    spec = PROGRAMS["omiso"]
    assert (spec.amount_floor, spec.amount_floor_year) == ("audited_tax", "audited_tax_year")
    # a column the ranking reads, not a model feature: the stored models stay valid
    assert spec.amount_floor not in spec.features and not spec.problems()
    assert PROGRAMS["inexacto"].amount_floor is None


def test_the_nearest_audited_year_indexed_by_the_cpi(demo_run, tmp_path) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_run["warehouse"], copy)
    params = build_resources(demo_run["settings"])["settings"].sql_params()
    with duckdb.connect(str(copy)) as con:
        install_macros(con)
        nit, year = con.execute(
            "select f.nit, f.tax_year from features.omiso_features as f "
            "where f.is_candidate and f.tax_year = (select max(tax_year) - 1 from "
            "features.omiso_features where is_candidate) and not exists (select 1 from "
            "staging.stg_audits as a where a.nit = f.nit) order by f.nit limit 1"
        ).fetchone()
        as_of = con.execute("select as_of from staging.as_of_date").fetchone()[0]
        # two earlier years assessed, one clean audit, one still open: the nearest assessed
        # year counts (a later year at the same distance loses the tie)
        for case, y, outcome, amount, closed in (
            ("T1", year - 1, "adjusted", 12_000_000, True),
            ("T2", year - 3, "adjusted", 50_000_000, True),
            ("T3", year + 1, "adjusted", 90_000_000, True),
            ("T4", year - 2, "no_finding", 0, True),
            ("T5", year - 4, "adjusted", 70_000_000, False),
        ):
            con.execute(
                "insert into staging.stg_audits by name select $case as case_id, $nit as nit, "
                "$y as tax_year, 'omiso' as program, 'risk' as selection, "
                "$as_of - interval 300 day as opened_on, "
                "case when $closed then $as_of - interval 30 day end as closed_on, "
                "$outcome as outcome, $amount as assessed_amount",
                {"case": case, "nit": nit, "y": y, "outcome": outcome, "amount": amount,
                 "as_of": as_of, "closed": closed},
            )  # fmt: skip
        run_sql(con, "features/omiso_features", **params)
        row = frame(
            con,
            "select audited_tax, audited_tax_year, is_candidate from features.omiso_features "
            "where nit = $nit and tax_year = $y",
            {"nit": nit, "y": year},
        ).row(0, named=True)
        cpi = dict(con.execute("select year, cpi_dec from ref.cpi_deflator").fetchall())
        untouched = con.execute(
            "select count(*) from features.omiso_features where audited_tax is not null "
            "and nit <> $nit and nit not in (select nit from staging.stg_audits where "
            "program = 'omiso' and outcome = 'adjusted')",
            {"nit": nit},
        ).fetchone()[0]
    last = max(cpi)
    index = cpi.get(year, cpi[last] if year > last else None)
    before = cpi.get(year - 1, cpi[last] if year - 1 > last else None)
    expected = 12e6 * (index / before if index and before else 1.0)
    assert row["is_candidate"] and row["audited_tax_year"] == year - 1
    assert abs(row["audited_tax"] - expected) < 1
    assert untouched == 0  # only a business's own adjusted omiso audits give it one


def test_the_ranking_counts_at_least_the_audited_tax_and_says_so(demo_run) -> None:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        model = stored_model(con, "omiso")
        candidates = frame(
            con, "select * from features.omiso_features where is_candidate order by nit, tax_year"
        )
    plain = rank_candidates(model, candidates.drop("audited_tax", "audited_tax_year"))
    assert plain["amount_floored"].null_count() == plain.height
    # the last case of the list, audited at a hundred times the best case's expected money
    last = plain.row(plain.height - 1, named=True)
    audited = 100 * float(plain["expected_recovery"].max()) / max(last["risk_score"], 1e-3)
    this = (pl.col("nit") == last["nit"]) & (pl.col("tax_year") == last["tax_year"])
    floored = candidates.with_columns(
        audited_tax=pl.when(this).then(audited).otherwise(None).cast(pl.Float64),
        audited_tax_year=pl.when(this).then(last["tax_year"] - 1).otherwise(None),
    )
    assert amount_floor("omiso", floored).max() == audited
    ranked = rank_candidates(model, floored)
    first = ranked.row(0, named=True)
    assert (first["nit"], first["tax_year"]) == (last["nit"], last["tax_year"])
    assert first["predicted_amount"] == audited == first["amount_floored"]
    assert first["amount_capped_at"] is None
    # everyone else ranks as before
    rest = ranked.filter(~this).select("nit", "tax_year", "predicted_amount")
    before = plain.filter(~this).select("nit", "tax_year", "predicted_amount")
    assert rest.equals(before)
    # an audited tax below the model's amount changes nothing
    low = candidates.with_columns(
        audited_tax=pl.lit(1.0), audited_tax_year=pl.lit(2000)
    )
    again = rank_candidates(model, low)
    assert np.allclose(again["predicted_amount"].to_numpy(), plain["predicted_amount"].to_numpy())
    assert again["amount_floored"].null_count() == again.height
    # the reasons say which year's audit the amount rests on
    top = ranked.head(1).join(
        floored.drop("statute_expires_on", "size_band", "ciiu_section"), on=["nit", "tax_year"]
    )
    texts, codes = reasons_for(model, top, 1, 1)
    expected = next(r for r in loads(codes[0]) if r.family == "general.expected")
    key, figures = expected.phrases[-1]
    assert key == "omiso.expected.audited"
    assert figures == {"audited": audited, "audited_year": last["tax_year"] - 1}
    assert f"fiscalización de omisión de {last['tax_year'] - 1}" in texts[0]
