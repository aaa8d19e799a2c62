"""Features → scoring: train each program's model on closed audits, then score the open cases.

Two steps, so a nightly run can score with the stored model and only the yearly retrain (or
`fiscal-intel run`) trains: ``scoring/risk_models`` fits both programs' boosters and stores them
in ``scoring.risk_models``; ``scoring/<program>_scores`` loads them and ranks the open cases.
"""

from collections.abc import Sequence
from typing import NamedTuple

import dagster as dg
import duckdb
import numpy as np
import polars as pl
from dagster_duckdb import DuckDBResource

from fiscal_intel.assets.factory import described, table_metadata
from fiscal_intel.resources import FiscalSettings
from fiscal_intel.scoring.model import (
    FEATURES,
    LATE_FILING_MAX_ROWS,
    LATE_FILING_PROGRAMS,
    OMISO_HISTORY,
    AmountSpec,
    ProgramModel,
    contributions,
    late_filing_probability,
    model_from_record,
    model_record,
    predict,
    train,
)
from fiscal_intel.scoring.reason_texts import render
from fiscal_intel.scoring.reasons import (
    dumps,
    explain_reasons,
    late_filing,
    no_model,
    not_explained,
)
from fiscal_intel.sqlfiles import frame, run_sql, scalar

PROGRAMS = ("omiso", "inexacto")
# What each program's amount model learns from (see fiscal_intel.scoring.model). The omiso one
# learns from 60,000 filer-years at most (``hash_sample`` above that): a 15,000-taxpayer
# municipality holds ~59,000, and at 1M taxpayers it trains on 60,000, not 4 million. On the
# development seeds 42 and 1-5 (with the late-filing part), precision@100 / recovery@100 were
# 0.970 / 0.928 with 20,000 rows, 0.972 / 0.934 with 40,000 and 0.977 / 0.936 with all.
#
# The omiso amount is the mean of five regressions (own seeds, same rows). One alone is
# sensitive to which rows it sees: on the seed-42 demo with 1 % of rows quarantined, it moved
# top omiso amounts by up to 50 % (COP 109 M -> 170 M) and 12 of the untouched top 100 out of
# the list; with five, the retrained lists of seeds 42 and 11 keep 94 and 97 of 100, near the
# 98-99 that retraining the clean data with another seed keeps (benchmarks/stability.py), and
# development seeds 42, 1-5 rank as before (0.972 / 0.934). The inexacto list did not move
# less with five (95 and 96 of 100 either way), and its 1.8M cases at 1M taxpayers would pay
# five predictions each, so it keeps one.
AMOUNT = {
    "omiso": AmountSpec(
        rows="all", target="declared_tax", blind=tuple(OMISO_HISTORY.items()), max_rows=60_000,
        members=5,
    ),
    "inexacto": AmountSpec(rows="audits", target="label_amount", base="potential_tax"),
}
# What a score row carries besides the model's features; the other feature-table columns are
# read only for the explained top of the list.
SCORE_KEYS = ("nit", "tax_year", "statute_expires_on", "size_band", "ciiu_section")
RISK_MODELS = dg.AssetKey(["scoring", "risk_models"])


def near_equal(values: np.ndarray) -> np.ndarray:
    """Values rounded to two significant figures.

    An expected recovery is an estimate good to a few per cent at best; rounding it makes cases
    within that margin equal, so the sooner statute expiry decides their order.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    ok = np.isfinite(v) & (v != 0)
    exponent = np.zeros(len(v), dtype=np.int64)
    exponent[ok] = np.floor(np.log10(np.abs(v[ok]))).astype(np.int64) - 1
    # Multiply or divide by an exact power of ten (10**k is exact up to k = 22), never by its
    # inverse, so the result is the double nearest the two-figure decimal: 0.00012, not
    # 0.00011999…, exactly what the decimal text gives.
    power = 10.0 ** np.minimum(np.abs(exponent), 22)
    small = exponent < 0
    with np.errstate(invalid="ignore"):
        scaled = np.where(small, v * power, v / power)
        digits = np.round(scaled)
        out = np.where(small, digits / power, digits * power)
    # The few values the arithmetic cannot settle go through the decimal text: within float
    # error of a .5 tie, log10 off by one near a power of ten, zero, NaN, extreme exponents.
    hard = (
        ~ok
        | (np.abs(exponent) > 22)
        | (np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) < 1e-6)
        | (np.abs(digits) >= 100)
        | (np.abs(digits) < 10)
    )
    out[hard] = [float(f"{x:.2g}") for x in v[hard]]
    return out.reshape(np.shape(values))


# The SQL twin of model.sample_key: the first 32 bits of md5('<nit>/<tax_year>').
SAMPLE_KEY_SQL = "('0x' || left(md5(nit || '/' || tax_year::varchar), 8))::bigint"


def _sampled(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: list[str],
    condition: str,
    max_rows: int | None,
    params: dict | None = None,
) -> pl.DataFrame:
    """The ``columns`` of the ``table`` rows meeting ``condition``; above ``max_rows`` rows, the
    ``max_rows`` with the smallest sample keys, as ``hash_sample`` takes them in Python (the keys
    are ranked on their own, then the kept rows read: a window carries every column of its rows
    through its sort)."""
    params = dict(params or {})
    n = scalar(con, f"select count(*) from {table} where {condition}", params)
    if max_rows is None or n <= max_rows:
        source = f"select {', '.join(columns)} from {table} where {condition}"
    else:
        params["m"] = max_rows
        source = (
            f"with kept as (select nit, tax_year from {table} where {condition} "
            f"qualify row_number() over (order by {SAMPLE_KEY_SQL}, nit, tax_year) <= $m) "
            f"select {', '.join(columns)} from {table} semi join kept using (nit, tax_year) "
            f"where {condition}"
        )
    return frame(con, f"{source} order by nit, tax_year", params)


def amount_rows(
    con: duckdb.DuckDBPyConnection, program: str, spec: AmountSpec
) -> pl.DataFrame | None:
    """The rows an ``all``-rows amount model learns from (``spec.max_rows`` at most)."""
    if spec.rows != "all":
        return None
    columns = dict.fromkeys(["nit", "tax_year", *FEATURES[program], spec.target])
    if spec.base:
        columns[spec.base] = None
    return _sampled(
        con, f"features.{program}_features", list(columns), f"{spec.target} > 0", spec.max_rows
    )


def late_filing_rows(
    con: duckdb.DuckDBPyConnection, program: str, as_of: object
) -> pl.DataFrame | None:
    """The rows the late-filing probability learns from (see model.LATE_FILING_PROGRAMS):
    every (NIT, year) of the years whose filing window closed at least a year before
    ``as_of`` that had no return as long after its deadline as the open year has now, with
    ``filed``: whether a return came later. None for programs without that part, or when no
    year's window is open."""
    if program not in LATE_FILING_PROGRAMS:
        return None
    table = f"features.{program}_features"
    age = scalar(
        con,
        f"select datediff('day', max(filing_deadline), $as_of::date) from {table} "
        "where late_filing_open",
        {"as_of": as_of},
    )
    if age is None:
        return None
    return _sampled(
        con,
        table,
        ["nit", "tax_year", *FEATURES[program], "filed"],
        "filing_deadline + interval 1 year <= $as_of::date "
        "and (first_filed_on is null or first_filed_on > filing_deadline + $age::integer)",
        LATE_FILING_MAX_ROWS,
        {"as_of": as_of, "age": age},
    )


class TrainingData(NamedTuple):
    """What a program's model as of a date learns from (``training_data``)."""

    audits: pl.DataFrame
    amount_rows: pl.DataFrame | None
    late_rows: pl.DataFrame | None


def training_data(con: duckdb.DuckDBPyConnection, program: str, as_of: object) -> TrainingData:
    """The closed audits a model as of ``as_of`` learns from, its amount rows and its
    late-filing rows, from the feature tables as they stand (built as of ``as_of``)."""
    audits = frame(
        con,
        f"select * from features.{program}_features "
        "where label_adjusted is not null and audit_closed_on <= $as_of",
        {"as_of": as_of},
    )
    return TrainingData(
        audits, amount_rows(con, program, AMOUNT[program]), late_filing_rows(con, program, as_of)
    )


def train_program(
    program: str, data: TrainingData, as_of: object, settings: FiscalSettings
) -> ProgramModel:
    """The program's model, trained on the audits closed by ``as_of`` in ``data``."""
    training = data.audits.filter(
        pl.col("label_adjusted").is_not_null() & (pl.col("audit_closed_on") <= as_of)
    )
    return train(
        program,
        training,
        seed=settings.seed,
        threads=settings.num_threads,
        rounds=settings.boosting_rounds,
        amount=AMOUNT[program],
        all_rows=data.amount_rows,
        late_rows=data.late_rows,
    )


def rank_candidates(
    model: ProgramModel,
    candidates: pl.DataFrame,
    *,
    threads: int = 1,
    keep: Sequence[str] | None = None,
) -> pl.DataFrame:
    """``candidates`` with risk_score, predicted_amount and expected_recovery, best first;
    only the ``keep`` columns of ``candidates`` (all when None) are carried through the sort."""
    p, amount = predict(model, candidates, threads=threads)
    if keep is not None:
        candidates = candidates.select(keep)
    return candidates.with_columns(
        risk_score=pl.Series(p),
        predicted_amount=pl.Series(amount),
        expected_recovery=pl.Series(near_equal(p * amount)),
    ).sort(
        ["expected_recovery", "statute_expires_on", "nit", "tax_year"],
        descending=[True, False, False, False],
    )


def reasons_for(
    model: ProgramModel, top: pl.DataFrame, total: int, explain_top: int
) -> tuple[list[str], list[str | None]]:
    """Reasons for the ``total`` ranked cases, ``top`` (full feature rows) explained: the
    Spanish texts and the structured reasons (JSON, for ``reason_codes``)."""
    program = model.program
    if not model.classifiers:
        structured = [no_model(program, model.train_rows, model.positives)] * top.height
    else:
        structured = explain_reasons(
            program,
            model.features,
            contributions(model, top),
            top.to_dicts(),
            predicted_amount=top["predicted_amount"].to_numpy(),
        )
    late = late_filing_probability(model, top)
    if late is not None:
        is_open = top["late_filing_open"].fill_null(False).to_list()
        rows = top.select("tax_year", "filing_deadline").to_dicts()
        structured = [
            [late_filing(row, q), *reasons] if open_ else reasons
            for row, q, open_, reasons in zip(rows, late, is_open, structured, strict=True)
        ]
    # The unexplained tail (1.8M rows at 1M taxpayers) shares one text, rendered once, and has
    # no reason_codes (null): 1.8M copies of its JSON cost ~400 MB of peak memory at that size.
    tail = total - top.height
    return (
        [render(r) for r in structured] + [render(not_explained(explain_top))] * tail,
        [dumps(r) for r in structured] + [None] * tail,
    )


def stored_model(con: duckdb.DuckDBPyConnection, program: str) -> ProgramModel:
    """The program's model as scoring/risk_models stored it; ``dg.Failure`` when there is none
    (scoring never trains behind the schedule's back: a missing model is a deployment error)."""
    exists = scalar(
        con,
        "select count(*) from information_schema.columns where table_schema = 'scoring' "
        "and table_name = 'risk_models' and column_name = 'amount_spec'",
    )
    rows = (
        frame(con, "select * from scoring.risk_models where program = $program",
              {"program": program})
        if exists
        else pl.DataFrame()
    )
    if rows.height == 0:
        raise dg.Failure(
            description=(
                f"no stored {program} model in scoring.risk_models: train one first (job "
                "yearly_model_retrain, asset scoring/risk_models, or `fiscal-intel run`)"
            )
        )
    try:
        return model_from_record(rows.row(0, named=True))
    except ValueError as exc:
        raise dg.Failure(description=str(exc)) from exc


def score_program(
    con: duckdb.DuckDBPyConnection, model: ProgramModel, settings: FiscalSettings
) -> pl.DataFrame:
    """Every open case of the program ranked by ``model``, the top explained, as score rows."""
    program = model.program
    table = f"features.{program}_features"
    columns = dict.fromkeys([*SCORE_KEYS, *model.features])
    if model.amount.base:
        columns[model.amount.base] = None
    if model.late_classifiers:
        columns["late_filing_open"] = None
    candidates = frame(con, f"select {', '.join(columns)} from {table} where is_candidate")
    # The feature columns are not needed past the prediction: sorting 1.8M rows with them
    # moved ~60 columns for nothing.
    scored = rank_candidates(model, candidates, threads=settings.num_threads, keep=SCORE_KEYS)
    del candidates
    head = scored.head(settings.explain_top).select(
        "nit", "tax_year", "risk_score", "predicted_amount", "expected_recovery"
    )
    con.register("_top", head.with_row_index("_position"))
    try:
        top = frame(
            con,
            f"select f.*, t.risk_score, t.predicted_amount, t.expected_recovery "
            f"from _top as t join {table} as f using (nit, tax_year) order by t._position",
        )
    finally:
        con.unregister("_top")
    reasons, codes = reasons_for(model, top, scored.height, settings.explain_top)
    return scored.select(
        pl.lit(program).alias("program"),
        "nit",
        "tax_year",
        "risk_score",
        "predicted_amount",
        "expected_recovery",
        "statute_expires_on",
        pl.Series("reasons", reasons, dtype=pl.Utf8),
        pl.Series("reason_codes", codes, dtype=pl.Utf8),
        pl.lit(model.version).alias("model_version"),
        "size_band",
        "ciiu_section",
    )


def _ensure_risk_models(con: duckdb.DuckDBPyConnection, record: dict) -> None:
    """Create scoring.risk_models; a table from an older version (other columns) is replaced,
    since the training step writes every program's model again."""
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
        con.execute("create schema if not exists scoring")
        _ensure_risk_models(con, records[0])
        columns = ", ".join(records[0])
        marks = ", ".join("?" for _ in records[0])
        con.begin()
        con.execute("delete from scoring.risk_models")
        for record in records:
            con.execute(
                f"insert into scoring.risk_models ({columns}) values ({marks})",
                list(record.values()),
            )
        con.commit()
        table = table_metadata(con, "scoring", "risk_models", described(context))
    return dg.MaterializeResult(
        metadata={
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
            "expected recovery and reasons, scored by the model stored in scoring.risk_models."
        ),
        kinds={"lightgbm", "duckdb"},
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: DuckDBResource, settings: FiscalSettings
    ) -> dg.MaterializeResult:
        with warehouse.get_connection() as con:
            model = stored_model(con, program)
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
            f"{program}: scored {scores.height} open cases with model {model.version}"
        )
        return dg.MaterializeResult(
            metadata={
                **table,
                "model_version": model.version,
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
