"""Features → scoring: train each program's model on closed audits, then score the open cases.

Two steps, so a nightly run can score with the stored model and only the yearly retrain (or
`fiscal-intel run`) trains: ``scoring/risk_models`` fits both programs' boosters and stores them
in ``scoring.risk_models``; ``scoring/<program>_scores`` loads them and ranks the open cases.
The assets only orchestrate: what a program is lives in ``fiscal_intel/scoring/programs/``, how
it trains in ``scoring/training.py`` and how it ranks in ``scoring/ranking.py``.
"""

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from fiscal_intel.assets.factory import described, materialized, table_metadata
from fiscal_intel.resources import FiscalSettings
from fiscal_intel.scoring.choice import MODEL_CHOICE_TAG, chosen_scores
from fiscal_intel.scoring.model import ProgramModel, model_record
from fiscal_intel.scoring.programs import PROGRAMS
from fiscal_intel.scoring.ranking import MissingModel, score_program, stored_model
from fiscal_intel.scoring.training import store_models, train_program, training_data
from fiscal_intel.sqlfiles import scalar

RISK_MODELS = dg.AssetKey(["scoring", "risk_models"])


def _stored(con: duckdb.DuckDBPyConnection, program: str) -> ProgramModel:
    """The stored model, or the run fails saying how to train one."""
    try:
        return stored_model(con, program)
    except MissingModel as exc:
        raise dg.Failure(description=str(exc)) from exc


@dg.asset(
    key=RISK_MODELS,
    group_name="scoring",
    deps=[
        *(dg.AssetKey(["features", f"{p}_features"]) for p in PROGRAMS),
        dg.AssetKey(["staging", "as_of_date"]),  # the training window ends on the as-of date
    ],
    description=(
        "Each program's trained model (boosters, training window, label counts, importances), "
        "learnt from the audits closed by the as-of date; the score assets load it from here."
    ),
    kinds={"lightgbm", "duckdb"},
)
def risk_models(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: FiscalSettings
) -> dg.MaterializeResult:
    records = []
    for program in PROGRAMS:
        with warehouse.get_connection() as con:
            as_of = scalar(con, "select as_of from staging.as_of_date")
            data = training_data(con, program, as_of)
        model = train_program(program, data, as_of, settings)
        records.append(model_record(model, as_of))
        context.log.info(
            f"{program}: trained on {model.train_rows} audits ({model.positives} adjusted), "
            f"amount model on {model.amount_rows} rows, late filing on {model.late_rows}: "
            f"version {model.version}"
        )
    with warehouse.get_connection() as con:
        store_models(con, records)
        table = table_metadata(con, "scoring", "risk_models", described(context))
    return materialized(
        context,
        {
            **table,
            **{f"{r['program']}_version": r["model_version"] for r in records},
            **{f"{r['program']}_train_rows": dg.MetadataValue.int(r["train_rows"])
               for r in records},
        }
    )


def scores_asset(program: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["scoring", f"{program}_scores"],
        group_name="scoring",
        deps=[dg.AssetKey(["features", f"{program}_features"]), RISK_MODELS],
        description=(
            f"Every open {program} case with its probability of a finding, predicted amount, "
            "expected recovery and reasons, scored by the model stored in scoring.risk_models "
            "(in a department's run, by the model marts.model_choice names: own, pooled or "
            "the rule)."
        ),
        kinds={"lightgbm", "duckdb"},
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: FiscalSettings
    ) -> dg.MaterializeResult:
        with warehouse.get_connection() as con:
            model = _stored(con, program)
            version = model.version
            choice = None
            if context.run.tags.get(MODEL_CHOICE_TAG):
                # A department's municipality: the list its own backtest chose, built once here.
                scores, choice = chosen_scores(
                    con, program, lambda: score_program(con, model, settings), settings
                )
                version = scores["model_version"][0] if scores.height else version
            else:
                scores = score_program(con, model, settings)
            con.execute("create schema if not exists scoring")
            con.begin()
            con.register("_scores", scores.to_arrow())
            con.execute(
                f"create or replace table scoring.{program}_scores as select * from _scores"
            )
            con.unregister("_scores")
            con.commit()
            table = table_metadata(con, "scoring", f"{program}_scores", described(context))
        context.log.info(
            f"{program}: scored {scores.height} open cases with model {version}"
            + (f" (department's choice: {choice})" if choice else "")
        )
        return materialized(
            context,
            {
                **table,
                "model_version": version,
                **({"model_choice": choice} if choice else {}),
                "train_rows": dg.MetadataValue.int(model.train_rows),
                "positives": dg.MetadataValue.int(model.positives),
                "cases_scored": dg.MetadataValue.int(scores.height),
                "expected_recovery_total": dg.MetadataValue.float(
                    float(scores["expected_recovery"].sum() or 0.0)
                ),
            }
        )

    return _asset


scoring_assets = [risk_models, *(scores_asset(p) for p in PROGRAMS)]
