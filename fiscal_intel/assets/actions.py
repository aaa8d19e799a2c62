"""Scoring → actions: the action each open case gets, the campaign register, and what the
campaigns earned (see fiscal_intel.actions)."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

from fiscal_intel.actions.choice import Capacities, choose_actions, prior_yields
from fiscal_intel.assets.factory import (
    described,
    materialized,
    sql_asset,
    sql_file_spec,
    table_metadata,
)
from fiscal_intel.resources import FiscalSettings
from fiscal_intel.sqlfiles import frame, run_sql, scalar

CASE_ACTIONS = dg.AssetKey(["scoring", "case_actions"])

# The largest complete window of each measured campaign: its extra money per treated case over
# what its treatment cases were expected to yield by audit when drawn.
MEASURED_YIELDS = """
with best as (
    select * from marts.campaign_effects where window_complete
    qualify row_number() over (partition by campaign_id order by window_days desc) = 1
),
expected as (
    select campaign_id, sum(expected_recovery) as expected
    from ops.campaign_assignments where arm = 'treatment' group by campaign_id
)
select b.program, b.action, sum(b.extra_money) / sum(x.expected) as yield,
       count(*) as campaigns
from best as b join expected as x using (campaign_id)
where x.expected > 0
group by all
"""


def measured_yields(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], float]:
    """Per (program, action), the yield the office's own campaigns measured (none when no
    campaign has a complete window); a negative measured yield counts as zero."""
    present = scalar(
        con,
        "select count(*) from information_schema.tables where table_schema = 'marts' "
        "and table_name = 'campaign_effects'",
    )
    if not present:
        return {}
    rows = con.execute(MEASURED_YIELDS).fetchall()
    # rounded: a parallel sum of doubles may differ in its last bits from run to run
    return {(p, a): round(max(float(y), 0.0), 6) for p, a, y, _ in rows if y is not None}


def calibration_factors(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Per program, the factor marts.calibration applies to expected money (1 where the data
    do not show a correction is needed, or there is no calibration yet)."""
    present = scalar(
        con,
        "select count(*) from information_schema.tables where table_schema = 'marts' "
        "and table_name = 'calibration'",
    )
    if not present:
        return {}
    rows = con.execute(
        "select distinct program, correction_factor from marts.calibration "
        "where correction_applied and correction_factor > 0"
    ).fetchall()
    return {p: round(float(f), 6) for p, f in rows}


def late_probability(codes: str | None) -> float | None:
    """The late-filing probability an omiso case's structured reasons carry, if any."""
    if not codes or "omiso.late_filing" not in codes:
        return None
    for reason in json.loads(codes):
        for key, fields in reason.get("phrases", []):
            if key == "omiso.late_filing":
                return float(fields.get("late_probability") or 0.0)
    return None


def case_action_frame(
    con: duckdb.DuckDBPyConnection, settings: object
) -> tuple[pl.DataFrame, dict]:
    """Every scored open case with its action, and the yields used (with their source)."""
    cases = frame(
        con,
        "select program, nit, tax_year, expected_recovery, reason_codes from scoring.omiso_scores "
        "union all by name select program, nit, tax_year, expected_recovery, reason_codes "
        "from scoring.inexacto_scores",
    )
    cases = cases.with_columns(
        late_probability=pl.Series(
            [late_probability(c) for c in cases["reason_codes"]], dtype=pl.Float64
        )
    ).drop("reason_codes")
    # Expected money that means money: the calibration's correction where the data show it
    # (the ranking keeps the model's expected recovery).
    factors = calibration_factors(con)
    if factors:
        cases = cases.with_columns(
            expected_recovery=pl.col("expected_recovery")
            * pl.col("program").replace_strict(factors, default=1.0, return_dtype=pl.Float64)
        )
    yields = prior_yields(settings)
    source = dict.fromkeys(yields, "prior")
    for key, value in measured_yields(con).items():
        if key in yields:
            yields[key], source[key] = value, "measured"
    chosen = choose_actions(cases, yields, Capacities.from_settings(settings))
    used = {f"{p}/{a}": {"yield": yields[(p, a)], "source": source[(p, a)]} for p, a in yields}
    used["calibration"] = factors  # type: ignore[assignment]
    return chosen, used


@dg.asset(
    key=CASE_ACTIONS,
    # In the marts stage: it reads the campaign effects, and the audit ranking reads it.
    group_name="marts",
    deps=[
        dg.AssetKey(["scoring", "omiso_scores"]),
        dg.AssetKey(["scoring", "inexacto_scores"]),
        dg.AssetKey(["marts", "campaign_effects"]),
        dg.AssetKey(["ops", "campaign_assignments"]),
        dg.AssetKey(["marts", "calibration"]),
    ],
    description=(
        "The action for every open case (fiscalización, requerimiento, emplazamiento or carta) "
        "with its expected money and expected net yield, chosen under the office's capacities; "
        "yields measured by its own campaigns replace the priors."
    ),
    kinds={"duckdb", "python"},
)
def case_actions(
    context,  # noqa: ANN001 - unannotated: this module's annotations are strings
    warehouse: DuckDBResource,
    settings: FiscalSettings,
) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        chosen, used = case_action_frame(con, settings)
        con.register("_case_actions", chosen.to_arrow())
        try:
            con.execute(
                "create or replace table scoring.case_actions as select program, nit, tax_year, "
                "action, expected_money, expected_net, late_probability from _case_actions"
            )
        finally:
            con.unregister("_case_actions")
        table = table_metadata(con, "scoring", "case_actions", described(context))
    counts = chosen.group_by("action").len().sort("action").rows() if chosen.height else []
    return materialized(
        context,
        {
            **table,
            "yields": dg.MetadataValue.json(used),
            **{f"cases_{a}": dg.MetadataValue.int(n) for a, n in counts},
        }
    )


def _register(name: str) -> dg.AssetsDefinition:
    """An ops register table (sql/ops/<name>.sql), created when missing and never rebuilt: the
    campaign command writes it. Built with staging so every later stage can read it."""
    _, description = sql_file_spec("ops", name)

    @dg.asset(key=["ops", name], group_name="staging", description=description,
              kinds={"duckdb", "sql"})  # fmt: skip
    def _asset(context, warehouse: DuckDBResource) -> dg.MaterializeResult:  # noqa: ANN001
        with warehouse.get_connection() as con:
            con.execute("create schema if not exists ops")
            run_sql(con, f"ops/{name}")
            metadata = table_metadata(con, "ops", name, description)
        return materialized(context, metadata)

    return _asset


action_assets = [
    _register("campaigns"),
    _register("campaign_assignments"),
    sql_asset("marts", "campaign_outcomes"),
    sql_asset("marts", "campaign_effects"),
    sql_asset("marts", "campaign_segments"),
    sql_asset("marts", "calibration"),
    case_actions,
]
