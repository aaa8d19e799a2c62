"""Who responds: an uplift model learnt from the randomized groups of past campaigns.

Per segment of a case (seen by third parties; registered in the RIT), the response to an
action is the treatment group's filing rate minus the control group's (``marts.
campaign_segments``, 180 days, pooled over the program's measured campaigns of that action),
shrunk toward the campaign-wide difference by ``SHRINK`` cases so a small segment does not
swing it. A case's predicted uplift in money is its segment's response × the amount it is
expected to owe (``expected_recovery``: probability it owes × amount; a dormant shell that
files pays nothing); ``fiscal-intel campaign --target uplift`` picks the cases with the most.

With enough randomized cases (``MIN_CASES``, ``MIN_CONTROL`` in the control groups) a learnt
model replaces the segments: a two-model (T-) learner, one LightGBM classifier of filing within
180 days on the treatment groups and one on the control groups, on features of the case known
when the letters went out (registry, size, third-party reports of the campaign's tax year,
filing history before it: nothing observed after the sending). Its uplift is the difference of
the two probabilities.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import duckdb
import lightgbm as lgb
import numpy as np
import polars as pl

from fiscal_intel.sqlfiles import frame, scalar

SHRINK = 20.0
SEGMENT = ("seen_by_third_party", "registered")
MIN_CASES, MIN_CONTROL = 1_000, 200  # randomized cases (and control ones) to learn a model
# Features of a case known when the letter is sent, per program (a later filing is not one).
FEATURES = {
    "omiso": ("is_juridica", "in_rit", "rit_active", "years_registered", "in_rues_local",
              "rues_active", "total_assets", "employees", "third_party_base",
              "third_party_agents", "prior_filings", "filed_prev_year"),
    "inexacto": ("is_juridica", "gross_income", "taxable_income", "total_assets", "employees",
                 "third_party_base", "third_party_agents", "third_party_ratio", "days_late",
                 "past_adjusted_audits"),
}  # fmt: skip
# Boosted stumps: an additive model (no interactions), steady on a few thousand cases; deeper
# trees and more leaves tracked the demo's planted response less well (benchmarks/uplift.py).
PARAMS = {"objective": "binary", "num_leaves": 2, "min_data_in_leaf": 80, "learning_rate": 0.05,
          "lambda_l2": 10.0, "deterministic": True, "num_threads": 1, "seed": 0,
          "verbose": -1}  # fmt: skip
ROUNDS = 200
FOLDS = 5


@dataclass(frozen=True)
class LearntUplift:
    """A T-learner: filing within 180 days, treated and control, on the program's FEATURES."""

    program: str
    treated: lgb.Booster
    control: lgb.Booster
    cases: int
    control_cases: int
    heldout_loss: float  # cross-fitted error against the transformed outcome (_heldout_losses)
    segments_heldout_loss: float

    @property
    def beats_segments(self) -> bool:
        return self.heldout_loss < self.segments_heldout_loss

    def response(self, x: np.ndarray) -> np.ndarray:
        return self.treated.predict(x) - self.control.predict(x)


def learn(con: duckdb.DuckDBPyConnection, program: str, action: str) -> dict | None:
    """Response per segment ``{(seen, registered): uplift}`` (and ``None`` key: the pooled
    one) from the measured campaigns of ``program`` × ``action``; None when there are none."""
    present = scalar(
        con,
        "select count(*) from information_schema.tables where table_schema = 'marts' "
        "and table_name = 'campaign_segments'",
    )
    if not present:
        return None
    rows = frame(
        con,
        "select seen_by_third_party, registered, arm, sum(cases) as n, sum(filed) as filed "
        "from marts.campaign_segments where program = $p and action = $a group by all",
        {"p": program, "a": action},
    )
    if rows.filter(pl.col("arm") == "control").height == 0 or rows.height == 0:
        return None
    return segment_model(rows)


def segment_model(rows: pl.DataFrame) -> dict:
    """The shrunk response per segment from counts (seen_by_third_party, registered, arm, n,
    filed): each segment's treatment − control filing rate, shrunk toward the pooled one."""

    def rate(part: pl.DataFrame) -> tuple[float, float]:
        n = float(part["n"].sum() or 0)
        return (float(part["filed"].sum()) / n if n else 0.0), n

    t_all, _ = rate(rows.filter(pl.col("arm") == "treatment"))
    c_all, _ = rate(rows.filter(pl.col("arm") == "control"))
    pooled = t_all - c_all
    model: dict = {None: pooled}
    for seen in (False, True):
        for registered in (False, True):
            seg = rows.filter(
                (pl.col("seen_by_third_party") == seen) & (pl.col("registered") == registered)
            )
            t, nt = rate(seg.filter(pl.col("arm") == "treatment"))
            c, nc = rate(seg.filter(pl.col("arm") == "control"))
            # a segment absent from one arm says nothing of its own: the pooled response
            raw = t - c if nt and nc else pooled
            weight = min(nt, nc) / (min(nt, nc) + SHRINK) if nt and nc else 0.0
            model[(seen, registered)] = weight * raw + (1 - weight) * pooled
    return model


def case_features(
    con: duckdb.DuckDBPyConnection, cases: pl.DataFrame, program: str
) -> pl.DataFrame:
    """``cases`` (nit, tax_year) with their segment and the program's FEATURES (null where the
    features table has no row for the case)."""
    columns = ", ".join(f"f.{c}::double as {c}" for c in FEATURES[program])
    con.register("_uplift_cases", cases.select("nit", "tax_year").unique(maintain_order=True))
    try:
        seg = frame(
            con,
            "select c.nit, c.tax_year, coalesce(t.base_amount > 0, false) as seen_by_third_party, "
            f"r.nit is not null as registered, {columns} from _uplift_cases as c "
            "left join features.third_party_income as t on c.nit = t.nit "
            "and c.tax_year = t.tax_year "
            "left join staging.stg_taxpayers as r on c.nit = r.nit "
            f"left join features.{program}_features as f on c.nit = f.nit "
            "and c.tax_year = f.tax_year",
        )
    finally:
        con.unregister("_uplift_cases")
    return cases.join(seg, on=["nit", "tax_year"], how="left", maintain_order="left")


def _matrix(rows: pl.DataFrame, program: str) -> np.ndarray:
    cols = ["seen_by_third_party", "registered", *FEATURES[program]]
    return rows.select(pl.col(c).cast(pl.Float64) for c in cols).to_numpy()


def learn_model(
    con: duckdb.DuckDBPyConnection, program: str, action: str
) -> LearntUplift | None:
    """The T-learner from the measured campaigns of ``program`` × ``action`` (180-day window,
    complete); None when they hold fewer than MIN_CASES randomized cases or MIN_CONTROL
    control ones (the segments are used then)."""
    present = scalar(
        con,
        "select count(*) from information_schema.tables where table_schema = 'marts' "
        "and table_name = 'campaign_outcomes'",
    )
    if not present:
        return None
    outcomes = frame(
        con,
        "select o.nit, o.tax_year, o.arm = 'treatment' as treated, o.filed "
        "from marts.campaign_outcomes as o cross join staging.as_of_date as d "
        "where o.program = $p and o.action = $a and o.window_days = 180 "
        "and o.sent_on + o.window_days <= d.as_of order by o.campaign_id, o.nit, o.tax_year",
        {"p": program, "a": action},
    )
    control = int((~outcomes["treated"]).sum()) if outcomes.height else 0
    if outcomes.height < MIN_CASES or control < MIN_CONTROL:
        return None
    return fit_learnt(case_features(con, outcomes, program), program)


def fit_learnt(rows: pl.DataFrame, program: str) -> LearntUplift:
    """The T-learner on randomized cases (nit, tax_year, treated, filed, the segment and the
    program's FEATURES), with its cross-fitted error and the segments' on the same folds."""
    x, y = _matrix(rows, program), rows["filed"].cast(pl.Float64).to_numpy()
    treated = rows["treated"].to_numpy()
    learnt, segments = _heldout_losses(rows, x, y, treated)
    return LearntUplift(program, _fit(x, y, treated), _fit(x, y, ~treated), rows.height,
                        int((~treated).sum()), learnt, segments)  # fmt: skip


def _fit(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> lgb.Booster:
    return lgb.train(PARAMS, lgb.Dataset(x[mask], y[mask]), num_boost_round=ROUNDS)


def _segment_response(model: dict, rows: pl.DataFrame) -> np.ndarray:
    pairs = zip(rows["seen_by_third_party"], rows["registered"], strict=True)
    return np.array([model.get((bool(s), bool(r)), model[None]) for s, r in pairs])


def _heldout_losses(
    rows: pl.DataFrame, x: np.ndarray, y: np.ndarray, treated: np.ndarray
) -> tuple[float, float]:
    """Cross-fitted (FOLDS folds by a hash of NIT and year) squared error of the learnt and of
    the segments' response against the transformed outcome Z = y (T / p - (1 - T) / (1 - p)),
    whose expectation given the case is its true uplift: the lower predicts the response of
    cases it has not seen better."""
    p = float(treated.mean())
    z = y * np.where(treated, 1 / p, -1 / (1 - p))
    fold = np.array([zlib.crc32(f"{n}/{ty}".encode()) % FOLDS
                     for n, ty in zip(rows["nit"], rows["tax_year"], strict=True)])  # fmt: skip
    learnt, segments = np.zeros(len(y)), np.zeros(len(y))
    for k in range(FOLDS):
        test, train = fold == k, fold != k
        if not test.any():
            continue
        m = train & treated, train & ~treated
        learnt[test] = _fit(x, y, m[0]).predict(x[test]) - _fit(x, y, m[1]).predict(x[test])
        counts = (
            rows.filter(pl.Series(train))
            .with_columns(arm=pl.when(pl.col("treated")).then(pl.lit("treatment"))
                          .otherwise(pl.lit("control")))
            .group_by("seen_by_third_party", "registered", "arm")
            .agg(n=pl.len(), filed=pl.col("filed").cast(pl.Int64).sum())
        )  # fmt: skip
        segments[test] = _segment_response(segment_model(counts), rows.filter(pl.Series(test)))
    return float(np.mean((z - learnt) ** 2)), float(np.mean((z - segments) ** 2))


def best_model(
    con: duckdb.DuckDBPyConnection, program: str, action: str
) -> LearntUplift | dict | None:
    """The learnt model where the randomized data suffice and it predicts held-out cases'
    response better than the segments do, else the segments (None: nothing measured yet)."""
    learnt = learn_model(con, program, action)
    if learnt is not None and learnt.beats_segments:
        return learnt
    return learn(con, program, action)


def predicted_uplift(
    con: duckdb.DuckDBPyConnection, cases: pl.DataFrame, model: dict | LearntUplift,
    program: str = "omiso",
) -> pl.DataFrame:  # fmt: skip
    """``cases`` (nit, tax_year, expected_recovery) with their segment, ``response`` (the
    predicted uplift in filing probability) and ``uplift_money``."""
    if isinstance(model, LearntUplift):
        out = case_features(con, cases, model.program)
        response = np.maximum(model.response(_matrix(out, model.program)), 0.0).tolist()
    else:
        out = case_features(con, cases, program)
        response = np.maximum(_segment_response(model, out), 0.0).tolist()
    return out.with_columns(
        response=pl.Series(response, dtype=pl.Float64),
    ).with_columns(uplift_money=pl.col("response") * pl.col("expected_recovery").fill_null(0))
