"""Scoring → evaluation marts: how good the lists are, what the models are, who bears the audits.

- ``scoring/backtest``: the models retrained as of a cut-off and scored on the audits opened
  after it (fiscal_intel.scoring.evaluation explains why this cannot leak).
- ``evaluation/truth``: an optional ground-truth file (setting ``truth``), loaded as is.
- ``marts/model_performance``, ``marts/model_card``, ``marts/audit_burden``: SQL marts.
"""

import datetime as dt

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

from fiscal_intel.assets.factory import (
    described,
    materialized,
    sql_asset,
    table_metadata,
    upstream_keys,
)
from fiscal_intel.lineage import sql_lineage
from fiscal_intel.resources import FiscalSettings
from fiscal_intel.scoring.evaluation import (
    FEATURE_TABLES,
    backtest_cutoff,
    backtest_rows,
    features_as_of,
    held_out_audits,
    truth_frame,
)
from fiscal_intel.scoring.programs import PROGRAMS
from fiscal_intel.scoring.ranking import rank_candidates
from fiscal_intel.scoring.training import TrainingData, train_program, training_data
from fiscal_intel.sqlfiles import frame, install_macros, run_sql, scalar


def _backtest_inputs(
    con: duckdb.DuckDBPyConnection, cutoff: dt.date, audits: pl.DataFrame
) -> dict[str, tuple[TrainingData, pl.DataFrame]]:
    """Per program, from the features as of the cut-off: the training audits, the amount rows
    and the open cases that were audited after the cut-off."""
    out = {}
    con.register("_held", audits.select("program", "nit", "tax_year"))
    try:
        for program in PROGRAMS:
            data = training_data(con, program, cutoff)
            held = frame(
                con,
                f"select f.* from features.{program}_features as f semi join _held as h "
                "on h.program = $program and f.nit = h.nit and f.tax_year = h.tax_year "
                "where f.is_candidate",
                {"program": program},
            )
            out[program] = (data, held)
    finally:
        con.unregister("_held")
    return out


@dg.asset(
    key=["scoring", "backtest"],
    group_name="scoring",
    # The feature tables, and what their SQL reads: the backtest re-runs it as of the cut-off.
    deps=[
        *(dg.AssetKey(["features", t]) for t in FEATURE_TABLES),
        *upstream_keys(
            {r for t in FEATURE_TABLES for r in sql_lineage(f"features/{t}").reads}
            - {("features", t) for t in FEATURE_TABLES}
            | {("staging", "stg_audits"), ("staging", "as_of_date")}
        ),
    ],
    description=(
        "Time-based validation: each program's model trained on the audits closed by a cut-off "
        "(backtest_months before the as-of date, features rebuilt as of that day) and its "
        "predictions for the audits opened after it, with their real outcome."
    ),
    kinds={"lightgbm", "duckdb"},
)
def backtest(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: FiscalSettings
) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        as_of = scalar(con, "select as_of from staging.as_of_date")
        cutoff = backtest_cutoff(as_of, settings.backtest_months)
        audits = held_out_audits(con, cutoff)
        then = features_as_of(
            con, cutoff, settings.sql_params(), read=lambda c: _backtest_inputs(c, cutoff, audits)
        )
    parts = []
    for program in PROGRAMS:
        data, held = then[program]
        model = train_program(program, data, cutoff, settings)
        # Only the held-out cases need a score: their order among themselves is their order
        # on the whole list of the cut-off.
        ranked = rank_candidates(model, held, threads=settings.num_threads)
        parts.append(backtest_rows(program, ranked, audits, cutoff, model.version))
    rows = pl.concat(parts)
    with warehouse.get_connection() as con:
        con.execute("create schema if not exists scoring")
        con.register("_backtest", rows)
        con.execute("create or replace table scoring.backtest as select * from _backtest")
        con.unregister("_backtest")
        table = table_metadata(con, "scoring", "backtest", described(context), rows.height)
    random = rows.filter(pl.col("selection") == "random")
    context.log.info(
        f"backtest as of {cutoff}: {rows.height} held-out audits, {random.height} random"
    )
    return materialized(
        context,
        {
            **table,
            "cutoff": dg.MetadataValue.text(cutoff.isoformat()),
            "held_out_audits": dg.MetadataValue.int(rows.height),
            "random_audits": dg.MetadataValue.int(random.height),
        }
    )


@dg.asset(
    key=["evaluation", "truth"],
    group_name="marts",
    description=(
        "Ground truth for the lists when one is given (setting `truth` or `fiscal-intel "
        "evaluate --truth FILE`): the true tax gap per case. Empty otherwise."
    ),
    kinds={"duckdb"},
)
def truth(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: FiscalSettings
) -> dg.MaterializeResult:
    try:
        given = truth_frame(settings.truth)
    except (FileNotFoundError, ValueError) as exc:
        raise dg.Failure(description=str(exc)) from exc
    with warehouse.get_connection() as con:
        con.execute("create schema if not exists evaluation")
        install_macros(con)
        con.register("_truth_file", given)
        run_sql(con, "evaluation/truth", **settings.sql_params())
        con.unregister("_truth_file")
        table = table_metadata(con, "evaluation", "truth", described(context))
    return materialized(
        context,
        {
            **table,
            "file": dg.MetadataValue.text(settings.truth or "(none)"),
        }
    )


evaluation_assets = [
    backtest,
    truth,
    *(sql_asset("marts", name) for name in ("model_performance", "model_card", "audit_burden")),
]
