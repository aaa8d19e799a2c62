"""Who responds: an uplift model learnt from the randomized groups of past campaigns.

Per segment of a case (seen by third parties; registered in the RIT), the response to an
action is the treatment group's filing rate minus the control group's (``marts.
campaign_segments``, 180 days, pooled over the program's measured campaigns of that action),
shrunk toward the campaign-wide difference by ``SHRINK`` cases so a small segment does not
swing it. A case's predicted uplift in money is its segment's response × the amount it is
expected to owe (``expected_recovery``: probability it owes × amount; a dormant shell that
files pays nothing); ``fiscal-intel campaign --target uplift`` picks the cases with the most.
"""

from __future__ import annotations

import duckdb
import polars as pl

from fiscal_intel.sqlfiles import frame, scalar

SHRINK = 20.0
SEGMENT = ("seen_by_third_party", "registered")


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


def predicted_uplift(
    con: duckdb.DuckDBPyConnection, cases: pl.DataFrame, model: dict
) -> pl.DataFrame:
    """``cases`` (nit, tax_year, expected_recovery) with their segment and ``uplift_money``."""
    con.register("_uplift_cases", cases.select("nit", "tax_year"))
    try:
        seg = frame(
            con,
            "select c.nit, c.tax_year, coalesce(t.base_amount > 0, false) as seen_by_third_party, "
            "r.nit is not null as registered from _uplift_cases as c "
            "left join features.third_party_income as t on c.nit = t.nit "
            "and c.tax_year = t.tax_year "
            "left join staging.stg_taxpayers as r on c.nit = r.nit",
        )
    finally:
        con.unregister("_uplift_cases")
    out = cases.join(seg, on=["nit", "tax_year"], how="left")
    response = [
        max(model.get((bool(s), bool(r)), model[None]), 0.0)
        for s, r in zip(out["seen_by_third_party"], out["registered"], strict=True)
    ]
    return out.with_columns(
        response=pl.Series(response, dtype=pl.Float64),
    ).with_columns(uplift_money=pl.col("response") * pl.col("expected_recovery").fill_null(0))
