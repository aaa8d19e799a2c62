"""Training and scoring are separate steps: the stored model scores exactly as the trained one,
a nightly run scores without training, a scoring run without a stored model fails saying what to
do, and the sampling and rounding that keep scoring cheap at scale are exact."""

from __future__ import annotations

import shutil
from dataclasses import replace

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest

from fiscal_intel.definitions import defs
from fiscal_intel.resources import build_resources
from fiscal_intel.scoring import model as model_module
from fiscal_intel.scoring.model import (
    AmountSpec,
    hash_sample,
    late_filing_probability,
    model_from_record,
    model_record,
    predict,
    predict_probability,
    sample_key,
    train,
)
from fiscal_intel.scoring.programs import PROGRAMS
from fiscal_intel.scoring.ranking import near_equal, stored_model
from fiscal_intel.scoring.training import amount_rows, late_filing_rows
from fiscal_intel.sqlfiles import frame

RISK_MODELS = "scoring/risk_models"


def _job_keys(name: str) -> set[str]:
    job = defs.resolve_job_def(name)
    return {k.to_user_string() for k in job.asset_layer.executable_asset_keys}


def test_nightly_scores_with_the_stored_model_and_the_retrain_trains() -> None:
    nightly = _job_keys("nightly_lists_and_marts")
    yearly = _job_keys("yearly_model_retrain")
    assert {"scoring/omiso_scores", "scoring/inexacto_scores", "marts/audit_ranking"} <= nightly
    assert RISK_MODELS not in nightly and "scoring/backtest" not in nightly
    assert {RISK_MODELS, "scoring/backtest", "scoring/omiso_scores"} <= yearly
    assert RISK_MODELS in _job_keys("fiscal_intel_all")
    graph = defs.resolve_asset_graph()
    for program in ("omiso", "inexacto"):
        parents = graph.get(dg.AssetKey(["scoring", f"{program}_scores"])).parent_keys
        assert dg.AssetKey(["scoring", "risk_models"]) in parents


def test_a_stored_model_scores_exactly_as_the_trained_one(demo_run, monkeypatch) -> None:
    # the 1,000-taxpayer demo has too few adjusted audits for an amount model: lower the bar
    monkeypatch.setattr(model_module, "MIN_AMOUNT_ROWS", 5)
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        features = frame(con, "select * from features.inexacto_features")
        stored = {
            p: stored_model(con, p) for p in ("omiso", "inexacto")
        }
        scores = frame(con, "select * from scoring.inexacto_scores")
    training = features.filter(pl.col("label_adjusted").is_not_null())
    spec = replace(PROGRAMS["inexacto"].amount, members=3)
    model = train("inexacto", training, seed=3, threads=1, rounds=40, amount=spec)
    again = model_from_record(model_record(model, None))
    candidates = features.filter(pl.col("is_candidate"))
    for a, b in zip(predict(model, candidates), predict(again, candidates), strict=True):
        assert np.array_equal(a, b)
    assert again.version == model.version
    # an amount averaged over several regressions stores each; a model stored before (one
    # bare regression) still loads
    assert len(again.amount_models) == len(model.amount_models) == 3
    assert again.amount == spec
    single = model_record(model, None) | {"amount_model": model.amount_models[0].model_to_string()}
    assert len(model_from_record(single).amount_models) == 1
    # the lists in the warehouse were scored by the model stored beside them
    assert set(scores["model_version"]) == {stored["inexacto"].version}
    p, amount = predict(stored["inexacto"], candidates)
    ranked = candidates.select("nit", "tax_year").with_columns(
        risk_score=pl.Series(p), predicted_amount=pl.Series(amount)
    )
    joined = scores.join(ranked, on=["nit", "tax_year"], suffix="_now")
    assert joined.height == scores.height == candidates.height
    assert np.allclose(joined["risk_score"], joined["risk_score_now"], rtol=0, atol=1e-12)


def test_members_trained_side_by_side_are_the_ones_trained_one_by_one(
    demo_run, monkeypatch
) -> None:
    monkeypatch.setattr(model_module, "MIN_AMOUNT_ROWS", 5)
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        training = frame(
            con, "select * from features.inexacto_features where label_adjusted is not null"
        )
    spec = replace(PROGRAMS["inexacto"].amount, members=3)
    alone, side_by_side = (
        train("inexacto", training, seed=5, threads=t, rounds=30, amount=spec) for t in (1, 2)
    )
    assert len(side_by_side.classifiers) == 3 and len(side_by_side.amount_models) == 3
    assert side_by_side.version == alone.version


def _materialize(settings, *keys: str) -> dg.ExecuteInProcessResult:
    from fiscal_intel.definitions import all_assets

    with dg.DagsterInstance.ephemeral() as instance:
        return dg.materialize(
            all_assets,
            selection=dg.AssetSelection.assets(*(dg.AssetKey(k.split("/")) for k in keys)),
            resources=build_resources(settings),
            instance=instance,
            raise_on_error=False,
        )


def _failure(result: dg.ExecuteInProcessResult) -> str:
    return next(
        e.step_failure_data.user_failure_data.description
        for e in result.all_events
        if e.is_step_failure and e.step_failure_data.user_failure_data is not None
    )


def test_scoring_without_a_stored_model_fails_saying_how_to_train(demo_run, tmp_path) -> None:
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(demo_run["warehouse"], warehouse)
    with duckdb.connect(str(warehouse)) as con:
        before = con.execute("select count(*) from scoring.omiso_scores").fetchall()[0][0]
        con.execute("drop table scoring.risk_models")
    settings = demo_run["settings"].replace(warehouse=str(warehouse))
    result = _materialize(settings, "scoring/omiso_scores")
    assert not result.success
    message = _failure(result)
    assert "no stored omiso model" in message and "yearly_model_retrain" in message
    with duckdb.connect(str(warehouse), read_only=True) as con:  # the old list is untouched
        assert con.execute("select count(*) from scoring.omiso_scores").fetchall()[0][0] == before
    # a model stored by an older version with other features must be retrained, not misread
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        record = frame(con, "select * from scoring.risk_models where program = 'omiso'")
    record = record.row(0, named=True)
    record["features"] = '["is_juridica"]'
    with pytest.raises(ValueError, match="retrain"):
        model_from_record(record)
    # training then scoring restores the same lists as the full run
    assert _materialize(settings, RISK_MODELS, "scoring/omiso_scores").success
    with duckdb.connect(str(warehouse), read_only=True) as a, duckdb.connect(
        str(demo_run["warehouse"]), read_only=True
    ) as b:
        query = "select * from scoring.omiso_scores order by all"
        assert frame(a, query).equals(frame(b, query))


def test_amount_rows_are_sampled_in_the_warehouse_as_in_python(demo_run) -> None:
    spec = replace(PROGRAMS["omiso"].amount, max_rows=777)
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        in_sql = amount_rows(con, "omiso", spec)
        everything = frame(con, "select * from features.omiso_features where declared_tax > 0")
    in_python = hash_sample(everything.sort(["nit", "tax_year"]), 777)
    assert in_sql.height == in_python.height == 777
    assert in_sql.select("nit", "tax_year").equals(in_python.select("nit", "tax_year"))
    # spread out: every tenth of the NIT order holds about a tenth of the sample
    position = everything.sort(["nit", "tax_year"]).with_row_index("i").join(
        in_sql.select("nit", "tax_year"), on=["nit", "tax_year"]
    )["i"]
    counts = np.bincount((position.to_numpy() * 10 // everything.height).astype(int))
    assert counts.min() >= 45 and counts.max() <= 110
    # the rows with the smallest keys: what else is in the frame does not decide a row's fate
    keyed = everything.with_columns(
        pl.Series("k", [sample_key(n, y) for n, y in everything.select("nit", "tax_year").rows()])
    )
    by_key = keyed.sort(["k", "nit", "tax_year"]).head(777)
    assert set(by_key.select("nit", "tax_year").rows()) == set(
        in_python.select("nit", "tax_year").rows()
    )
    outside = keyed.sort(["k", "nit", "tax_year"]).slice(777)  # losing those changes nothing
    fewer = everything.join(outside.head(100).select("nit", "tax_year"), on=["nit", "tax_year"],
                            how="anti")  # fmt: skip
    assert hash_sample(fewer.sort(["nit", "tax_year"]), 777).equals(in_python)
    # sampling twice is sampling once, to the smaller size
    assert hash_sample(in_python, 300).equals(hash_sample(everything.sort(["nit", "tax_year"]),
                                                          300))  # fmt: skip
    assert hash_sample(everything, None).height == everything.height
    assert AmountSpec().max_rows is None


def test_late_filing_rows_are_past_years_still_without_a_return_at_the_open_age(
    demo_run,
) -> None:
    """The late-filing part learns from earlier years as they looked at the open year's age,
    labelled by whether a return came later; it lifts only open cases, and only upwards."""
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        as_of = con.execute("select as_of from staging.as_of_date").fetchall()[0][0]
        rows = late_filing_rows(con, "omiso", as_of)
        features = frame(con, "select * from features.omiso_features")
        stored = stored_model(con, "omiso")
        explained = frame(
            con,
            "select s.reasons, f.late_filing_open from scoring.omiso_scores as s "
            "join features.omiso_features as f using (nit, tax_year) "
            "where s.reasons not like 'por debajo de los%'",
        )
    open_years = features.filter(pl.col("late_filing_open"))["tax_year"].unique().to_list()
    assert len(open_years) == 1  # the one year whose deadline passed less than a year ago
    deadline = features.filter(pl.col("late_filing_open"))["filing_deadline"].max()
    age = as_of - deadline
    assert rows is not None and rows.height > 100
    assert rows["tax_year"].max() < open_years[0]
    facts = rows.join(features.select("nit", "tax_year", "first_filed_on", "filing_deadline"),
                      on=["nit", "tax_year"])
    late = facts.filter(pl.col("filed") == 1)
    # filed, but only after as long past the deadline as the open year is now
    assert late.height > 0
    assert (late["first_filed_on"] > late["filing_deadline"] + age).all()
    assert facts.filter(pl.col("filed") == 0)["first_filed_on"].is_null().all()
    # in the stored model, and used only where the window is open
    assert stored.late_classifiers and stored.late_rows == rows.height
    candidates = features.filter(pl.col("is_candidate"))
    q = late_filing_probability(stored, candidates)
    is_open = candidates["late_filing_open"].to_numpy()
    assert q is not None and (q[~is_open] == 0).all() and (q[is_open] > 0).all()
    without = replace(stored, late_classifiers=[])
    p, p_audits = predict_probability(stored, candidates), predict_probability(without, candidates)
    assert np.array_equal(p[~is_open], p_audits[~is_open])
    assert np.allclose(p[is_open], q[is_open] + (1 - q[is_open]) * p_audits[is_open])
    # an open case says so, with the share of such cases that were late, and nothing else does
    said = explained["reasons"].str.starts_with(
        f"aún sin declaración de {open_years[0]} (vencimiento"
    )
    assert said.sum() > 0 and said.equals(explained["late_filing_open"].alias("reasons"))
    assert explained.filter(said)["reasons"].str.contains(r"el \d+ % de los casos").all()
    # the inexacto model has no such part
    assert late_filing_rows(con=None, program="inexacto", as_of=as_of) is None  # type: ignore[arg-type]


def test_near_equal_matches_the_decimal_text_on_a_million_values() -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate([
        rng.lognormal(10, 6, 1_000_000),
        [0.0, 0.125, 0.25, 99.5, 995.0, 9.95, 1e-5, 1.5e-300, 1e25, 10.0, 100.0, 1.0, -1234.0],
        np.nextafter(np.array([100.0, 1000.0, 0.01]), 0),
    ])
    expected = np.array([float(f"{v:.2g}") for v in values])
    assert np.array_equal(near_equal(values), expected)
    assert np.isnan(near_equal(np.array([np.nan]))).all()
