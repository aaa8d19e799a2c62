"""Training a program's model: which rows it learns from, read from the warehouse, and the fit.

What each program learns from is its spec (``scoring/programs/``); this module reads those rows
from ``features.<program>_features`` (sampling in DuckDB before anything leaves it) and calls
:func:`fiscal_intel.scoring.model.train`. The ``scoring/risk_models`` asset and the backtest
both train through :func:`train_program`, so the two cannot drift.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import duckdb
import polars as pl

from fiscal_intel.scoring.model import (
    LATE_FILING_MAX_ROWS,
    POPULATION_MAX_ROWS,
    AmountSpec,
    ProgramModel,
    model_record,
    train,
)
from fiscal_intel.scoring.programs import PROGRAMS
from fiscal_intel.sqlfiles import frame, run_sql, scalar


class ModelSettings(Protocol):
    """The settings training reads (``FiscalSettings`` has them)."""

    seed: int
    num_threads: int
    boosting_rounds: int


# The SQL twin of model.sample_key: the first 32 bits of md5('<nit>/<tax_year>').
SAMPLE_KEY_SQL = "('0x' || left(md5(nit || '/' || tax_year::varchar), 8))::bigint"


def sampled_rows(
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
    columns = dict.fromkeys(["nit", "tax_year", *PROGRAMS[program].features, spec.target])
    if spec.base:
        columns[spec.base] = None
    return sampled_rows(
        con, f"features.{program}_features", list(columns), f"{spec.target} > 0", spec.max_rows
    )


def late_filing_rows(
    con: duckdb.DuckDBPyConnection, program: str, as_of: object
) -> pl.DataFrame | None:
    """The rows the late-filing probability learns from (``ProgramSpec.late_filing``):
    every (NIT, year) of the years whose filing window closed at least a year before
    ``as_of`` that had no return as long after its deadline as the open year has now, with
    ``filed``: whether a return came later. None for programs without that part, or when no
    year's window is open."""
    if not PROGRAMS[program].late_filing:
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
    return sampled_rows(
        con,
        table,
        ["nit", "tax_year", *PROGRAMS[program].features, "filed"],
        "filing_deadline + interval 1 year <= $as_of::date "
        "and (first_filed_on is null or first_filed_on > filing_deadline + $age::integer)",
        LATE_FILING_MAX_ROWS,
        {"as_of": as_of, "age": age},
    )


def population_rows(
    con: duckdb.DuckDBPyConnection, program: str, as_of: object
) -> tuple[pl.DataFrame | None, int]:
    """The rows staff could have audited in the tax years the closed audits cover
    (``ProgramSpec.population``), with ``risk_pick``: whether staff picked the row (a closed,
    risk-selected audit); and how many there are (``POPULATION_MAX_ROWS`` of them at most
    are read, a hash sample). What the selection correction learns the staff's picks from
    (``model.selection_weights``)."""
    spec = PROGRAMS[program]
    table, labels = spec.table, spec.labels
    audited = f"({labels.adjusted} is not null and {labels.closed_on} <= $as_of::date)"
    # fetchall, not fetchone: a result left unfinished blocks the connection's next query
    years = con.execute(
        f"select min(tax_year), max(tax_year) from {table} where {audited}", {"as_of": as_of}
    ).fetchall()[0]
    if years[0] is None:
        return None, 0
    condition = (
        f"tax_year between {int(years[0])} and {int(years[1])} "
        f"and ({audited} or ({spec.population or 'true'}))"
    )
    n = scalar(con, f"select count(*) from {table} where {condition}", {"as_of": as_of})
    rows = sampled_rows(
        con,
        table,
        [
            "nit",
            "tax_year",
            *spec.features,
            f"coalesce({audited} and {labels.selection} = 'risk', false) as risk_pick",
        ],
        condition,
        POPULATION_MAX_ROWS,
        {"as_of": as_of},
    )
    return rows, int(n)


class TrainingData(NamedTuple):
    """What a program's model as of a date learns from (``training_data``)."""

    audits: pl.DataFrame
    amount_rows: pl.DataFrame | None
    late_rows: pl.DataFrame | None
    # the population staff picked from and its size (the selection correction)
    population: pl.DataFrame | None = None
    population_size: int = 0


def training_data(con: duckdb.DuckDBPyConnection, program: str, as_of: object) -> TrainingData:
    """The closed audits a model as of ``as_of`` learns from, its amount rows and its
    late-filing rows, from the feature tables as they stand (built as of ``as_of``)."""
    labels = PROGRAMS[program].labels
    audits = frame(
        con,
        f"select * from features.{program}_features "
        f"where {labels.adjusted} is not null and {labels.closed_on} <= $as_of",
        {"as_of": as_of},
    )
    amount = amount_rows(con, program, PROGRAMS[program].amount)
    population, size = population_rows(con, program, as_of)
    return TrainingData(audits, amount, late_filing_rows(con, program, as_of), population, size)


def train_program(
    program: str, data: TrainingData, as_of: object, settings: ModelSettings
) -> ProgramModel:
    """The program's model, trained on the audits closed by ``as_of`` in ``data``."""
    labels = PROGRAMS[program].labels
    training = data.audits.filter(
        pl.col(labels.adjusted).is_not_null() & (pl.col(labels.closed_on) <= as_of)
    )
    return train(
        program,
        training,
        seed=settings.seed,
        threads=settings.num_threads,
        rounds=settings.boosting_rounds,
        amount=PROGRAMS[program].amount,
        all_rows=data.amount_rows,
        late_rows=data.late_rows,
        population=data.population,
        population_size=data.population_size,
    )




def ensure_risk_models(con: duckdb.DuckDBPyConnection, record: dict) -> None:
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



def store_models(con: duckdb.DuckDBPyConnection, records: list[dict]) -> None:
    """Replace every program's row of ``scoring.risk_models`` with ``records`` (one
    transaction: a reader sees the old models or the new ones, never a mix)."""
    con.execute("create schema if not exists scoring")
    ensure_risk_models(con, records[0])
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


__all__ = [
    "AmountSpec",
    "ProgramModel",
    "TrainingData",
    "model_record",
    "store_models",
    "train_program",
    "training_data",
]
