"""Evidence scored without labels (issue #20): the contractor rule, linked NITs, the registry
against peers, and how the ranking combines them with the learnt model."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import polars as pl

from fiscal_intel.resources import build_resources
from fiscal_intel.scoring.model import evidence_hit_rate
from fiscal_intel.scoring.programs import PROGRAMS
from fiscal_intel.scoring.ranking import near_equal, rank_candidates, reasons_for, stored_model
from fiscal_intel.scoring.reasons import loads
from fiscal_intel.sqlfiles import frame, install_macros, run_sql


def test_the_evidence_hit_rate_comes_from_the_audits_that_show_it() -> None:
    evidence = np.array([0, 5e6, 5e6, 5e6, 5e6, 1e6, 2e6, 3e6, 4e6, 5e6, np.nan])
    adjusted = np.array([1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1], dtype=bool)
    is_random = np.array([0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    amount = np.array([9e9, 2e6, 2e6, 0, 0, 1e6, 1e6, 1e6, 1e6, 1e6, 9e9])
    got = evidence_hit_rate(evidence, adjusted, is_random, amount)
    # shown: 2 random (weight 5: one hit, one miss) and 7 staff picks (6 hits)
    assert got["evidence_hit_rate"] == round((5 + 6 + 1) / (10 + 7 + 2), 6)
    assert got["evidence_audits"] == 9 and got["evidence_random_audits"] == 2
    assert got["evidence_random_hits"] == 1
    # median assessed per peso of evidence tax on the 7 adjusted ones showing it
    assert got["evidence_amount_ratio"] == round(np.median([0.4, 0.4, 1, 0.5, 1 / 3, 0.25, 0.2]), 6)
    none = evidence_hit_rate(np.zeros(3), np.ones(3, bool), np.ones(3, bool), np.ones(3))
    assert none["evidence_hit_rate"] == 0.5 and none["evidence_amount_ratio"] == 1.0


def test_the_contractor_rule_and_linked_nits_on_the_demo(demo_run, tmp_path) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_run["warehouse"], copy)
    params = build_resources(demo_run["settings"])["settings"].sql_params()
    with duckdb.connect(str(copy)) as con:
        install_macros(con)
        year = con.execute("select max(tax_year) - 1 from features.omiso_features").fetchone()[0]
        registered = con.execute(
            "select nit from staging.stg_taxpayers where status = 'active' order by nit limit 1"
        ).fetchone()[0]
        # a contractor registered elsewhere, paid here; and a local RIT business paid the same
        for nit in ("901234567", registered):
            con.execute(
                "insert into staging.stg_withholdings by name select 'AG1' as agent_nit, "
                "$nit as nit, $y as tax_year, 3 as period, 40000000 as base_amount, "
                "280000 as withheld_amount",
                {"nit": nit, "y": year},
            )
        # two natural persons with returns that look like one business
        pair = [
            r[0]
            for r in con.execute(
                "select t.nit from staging.stg_taxpayers as t semi join features.known_returns "
                "as k on t.nit = k.nit and k.tax_year = $y where t.taxpayer_type = 'natural' "
                "order by t.nit limit 2",
                {"y": year},
            ).fetchall()
        ]
        con.execute(
            "update staging.stg_taxpayers set legal_name = 'ANA MARIA ZULUAGA QUINTERO', "
            "ciiu = '4711', registered_on = date '2015-03-01' where nit in $pair",
            {"pair": pair},
        )
        for name in ("third_party_income", "omiso_features", "inexacto_features"):
            run_sql(con, f"features/{name}", **params)
        omiso = frame(
            con,
            "select nit, contractor_tax, is_candidate from features.omiso_features "
            "where tax_year = $y and nit in ('901234567', $r)",
            {"y": year, "r": registered},
        )
        linked = frame(
            con,
            "select nit, linked_nits, group_shortfall_tax, registry_percentile "
            "from features.inexacto_features where tax_year = $y and nit in $pair",
            {"y": year, "pair": pair},
        )
        percentiles = con.execute(
            "select min(registry_percentile), max(registry_percentile), "
            "count(*) filter (where registry_evidence_tax > 0) from features.inexacto_features"
        ).fetchone()
    by_nit = {r["nit"]: r for r in omiso.to_dicts()}
    # 40 M paid at 7 per mil (the withheld rate; no activity known), with avisos y tableros
    assert abs(by_nit["901234567"]["contractor_tax"] - 40e6 * 7 / 1000 * 1.15) < 1
    assert by_nit["901234567"]["is_candidate"]
    assert by_nit.get(registered, {"contractor_tax": 0})["contractor_tax"] == 0
    assert linked["linked_nits"].to_list() == [1, 1]
    assert percentiles[0] >= 0 and percentiles[1] <= 1 and percentiles[2] > 0


def test_a_case_ranked_on_the_evidence_says_so_first(demo_run) -> None:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        model = stored_model(con, "omiso")
        candidates = frame(
            con, "select * from features.omiso_features where is_candidate order by nit, tax_year"
        )
    assert "evidence_hit_rate" in model.params
    plain = rank_candidates(model, candidates)
    tax = 100 * float(plain["expected_recovery"].max())
    row = candidates.row(0, named=True)
    boosted = candidates.with_columns(
        contractor_tax=pl.when(
            (pl.col("nit") == row["nit"]) & (pl.col("tax_year") == row["tax_year"])
        )
        .then(tax)
        .otherwise(pl.col("contractor_tax"))
    )
    ranked = rank_candidates(model, boosted)
    first = ranked.row(0, named=True)
    assert (first["nit"], first["tax_year"], first["by_evidence"]) == (
        row["nit"],
        row["tax_year"],
        True,
    )
    rate = model.params["evidence_hit_rate"] * model.params["evidence_amount_ratio"]
    assert first["expected_recovery"] == near_equal(np.array([rate * tax]))[0]
    assert ranked["by_evidence"].sum() == plain["by_evidence"].sum() + 1
    top = ranked.head(1).join(boosted.drop("statute_expires_on", "size_band", "ciiu_section"),
                              on=["nit", "tax_year"])
    texts, codes = reasons_for(model, top, 1, 1)
    first_reason = loads(codes[0])[0]
    assert first_reason.family == "omiso.contractor"
    assert texts[0].startswith("sin inscripción en el RIT")
    assert PROGRAMS["omiso"].evidence == "contractor_tax"
