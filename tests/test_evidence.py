"""Evidence scored without labels (issue #20): the contractor rule, linked NITs, the registry
against peers, and how the ranking combines them with the learnt model."""

from __future__ import annotations

import shutil
from dataclasses import replace

import duckdb
import numpy as np
import polars as pl

from fiscal_intel.resources import build_resources
from fiscal_intel.scoring.model import evidence_hit_rate, predict
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
    # shown: 2 random (weight 5: one hit, one miss); the 7 staff picks (6 hits) do not count
    assert got["evidence_hit_rate"] == round((5 + 1) / (10 + 2), 6)
    assert got["evidence_audits"] == 9 and got["evidence_random_audits"] == 2
    assert got["evidence_random_hits"] == 1
    # median assessed per peso of evidence tax on the 7 adjusted ones showing it
    assert got["evidence_amount_ratio"] == round(np.median([0.4, 0.4, 1, 0.5, 1 / 3, 0.25, 0.2]), 6)
    none = evidence_hit_rate(np.zeros(3), np.ones(3, bool), np.ones(3, bool), np.ones(3))
    assert none["evidence_hit_rate"] == 0.5 and none["evidence_amount_ratio"] == 1.0


def test_a_staff_pick_does_not_move_the_evidence_hit_rate() -> None:
    """llanura seed 9602 (#20 round 3): the only audit showing the contractor evidence was a
    staff pick that found nothing; counted, it took every contractor from an even bet to 1/3."""
    one_miss = evidence_hit_rate(np.array([5e6]), np.array([False]), np.array([False]),
                                 np.array([0.0]))
    assert one_miss["evidence_hit_rate"] == 0.5 and one_miss["evidence_audits"] == 1
    random_miss = evidence_hit_rate(np.array([5e6]), np.array([False]), np.array([True]),
                                    np.array([0.0]))
    assert random_miss["evidence_hit_rate"] == round(1 / 7, 6)


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
    # ranked on the evidence's tax, at the evidence's hit rate or the model's own probability
    # for the case, whichever is higher: the evidence never makes a finding less likely
    p_model, _ = predict(model, boosted.head(1))
    rate = max(model.params["evidence_hit_rate"], float(p_model[0]))
    amount = tax * model.params["evidence_amount_ratio"]
    assert first["risk_score"] == rate
    assert first["expected_recovery"] == near_equal(np.array([rate * amount]))[0]
    assert ranked["by_evidence"].sum() == plain["by_evidence"].sum() + 1
    for hit_rate in (1e-3, 0.999):
        params = {**model.params, "evidence_hit_rate": hit_rate}
        again = rank_candidates(replace(model, params=params), boosted).row(0, named=True)
        assert (again["nit"], again["tax_year"], again["by_evidence"]) == (
            row["nit"], row["tax_year"], True)  # fmt: skip
        assert again["risk_score"] == max(hit_rate, float(p_model[0]))
    top = ranked.head(1).join(boosted.drop("statute_expires_on", "size_band", "ciiu_section"),
                              on=["nit", "tax_year"])
    texts, codes = reasons_for(model, top, 1, 1)
    first_reason = loads(codes[0])[0]
    assert first_reason.family == "omiso.contractor"
    assert texts[0].startswith("sin inscripción en el RIT")
    assert PROGRAMS["omiso"].evidence == "contractor_tax"


def _population(n: int = 4000, seed: int = 3) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A synthetic population staff picked from by size (the largest ten times likelier),
    with 1 % random audits, as the omiso feature table would hold it."""
    rng = np.random.default_rng(seed)
    features = PROGRAMS["omiso"].feature_list
    size = rng.normal(0.0, 1.0, n)
    data = {f: rng.normal(0.0, 1.0, n) for f in features}
    data["total_assets"] = size
    frame_ = pl.DataFrame(
        {"nit": [f"9{i:08d}" for i in range(n)], "tax_year": [2020 + i % 4 for i in range(n)],
         **data}
    )
    risk = rng.random(n) < 0.02 + 0.2 * (size > 1.0)
    rand = ~risk & (rng.random(n) < 0.01)
    population = frame_.with_columns(risk_pick=pl.Series(risk))
    audits = frame_.filter(pl.Series(risk | rand)).with_columns(
        audit_selection=pl.Series(np.where(risk, "risk", "random")[risk | rand]),
        label_adjusted=pl.Series(rng.random(int((risk | rand).sum())) < 0.5),
    )
    return population, audits


def test_the_selection_correction_weighs_audits_by_the_inverse_of_staffs_propensity() -> None:
    from fiscal_intel.scoring import model

    population, audits = _population()
    weight, info = model.selection_weights("omiso", audits, population, population.height,
                                           seed=1)
    assert weight is not None and len(weight) == audits.height
    assert abs(weight.mean() - 1) < 1e-9 and weight.max() <= model.MAX_SELECTION_WEIGHT + 1e-9
    large = (audits["total_assets"] > 1.0).to_numpy()
    # staff picked the large ten times likelier: their audits teach less about the rest
    assert weight[~large].mean() > 1.5 * weight[large].mean()
    assert info["selection_random_share"] == round(
        int((audits["audit_selection"] == "random").sum()) / population.height, 6
    )
    assert info["selection_effective_audits"] < audits.height
    # without random audits nothing bounds the weights: no correction; nor when switched off
    staff_only = audits.filter(pl.col("audit_selection") == "risk")
    assert model.selection_weights("omiso", staff_only, population, population.height,
                                   seed=1)[0] is None
    try:
        model.SELECTION_CORRECTION = False
        assert model.selection_weights("omiso", audits, population, population.height,
                                       seed=1) == (None, {})
    finally:
        model.SELECTION_CORRECTION = True
    # a program whose spec turns it off (inexacto: measured, see its spec) learns unweighted
    assert not PROGRAMS["inexacto"].selection_correction
    assert model.selection_weights("inexacto", audits, population, population.height,
                                   seed=1) == (None, {})


def test_the_population_staff_picked_from_comes_from_the_feature_table(demo_run) -> None:
    from fiscal_intel.scoring.training import population_rows

    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        as_of = con.execute("select as_of from staging.as_of_date").fetchone()[0]
        rows, size = population_rows(con, "omiso", as_of)
        picked, filed, years = con.execute(
            "select count(*) filter (where audit_selection = 'risk'), "
            "count(*) filter (where filed = 1 and label_adjusted is null), "
            "count(distinct tax_year) filter (where label_adjusted is not null) "
            "from features.omiso_features where audit_closed_on <= $a or audit_closed_on is null",
            {"a": as_of},
        ).fetchone()
    assert rows is not None and rows.height == size > 0
    # every closed staff-picked audit is in it, no filer that was never audited is
    assert int(rows["risk_pick"].sum()) == picked > 0
    assert rows["tax_year"].n_unique() == years
    assert filed > 0 and rows.height < size + filed


def test_an_amount_the_current_witnesses_contradict_is_counted_at_their_multiple() -> None:
    from fiscal_intel.scoring.ranking import corroborated

    spec = PROGRAMS["omiso"]
    k = spec.corroboration_multiple
    candidates = pl.DataFrame(
        {
            # a shell with a rich past, a solid case, nothing seen, only a third party seen
            "asset_implied_tax": [0.5e6, 30e6, None, None],
            "employee_implied_tax": [0.0, 25e6, None, None],
            "third_party_implied_tax": [0.0, 0.0, 0.0, 2e6],
        }
    )
    amount = np.array([90e6, 40e6, 60e6, 20e6])
    got = corroborated("omiso", candidates, amount)
    assert got.tolist() == [k * 0.5e6, 40e6, 60e6, k * 2e6]
    # witnesses of an inexacto case would be what third parties, the return's lines, the
    # registry and linked NITs say is missing; a return none of them questions keeps its amount
    returns = pl.DataFrame(
        {
            "suspected_gap_tax": [1e6, 0.0, 0.0],
            "registry_evidence_tax": [0.0, 4e6, 0.0],
            "group_shortfall_tax": [None, 1e6, None],
        }
    )
    amounts = np.array([50e6, 5e6, 80e6])
    # inexacto declares no witnesses (measured: see its spec): its amounts stand
    assert PROGRAMS["inexacto"].corroboration == ()
    assert corroborated("inexacto", returns, amounts).tolist() == amounts.tolist()
    spec = PROGRAMS["inexacto"]
    try:
        PROGRAMS["inexacto"] = replace(spec, corroboration=tuple(returns.columns))
        got = corroborated("inexacto", returns, amounts)
        # a frame without the witnesses' columns is left alone
        assert corroborated("inexacto", candidates, amount).tolist() == amount.tolist()
    finally:
        PROGRAMS["inexacto"] = spec
    assert got.tolist() == [spec.corroboration_multiple * 1e6, 5e6, 80e6]


def test_the_corroboration_multiple_is_learnt_from_the_filers_returns() -> None:
    from fiscal_intel.scoring.model import MIN_CORROBORATION_ROWS, learnt_corroboration_multiple

    spec = PROGRAMS["omiso"]
    n = 1000
    rng = np.random.default_rng(5)
    ratio = rng.uniform(0.5, 2.5, n)  # declared tax over the largest witness, 90th pct ~2.3
    witness = rng.uniform(1e6, 9e6, n)
    rows = pl.DataFrame(
        {
            # the largest witness counts, whichever it is; an unseen row or an empty return
            # does not
            "asset_implied_tax": np.where(np.arange(n) % 2 == 0, witness, witness / 2),
            "employee_implied_tax": np.where(np.arange(n) % 2 == 1, witness, np.nan),
            "third_party_implied_tax": np.zeros(n),
            "declared_tax": ratio * witness,
        }
    )
    unseen = pl.DataFrame(
        {
            "asset_implied_tax": [None, 0.0, 5e6],
            "employee_implied_tax": [None, 0.0, 5e6],
            "third_party_implied_tax": [0.0, None, 5e6],
            "declared_tax": [1e12, 1e12, 0.0],
        }
    )
    got = learnt_corroboration_multiple("omiso", pl.concat([rows, unseen], how="vertical_relaxed"))
    expected = round(float(np.quantile(ratio, spec.corroboration_quantile)), 1)
    assert got == expected and 2.0 < got < 2.5
    # never below what the witnesses imply
    low = rows.with_columns(pl.col("declared_tax") / 10)
    assert learnt_corroboration_multiple("omiso", low) == 1.0
    # too few returns a witness saw: the spec's multiple
    few = rows.head(MIN_CORROBORATION_ROWS - 1)
    assert learnt_corroboration_multiple("omiso", few) == spec.corroboration_multiple
    # and a program without a quantile keeps its own
    assert learnt_corroboration_multiple("inexacto", rows) == (
        PROGRAMS["inexacto"].corroboration_multiple
    )


def test_the_ranking_caps_at_the_multiple_the_model_learnt(demo_run) -> None:
    from fiscal_intel.scoring.ranking import corroboration_multiple

    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        model = stored_model(con, "omiso")
        candidates = frame(
            con, "select * from features.omiso_features where is_candidate order by nit, tax_year"
        )
    # the demo's model learnt its multiple from the demo's returns
    learnt = model.params["corroboration_multiple"]
    assert corroboration_multiple(model) == learnt and 1 <= learnt < 3
    witness = candidates.select(
        pl.max_horizontal(
            [pl.col(c).cast(pl.Float64).fill_null(0.0) for c in PROGRAMS["omiso"].corroboration]
        )
    ).to_series()
    for k in (learnt, 1.0):
        ranked = rank_candidates(replace(model, params={**model.params,
                                                        "corroboration_multiple": k}),
                                 candidates.with_columns(_witness=witness))  # fmt: skip
        # an amount an audit of another year established counts above the cap
        # (tests/test_audited_amount.py)
        floored = ranked.filter(pl.col("amount_floored").is_not_null())
        assert (floored["predicted_amount"] == floored["amount_floored"]).all()
        plain = ranked.filter(
            ~pl.col("by_evidence") & (pl.col("_witness") > 0) & pl.col("amount_floored").is_null()
        )
        assert plain.height > 0
        assert (plain["predicted_amount"] <= k * plain["_witness"] * (1 + 1e-9)).all()
        capped = plain.filter(pl.col("amount_capped_at").is_not_null())
        assert capped.height > 0
        assert np.allclose(capped["amount_capped_at"], k * capped["_witness"])


def test_a_case_whose_money_rests_on_size_alone_does_not_outrank_a_solid_one(demo_run) -> None:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        model = stored_model(con, "omiso")
        candidates = frame(
            con, "select * from features.omiso_features where is_candidate order by nit, tax_year"
        )
    plain = rank_candidates(model, candidates)
    solid = plain.row(0, named=True)
    # a former filer that declared a hundred times the top case's tax, whose registry now shows
    # a shell's assets and no staff, and no third party pays
    shell = candidates.filter(pl.col("nit") != solid["nit"]).row(0, named=True)
    big = 100 * float(solid["predicted_amount"])
    changed = candidates.with_columns(
        [
            pl.when((pl.col("nit") == shell["nit"]) & (pl.col("tax_year") == shell["tax_year"]))
            .then(pl.lit(value))
            .otherwise(pl.col(name))
            .cast(candidates.schema[name])
            .alias(name)
            for name, value in (
                ("nearest_declared_tax", big),
                ("nearest_declared_income", big * 100),
                ("prior_filings", 3),
                ("total_assets", 20e6),
                ("employees", 0),
                ("asset_implied_tax", 0.2e6),
                ("employee_implied_tax", 0.0),
                ("third_party_implied_tax", 0.0),
                ("third_party_base", 0.0),
            )
        ]
    )
    ranked = rank_candidates(model, changed)
    row = ranked.filter(
        (pl.col("nit") == shell["nit"]) & (pl.col("tax_year") == shell["tax_year"])
    ).row(0, named=True)
    from fiscal_intel.scoring.ranking import corroboration_multiple

    assert row["predicted_amount"] <= corroboration_multiple(model) * 0.2e6 + 1
    first = ranked.row(0, named=True)
    assert (first["nit"], first["tax_year"]) == (solid["nit"], solid["tax_year"])
    # and its reasons say why its amount is not its old return's
    top = ranked.filter(
        (pl.col("nit") == shell["nit"]) & (pl.col("tax_year") == shell["tax_year"])
    ).join(changed.drop("statute_expires_on", "size_band", "ciiu_section"),
           on=["nit", "tax_year"])
    texts, codes = reasons_for(model, top, 1, 1)
    expected = next(r for r in loads(codes[0]) if r.family == "general.expected")
    assert [key for key, _ in expected.phrases][-1] == "omiso.expected.corroborated"
    assert "no descansa solo en el tamaño" in texts[0]


def test_the_money_no_witness_supports_counts_at_the_cases_probability() -> None:
    from fiscal_intel.scoring.ranking import witnessed_amount

    spec = PROGRAMS["inexacto"]
    assert spec.amount_witnesses == (
        "suspected_gap_tax", "registry_evidence_tax", "group_shortfall_tax"
    )
    returns = pl.DataFrame(
        {
            # a large firm nothing questions, a solid case, witnesses above the amount, the
            # registry and linked NITs (the largest witness counts; unknown is nothing seen)
            "suspected_gap_tax": [0.0, 40e6, 90e6, 1e6],
            "registry_evidence_tax": [0.0, 0.0, 0.0, 3e6],
            "group_shortfall_tax": [None, None, 5e6, 2e6],
        }
    )
    p = np.array([0.3, 0.9, 0.5, 0.5])
    amount = np.array([2000e6, 50e6, 60e6, 10e6])
    counted, unwitnessed = witnessed_amount("inexacto", returns, p, amount)
    assert unwitnessed.tolist() == [2000e6, 10e6, 0.0, 7e6]
    assert np.allclose(counted, [0.3 * 2000e6, 40e6 + 0.9 * 10e6, 60e6, 3e6 + 0.5 * 7e6])
    # expected money p × counted: the size-only firm (raw 600 M) now ranks below the solid
    # case (raw 45 M) only when its probability is low enough: p² × 2,000 M = 180 M here
    assert (p * counted).tolist()[0] == 0.3 * 0.3 * 2000e6
    # a certain case keeps its whole amount, an impossible one keeps only what is witnessed
    full, _ = witnessed_amount("inexacto", returns, np.ones(4), amount)
    none, _ = witnessed_amount("inexacto", returns, np.zeros(4), amount)
    assert full.tolist() == amount.tolist()
    assert none.tolist() == [0.0, 40e6, 60e6, 3e6]
    # a program without witnesses, or a frame without their columns: the amount stands
    for program, frame_ in (("omiso", returns), ("inexacto", pl.DataFrame({"x": [1] * 4}))):
        same, part = witnessed_amount(program, frame_, p, amount)
        assert same.tolist() == amount.tolist() and part.tolist() == [0.0] * 4


def test_a_return_whose_money_rests_on_size_alone_does_not_outrank_a_solid_one(
    demo_run,
) -> None:
    from fiscal_intel.scoring.ranking import UNWITNESSED_REASON_SHARE

    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        model = stored_model(con, "inexacto")
        candidates = frame(
            con,
            "select * from features.inexacto_features where is_candidate order by nit, tax_year",
        )
    ranked = rank_candidates(model, candidates)
    # the order stays by expected money, the risk score × the amount counted
    assert np.allclose(
        ranked["expected_recovery"],
        near_equal(ranked["risk_score"].to_numpy() * ranked["predicted_amount"].to_numpy()),
    )
    assert ranked["expected_recovery"].is_sorted(descending=True)
    solid = ranked.row(0, named=True)
    # a return nothing questions (no check, registry or linked NIT says anything is missing)
    # of a firm grown until its raw expected money (probability × model amount) would put it
    # first, while the part counted at its probability keeps it below the top case
    plain = ranked.filter(
        (pl.col("amount_unwitnessed").is_null()) & (pl.col("risk_score") < 0.5)
    ).row(0, named=True)
    key = (pl.col("nit") == plain["nit"]) & (pl.col("tax_year") == plain["tax_year"])
    best = float(solid["expected_recovery"])

    def grown(size: float) -> pl.DataFrame:
        return candidates.with_columns(
            [
                pl.when(key).then(pl.col(name) * size).otherwise(pl.col(name)).alias(name)
                for name in ("potential_tax", "declared_tax", "gross_income", "local_income")
            ]
            + [
                pl.when(key).then(pl.lit(0.0)).otherwise(pl.col(name)).alias(name)
                for name in PROGRAMS["inexacto"].amount_witnesses
            ]
        )

    for size in np.geomspace(1, 1e4, 41):
        changed = grown(float(size))
        p, amount = predict(model, changed.filter(key))
        if p[0] * amount[0] > 1.2 * best and p[0] ** 2 * amount[0] < 0.8 * best:
            break
    else:
        raise AssertionError("no size makes the plain return outrank the top case on its own")
    again = rank_candidates(model, changed)
    row = again.filter(key).row(0, named=True)
    assert row["amount_unwitnessed"] == amount[0]
    assert np.isclose(row["predicted_amount"], p[0] * amount[0])
    first = again.row(0, named=True)
    assert (first["nit"], first["tax_year"]) != (plain["nit"], plain["tax_year"])
    # its reasons say how much rests on size and at what it counts
    top = again.filter(key).join(
        changed.drop("statute_expires_on", "size_band", "ciiu_section"), on=["nit", "tax_year"]
    )
    texts, codes = reasons_for(model, top, 1, 1)
    expected = next(r for r in loads(codes[0]) if r.family == "general.expected")
    assert [k for k, _ in expected.phrases][-1] == "inexacto.expected.unwitnessed"
    assert "descansa en el tamaño y la historia del contribuyente" in texts[0]
    # a case whose amount the witnesses almost fully support carries no such phrase
    assert 0 < UNWITNESSED_REASON_SHARE < 1
    kept = again.filter(pl.col("amount_unwitnessed").is_null() & ~pl.col("by_evidence"))
    assert kept.height > 0
