"""Targeting a letter campaign by uplift × amount, learnt from one past randomized campaign (by
the segments with shrinkage, and by the learnt T-learner), against picking the same number of
cases by risk score or by expected recovery, scored with
the demo's truth: a treated case's planted response probability × the tax it owes
(fiscal_intel.demo.campaign). Reads warehouses built by `fiscal-intel demo` (a folder with
w.duckdb and truth/); results in benchmarks/uplift_results.json.

    .venv/bin/python benchmarks/uplift.py DIR [DIR ...] [--size 500]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import duckdb
import polars as pl

from fiscal_intel.actions.uplift import learn, learn_model, predicted_uplift
from fiscal_intel.demo.campaign import BASELINE, P_BASE, P_REGISTERED, P_SEEN
from fiscal_intel.sqlfiles import frame, run_sql

OUT = Path(__file__).with_name("uplift_results.json")


def one(root: Path, size: int) -> dict:
    truth = pl.read_csv(root / "truth" / "tax_gap.csv", schema_overrides={"nit": pl.Utf8})
    truth = truth.filter(pl.col("program") == "omiso").select(
        "nit", "tax_year", "true_tax", registered_truth=pl.col("kind") != "operating_unregistered"
    )
    with duckdb.connect(str(root / "w.duckdb")) as con:
        for name in ("campaign_outcomes", "campaign_segments"):  # older warehouses lack them
            run_sql(con, f"marts/{name}")
        model = learn(con, "omiso", "carta")
        learnt = learn_model(con, "omiso", "carta")
        pool = frame(
            con, "select nit, tax_year, risk_score, expected_recovery, predicted_amount, rank "
            "from marts.audit_ranking where program = 'omiso' and action = 'carta'"
        )
        scored = predicted_uplift(con, pool, model)
        if learnt is not None:
            by_learnt = predicted_uplift(con, pool, learnt).select(
                "nit", "tax_year", learnt_response="response", learnt_money="uplift_money")
            scored = scored.join(by_learnt, on=["nit", "tax_year"], how="left")
    scored = scored.join(truth, on=["nit", "tax_year"], how="left").with_columns(
        true_money=(1 - BASELINE) * (P_BASE + P_SEEN * pl.col("seen_by_third_party")
                                     + P_REGISTERED * pl.col("registered_truth").fill_null(True))
        * pl.col("true_tax").fill_null(0)
    )  # fmt: skip

    def money(by: str) -> float:
        return float(scored.sort([by, "rank"], descending=[True, False]).head(size)
                     ["true_money"].sum())  # fmt: skip

    out = {"size": size, "pool": scored.height,
           "model": {str(k): v for k, v in model.items()},
           "by_uplift": money("uplift_money"), "by_risk_score": money("risk_score"),
           "by_expected_recovery": money("expected_recovery")}  # fmt: skip
    out["uplift_over_risk_score"] = out["by_uplift"] / out["by_risk_score"]
    out["uplift_over_expected_recovery"] = out["by_uplift"] / out["by_expected_recovery"]
    # the same N by the planted response × expected recovery: the best any response model can do
    scored = scored.with_columns(
        oracle=(P_BASE + P_SEEN * pl.col("seen_by_third_party")
                + P_REGISTERED * pl.col("registered_truth").fill_null(True))
        * pl.col("expected_recovery").fill_null(0))  # fmt: skip
    out["by_oracle_response"] = money("oracle")
    if learnt is not None:
        out["learnt"] = {"cases": learnt.cases, "control_cases": learnt.control_cases,
                         "heldout_loss": learnt.heldout_loss,
                         "segments_heldout_loss": learnt.segments_heldout_loss,
                         "used": learnt.beats_segments}  # fmt: skip
        out["by_learnt"] = money("learnt_money")
        out["learnt_over_segments"] = out["by_learnt"] / out["by_uplift"]
        out["learnt_over_risk_score"] = out["by_learnt"] / out["by_risk_score"]
        out["learnt_over_expected_recovery"] = out["by_learnt"] / out["by_expected_recovery"]
        # how well each recovers the planted response (correlation over the pool)
        truth_p = scored["oracle"] / scored["expected_recovery"].fill_null(0).replace(0, None)
        out["response_corr_segments"] = float(pl.DataFrame({"a": truth_p, "b": scored["response"]})
                                               .drop_nulls().select(pl.corr("a", "b")).item())
        out["response_corr_learnt"] = float(pl.DataFrame({"a": truth_p,
                                                          "b": scored["learnt_response"]})
                                            .drop_nulls().select(pl.corr("a", "b")).item())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dirs", nargs="+")
    parser.add_argument("--size", type=int, default=500)
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for d in args.dirs:
        results[d] = one(Path(d), args.size)
        print(d, json.dumps(results[d], indent=1))
    OUT.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
