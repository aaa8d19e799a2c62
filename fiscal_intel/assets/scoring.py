"""Features → scoring: train each program's model on closed audits, score the open cases."""

import dagster as dg
import duckdb
import numpy as np
import polars as pl
from dagster_duckdb import DuckDBResource

from fiscal_intel.resources import FiscalSettings
from fiscal_intel.scoring.model import (
    OMISO_HISTORY,
    AmountSpec,
    ProgramModel,
    contributions,
    model_record,
    predict,
    train,
)
from fiscal_intel.scoring.reasons import explain
from fiscal_intel.sqlfiles import frame, run_sql, scalar

PROGRAMS = ("omiso", "inexacto")
# What each program's amount model learns from (see fiscal_intel.scoring.model).
AMOUNT = {
    "omiso": AmountSpec(rows="all", target="declared_tax", blind=tuple(OMISO_HISTORY.items())),
    "inexacto": AmountSpec(rows="audits", target="label_amount", base="potential_tax"),
}


def near_equal(values: np.ndarray) -> np.ndarray:
    """Values rounded to two significant figures.

    An expected recovery is an estimate good to a few per cent at best; rounding it makes cases
    within that margin equal, so the sooner statute expiry decides their order.
    """
    # Through the decimal text, so 0.00012 stays 0.00012 rather than 0.00011999…
    return np.array([float(f"{v:.2g}") for v in np.asarray(values, dtype=np.float64)])


def train_program(
    program: str, features: pl.DataFrame, as_of: object, settings: FiscalSettings
) -> ProgramModel:
    """The program's model, trained on the audits closed by ``as_of`` in ``features``."""
    training = features.filter(
        pl.col("label_adjusted").is_not_null() & (pl.col("audit_closed_on") <= as_of)
    )
    return train(
        program,
        training,
        seed=settings.seed,
        threads=settings.num_threads,
        rounds=settings.boosting_rounds,
        amount=AMOUNT[program],
        all_rows=features,
    )


def rank_candidates(model: ProgramModel, candidates: pl.DataFrame) -> pl.DataFrame:
    """``candidates`` with risk_score, predicted_amount and expected_recovery, best first."""
    p, amount = predict(model, candidates)
    return candidates.with_columns(
        risk_score=pl.Series(p),
        predicted_amount=pl.Series(amount),
        expected_recovery=pl.Series(near_equal(p * amount)),
    ).sort(
        ["expected_recovery", "statute_expires_on", "nit", "tax_year"],
        descending=[True, False, False, False],
    )


def score_cases(
    program: str, features: pl.DataFrame, as_of: object, settings: FiscalSettings
) -> tuple[pl.DataFrame, dict]:
    """Train on closed audits and score the open candidates; explain the top of the list."""
    model = train_program(program, features, as_of, settings)
    scored = rank_candidates(model, features.filter(pl.col("is_candidate")))
    top = scored.head(settings.explain_top)
    if not model.classifiers:
        # Too few labels to learn from: say so rather than dress a constant up as a reason.
        reasons = [
            f"too few closed {program} audits to train a model ({model.train_rows}, "
            f"{model.positives} adjusted): score is the historical hit rate"
        ] * top.height
    else:
        reasons = explain(
            program,
            model.features,
            contributions(model, top),
            top.to_dicts(),
            predicted_amount=top["predicted_amount"].to_numpy(),
        )
    reasons += [f"ranked below the explained top {settings.explain_top}"] * (
        scored.height - top.height
    )
    out = scored.select(
        pl.lit(program).alias("program"),
        "nit",
        "tax_year",
        "risk_score",
        "predicted_amount",
        "expected_recovery",
        "statute_expires_on",
        pl.Series("reasons", reasons, dtype=pl.Utf8),
        pl.lit(model.version).alias("model_version"),
        "size_band",
        "ciiu_section",
    )
    return out, model_record(model, as_of)


def _ensure_risk_models(con: duckdb.DuckDBPyConnection, record: dict) -> None:
    """Create scoring.risk_models; a table from an older version (other columns) is replaced,
    since every run writes its models again."""
    columns = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'scoring' and table_name = 'risk_models' "
            "order by ordinal_position"
        ).fetchall()
    ]
    if columns and columns != list(record):
        con.execute("drop table scoring.risk_models")
    run_sql(con, "scoring/risk_models")


def scores_asset(program: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["scoring", f"{program}_scores"],
        group_name="scoring",
        deps=[dg.AssetKey(["features", f"{program}_features"])],
        description=(
            f"Every open {program} case with its probability of a finding, predicted amount, "
            "expected recovery and reasons; the model is recorded in scoring.risk_models."
        ),
        kinds={"lightgbm", "duckdb"},
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: FiscalSettings
    ) -> dg.MaterializeResult:
        with warehouse.get_connection() as con:
            features = frame(con, f"select * from features.{program}_features")
            as_of = scalar(con, "select as_of from staging.as_of_date")
        scores, record = score_cases(program, features, as_of, settings)
        with warehouse.get_connection() as con:
            con.execute("create schema if not exists scoring")
            _ensure_risk_models(con, record)
            con.begin()
            con.register("_scores", scores)
            con.execute(
                f"create or replace table scoring.{program}_scores as select * from _scores"
            )
            con.unregister("_scores")
            con.execute("delete from scoring.risk_models where program = ?", [program])
            columns = ", ".join(record)
            marks = ", ".join("?" for _ in record)
            con.execute(
                f"insert into scoring.risk_models ({columns}) values ({marks})",
                list(record.values()),
            )
            con.commit()
        context.log.info(
            f"{program}: trained on {record['train_rows']} audits "
            f"({record['positives']} adjusted), scored {scores.height} open cases"
        )
        return dg.MaterializeResult(
            metadata={
                "model_version": record["model_version"],
                "train_rows": dg.MetadataValue.int(record["train_rows"]),
                "positives": dg.MetadataValue.int(record["positives"]),
                "cases_scored": dg.MetadataValue.int(scores.height),
                "expected_recovery_total": dg.MetadataValue.float(
                    float(scores["expected_recovery"].sum() or 0.0)
                ),
            }
        )

    return _asset


scoring_assets = [scores_asset(p) for p in PROGRAMS]
