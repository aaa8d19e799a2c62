"""How good the lists are: a time-based backtest on closed audits, and the ground-truth check.

Backtest (no leakage by construction): pick a cut-off ``backtest_months`` before the as-of date,
rebuild every feature table *as of the cut-off* (inside a transaction that is rolled back, so the
current tables are untouched), train on the audits closed by then, rank the cases open then, and
compare with the audits opened after the cut-off. The random-selection ones among them are an
unbiased sample: their realised yield against the yield the model predicted for them is the
honest measure of the list (the IRS NRP idea; Mahajan et al. 2024 on why backtests on staff-picked
audits mislead).

Ground truth: a CSV with ``nit, tax_year, program, true_gap`` (the demo writes one; a real office
may have the results of a tax-gap study) is loaded into ``evaluation.truth`` and
``marts.model_performance`` then reports precision@k and recovery@k of the model, the rule an
analyst would use and random picks. ``fiscal-intel evaluate --truth FILE`` does this on a built
warehouse.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl

from fiscal_intel.scoring.programs import PROGRAMS
from fiscal_intel.sqlfiles import frame, run_sql

# The feature tables, in build order (helpers first); the backtest rebuilds all of them.
FEATURE_TABLES = (
    "registry_profile",
    "known_returns",
    "third_party_income",
    "omiso_features",
    "inexacto_features",
)
TRUTH_COLUMNS = ("nit", "tax_year", "program", "true_gap")
# The in-memory catalog the backtest builds its feature tables in.
_BACKTEST = "backtest_as_of"
T = TypeVar("T")


def backtest_cutoff(as_of: dt.date, months: int) -> dt.date:
    """``months`` before ``as_of`` (the day clipped to the month's length)."""
    total = as_of.year * 12 + as_of.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(as_of.day, last))


def features_as_of(
    con: duckdb.DuckDBPyConnection,
    cutoff: dt.date,
    params: dict[str, object],
    read: Callable[[duckdb.DuckDBPyConnection], T] | None = None,
) -> T | dict[str, pl.DataFrame]:
    """Each program's feature table as it would have been built on ``cutoff``, or whatever
    ``read(con)`` takes from those tables (so a caller needing a few rows never holds them all).

    The same SQL files run with ``$as_of`` set to the cut-off. Their tables go to an in-memory
    catalog whose ``features`` schema comes first on the search path, so ``features.x`` means
    the cut-off's table while it exists there and the warehouse's otherwise; writing them to
    the warehouse file (and rolling back) cost ~20 % more CPU at 1M taxpayers. A transaction,
    rolled back, still wraps it all: the tables a run built stay exactly as they were.
    """
    schemas = [
        r[0]
        for r in con.execute(
            "select schema_name from duckdb_schemas() where database_name = current_database() "
            "order by schema_name"
        ).fetchall()
    ]
    home = con.execute("select current_database()").fetchone()[0]
    path = ",".join([f"{_BACKTEST}.features", *(f'"{home}".{s}' for s in schemas)])
    con.execute(f"attach ':memory:' as {_BACKTEST}")
    try:
        con.execute(f"create schema {_BACKTEST}.features")
        con.execute("set search_path = $path", {"path": path})
        con.begin()
        try:
            for name in FEATURE_TABLES:
                run_sql(con, f"features/{name}", **{**params, "as_of": cutoff.isoformat()})
            if read is not None:
                return read(con)
            return {p: frame(con, f"select * from features.{p}_features") for p in PROGRAMS}
        finally:
            con.rollback()
    finally:
        con.execute("reset search_path")
        con.execute(f"detach {_BACKTEST}")


def held_out_audits(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> pl.DataFrame:
    """Audits opened after the cut-off and closed by the as-of date: the test cases."""
    return frame(
        con,
        "select program, nit, tax_year::int as tax_year, selection, "
        "outcome = 'adjusted' as adjusted, assessed_amount::double as assessed_amount "
        "from staging.stg_audits, staging.as_of_date as a "
        "where opened_on > $cutoff and closed_on <= a.as_of "
        "qualify row_number() over (partition by program, nit, tax_year "
        "order by closed_on desc, case_id) = 1",
        {"cutoff": cutoff},
    )


def backtest_rows(
    program: str,
    ranked: pl.DataFrame,
    audits: pl.DataFrame,
    cutoff: dt.date,
    model_version: str,
) -> pl.DataFrame:
    """The held-out audits of ``program`` that were open cases on the cut-off, with what the
    model trained then predicted for them (``ranked``: cases scored on the cut-off, best first;
    the held-out ones suffice, and ``rank_then`` is their order on the cut-off's list)."""
    held = audits.filter(pl.col("program") == program).drop("program")
    return (
        ranked.select(
            "nit",
            "tax_year",
            "risk_score",
            "predicted_amount",
            "expected_recovery",
            "rule_score",
            pl.int_range(1, pl.len() + 1).alias("rank_then"),
        )
        .join(held, on=["nit", "tax_year"], how="inner")
        .select(
            pl.lit(program).alias("program"),
            pl.lit(cutoff).alias("cutoff"),
            pl.lit(model_version).alias("model_version"),
            "nit",
            pl.col("tax_year").cast(pl.Int32),
            "selection",
            "adjusted",
            "assessed_amount",
            "risk_score",
            "predicted_amount",
            "expected_recovery",
            "rule_score",
            pl.col("rank_then").cast(pl.Int64),
        )
        .sort("rank_then")
    )


def truth_frame(path: str | Path | None) -> pl.DataFrame:
    """The ground-truth file as text columns (empty, with the columns, when there is none)."""
    if not path:
        return pl.DataFrame({c: [] for c in TRUTH_COLUMNS}, schema=dict.fromkeys(TRUTH_COLUMNS,
                                                                                   pl.Utf8))
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"truth file {file} does not exist")
    truth = pl.read_csv(file, infer_schema=False)
    truth = truth.rename({c: c.strip().lower() for c in truth.columns})
    missing = [c for c in TRUTH_COLUMNS if c not in truth.columns]
    if missing:
        raise ValueError(f"truth file {file}: missing column(s) {', '.join(missing)}")
    return truth.select(TRUTH_COLUMNS)


def summary_lines(performance: pl.DataFrame, k: int = 100) -> list[str]:
    """The model, the rule and random side by side at ``k`` (or the largest k there is), per
    program and ground, as printed by ``fiscal-intel evaluate``."""
    header = ("program", "ground", "k", "method", "precision", "recovery")
    lines = ["{:<9} {:<14} {:>5}  {:<7} {:>9} {:>9}".format(*header)]
    for (program, ground), rows in performance.group_by(
        ["program", "evaluated_on"], maintain_order=True
    ):
        ks = rows["k"].unique().sort()
        at = k if k in ks else int(ks.filter(ks <= k).max() or ks.min())
        for method in ("model", "rule", "random"):
            row = rows.filter((pl.col("k") == at) & (pl.col("method") == method))
            if row.height:
                lines.append(
                    f"{program:<9} {ground:<14} {at:>5}  {method:<7} "
                    f"{row['precision_at_k'][0]:>9.3f} {row['recovery_at_k'][0] or 0:>9.3f}"
                )
    return lines
