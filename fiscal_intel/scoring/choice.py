"""Which ranking a municipality's lists use: its own model, the department's pooled model or
the rule (issue #19, requirement 3).

The department's pooled step (:mod:`fiscal_intel.department.pooled`) trains the pooled model
and writes each municipality's choice into its own warehouse (``marts.model_choice``,
``scoring.pooled_models``); the score assets build the lists from that choice when the run
carries :data:`MODEL_CHOICE_TAG` (:func:`chosen_scores`). What both sides must agree on lives
here, on the scoring side: the municipality-level features the pooled model reads
(:func:`municipality_profile`), how a stored pooled model is read back, and the rule's list.
A municipality run alone never reads any of it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import duckdb
import polars as pl

from fiscal_intel.scoring.model import ProgramModel, model_from_record
from fiscal_intel.scoring.programs import PROGRAMS
from fiscal_intel.sqlfiles import frame, scalar

# Sections whose share of a municipality's taxpayers the pooled model sees.
POOLED_SECTIONS = ("A", "C", "F", "G", "H", "I", "K", "M", "S")
MUNICIPALITY_FEATURES = (
    "municipality_log_taxpayers",
    "municipality_audit_rate",
    "municipality_hit_rate",
    *(f"municipality_share_{s.lower()}" for s in POOLED_SECTIONS),
)

# The Dagster run tag that makes ``scoring/<program>_scores`` rank as the department chose
# (``marts.model_choice``); without it a run ranks with the municipality's own model, as a
# municipality run alone does, whatever an earlier department run chose.
MODEL_CHOICE_TAG = "fiscal_intel/model_choice"


def municipality_profile(
    con: duckdb.DuckDBPyConnection, program: str, as_of: object
) -> dict[str, float]:
    """The municipality-level features of ``program`` from its feature table as it stands
    (inside :func:`features_as_of`, as of the cut-off): aggregates only."""
    labels = PROGRAMS[program].labels
    shares = ", ".join(
        f"count(distinct nit) filter (where ciiu_section = '{s}') as share_{s.lower()}"
        for s in POOLED_SECTIONS
    )
    row = frame(
        con,
        f"select count(distinct nit) as taxpayers, "
        f"count(*) filter (where {labels.adjusted} is not null "
        f"and {labels.closed_on} <= $as_of) as audits, "
        f"count(*) filter (where {labels.adjusted} and {labels.closed_on} <= $as_of) as adjusted, "
        f"{shares} from features.{program}_features",
        {"as_of": as_of},
    ).row(0, named=True)
    taxpayers = max(int(row["taxpayers"] or 0), 1)
    audits, adjusted = int(row["audits"] or 0), int(row["adjusted"] or 0)
    out = {
        "municipality_log_taxpayers": math.log(taxpayers),
        "municipality_audit_rate": audits / taxpayers,
        "municipality_hit_rate": (adjusted + 1) / (audits + 2),
    }
    for s in POOLED_SECTIONS:
        out[f"municipality_share_{s.lower()}"] = (row[f"share_{s.lower()}"] or 0) / taxpayers
    return out


def pooled_features(program: str) -> list[str]:
    """What the pooled model of ``program`` reads: the program's features, then the
    municipality-level ones."""
    return [*PROGRAMS[program].feature_list, *MUNICIPALITY_FEATURES]



def pooled_model_from_record(record: dict) -> ProgramModel:
    """A model ``scoring.pooled_models`` stores (its features: the program's and the
    municipality-level ones), ready to score."""
    program = record["program"]
    features = json.loads(record["features"])
    if features != pooled_features(program):
        raise ValueError(f"the stored pooled {program} model was trained on other features")
    model = model_from_record({**record, "features": json.dumps(PROGRAMS[program].feature_list)})
    model.features = features
    return model


def rule_scores(
    con: duckdb.DuckDBPyConnection, program: str, own: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The program's open cases ranked by the rule, as score rows: the amount is the rule's
    (``rule_score``: the tax the evidence shows at the activity's rate), the probability the
    municipality's hit rate (the rule knows no other), so expected money orders the list as the
    rule does. The reasons stay the own model's (``own``: its score rows, default
    ``scoring.<program>_scores``): the evidence they cite is in the file."""
    from fiscal_intel.scoring.ranking import near_equal

    rate = scalar(
        con, "select base_rate from scoring.risk_models where program = $p", {"p": program}
    )
    source = f"scoring.{program}_scores"
    if own is not None:
        con.register("_own_scores", own.to_arrow())
        source = "_own_scores"
    try:
        scores = frame(
            con,
            f"select s.* exclude (risk_score, expected_recovery, predicted_amount, "
            f"model_version), coalesce(f.rule_score, 0)::double as predicted_amount "
            f"from {source} as s join features.{program}_features as f using (nit, tax_year)",
        )
    finally:
        if own is not None:
            con.unregister("_own_scores")
    p = float(rate or 0.0)
    amount = scores["predicted_amount"].to_numpy()
    return scores.with_columns(
        risk_score=pl.lit(p, dtype=pl.Float64),
        expected_recovery=pl.Series(near_equal(p * amount)),
        model_version=pl.lit("rule"),
    ).sort(
        ["expected_recovery", "predicted_amount", "statute_expires_on", "nit", "tax_year"],
        descending=[True, True, False, False, False],
    )


SCORE_COLUMNS = (
    "program", "nit", "tax_year", "risk_score", "predicted_amount", "expected_recovery",
    "statute_expires_on", "reasons", "reason_codes", "model_version", "size_band", "ciiu_section",
)  # fmt: skip


def score_columns(scores: pl.DataFrame) -> pl.DataFrame:
    """Score rows in the columns (and order) of ``scoring.<program>_scores``."""
    return scores.select([c for c in SCORE_COLUMNS if c in scores.columns])


def chosen_scores(
    con: duckdb.DuckDBPyConnection,
    program: str,
    own: Callable[[], pl.DataFrame],
    settings: object,
) -> tuple[pl.DataFrame, str]:
    """The program's score rows as ``marts.model_choice`` says, and the choice: ``own`` (the
    rows ``own()`` gives: the stored own model's ranking; also without a choice), ``pooled``
    (every open case scored by the pooled model in ``scoring.pooled_models``, with the
    municipality's profile; the own model's ranking is not computed) or ``rule``
    (:func:`rule_scores`, which keeps the own model's reasons). ``settings``: what ranking reads
    (``num_threads``, ``explain_top``)."""
    from fiscal_intel.scoring.ranking import score_program

    exists = scalar(
        con,
        "select count(*) from duckdb_tables() where schema_name = 'marts' "
        "and table_name = 'model_choice'",
    )
    row = (
        frame(
            con,
            "select choice, pooled_model_version from marts.model_choice where program = $p",
            {"p": program},
        )
        if exists
        else pl.DataFrame()
    )
    choice = row["choice"][0] if row.height else "own"
    if choice == "rule":
        return score_columns(rule_scores(con, program, own())), choice
    if choice != "pooled":
        return own(), "own"
    record = frame(
        con, "select * from scoring.pooled_models where program = $p", {"p": program}
    ).row(0, named=True)
    model = pooled_model_from_record(record)
    if model.version != row["pooled_model_version"][0]:
        raise ValueError(
            f"marts.model_choice names pooled {program} model {row['pooled_model_version'][0]}, "
            f"scoring.pooled_models holds {model.version}"
        )
    as_of = scalar(con, "select as_of from staging.as_of_date")
    # The municipality-level features as the pooled step computed them (the same tables).
    profile = municipality_profile(con, program, as_of)
    consts = ", ".join(f"{v!r}::double as {k}" for k, v in profile.items())
    table = f"pooled_{program}_candidates"
    con.execute(
        f"create or replace temp table {table} as select *, {consts} "
        f"from features.{program}_features where is_candidate"
    )
    try:
        scores = score_program(con, model, settings, table=table)  # type: ignore[arg-type]
        return score_columns(scores), choice
    finally:
        con.execute(f"drop table if exists {table}")
