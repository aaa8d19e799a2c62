"""Pooled learning for small municipalities (issue #19, requirement 3).

A municipality of a few hundred taxpayers has a handful of closed audits: its own model learns
little more than its hit rate. After the municipality runs of a department, this step trains,
per program, one model on the closed audits of all of them (the pooled model) and lets each
municipality's own held-out audits decide which list it gets.

- **What is pooled.** Each municipality hands over feature rows and labels only: the columns of
  its program's model, the outcome columns and a few municipality-level features (its size, its
  sector shares, its audit rate and hit rate: ``scoring.choice.MUNICIPALITY_FEATURES``). No
  NIT, name, year or case id leaves its warehouse (:func:`pool_part` drops them; a test proves
  it), and nothing of it is written anywhere but into memory for the fit: ``department.duckdb``
  never sees a taxpayer-level row. The rows are sampled and sorted inside each municipality, so the
  pooled frame (and the model) is the same for the same warehouses.
- **How it is chosen.** The backtest split the municipality already uses (``scoring.backtest``:
  audits opened after the cut-off, ``backtest_months`` before the as-of date) scores three
  rankings of the same held-out audits: the municipality's own model as trained on the cut-off
  (from ``scoring.backtest``), the pooled model trained on every municipality's audits closed
  by the cut-off (never one of the held-out ones: they close after it), and the rule
  (``rule_score``). Each is scored by the share of the held-out assessed money its order puts
  first (:func:`recovery_area`); :func:`choose` takes the best, and with fewer than
  :data:`MIN_HELD_OUT` held-out audits (nothing to tell them apart) the pooled model where the
  municipality closed fewer than :data:`SMALL_OFFICE_AUDITS` audits, its own model otherwise.
- **What changes.** ``marts.model_choice`` (one row per program) records the choice, the three
  scores and the counts; ``scoring.pooled_models`` the pooled model (as ``scoring.risk_models``
  stores a model); both under the municipality's writer lock. The lists are not touched here:
  each municipality's second run builds ``scoring.<program>_scores`` once with the chosen model
  (``scoring.choice.chosen_scores``, read by the score assets when the run carries
  ``scoring.choice.MODEL_CHOICE_TAG``) and what reads them (``scoring.case_actions``,
  ``marts.audit_ranking`` with the contract's columns, ordered by expected money, the marts
  after it), then publishes the warehouse.
- **Where it runs.** In :func:`fiscal_intel.department.runner.run_department`, between each
  municipality's two runs (``fiscal_intel.runner``: ``before_choice`` builds everything this
  step reads, ``after_choice`` the lists) and before ``department.duckdb`` is built. Reading
  each municipality, the four pooled fits and writing each choice run on the department's
  worker processes (``--workers``); the fits are seeded and read rows sorted by municipality,
  so the models are the same with any number of workers. A municipality's own run
  (``fiscal-intel run`` on it alone) ranks with its own model again until the next department
  run: its runs carry no choice tag, whatever ``marts.model_choice`` its file still holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import lightgbm as lgb
import numpy as np
import polars as pl

from fiscal_intel.scoring.choice import (
    municipality_profile,
    pooled_features,
)
from fiscal_intel.scoring.model import (
    LATE_FILING_MAX_ROWS,
    LATE_FILING_MEMBERS,
    ProgramModel,
    blinded,
    evidence_hit_rate,
    fit_amount,
    model_record,
    train_classifiers,
)
from fiscal_intel.scoring.programs import PROGRAMS
from fiscal_intel.settings import Settings
from fiscal_intel.sqlfiles import frame, scalar

# What a municipality may hand over, besides its program's feature columns and these.
LABEL_COLUMNS = ("label_adjusted", "label_amount", "audit_closed_on", "audit_selection")
# Never in the pooled frame: who the rows are about.
IDENTIFYING = ("nit", "dv", "legal_name", "name", "matricula", "case_id", "tax_year")
# Fewer held-out audits than this and the backtest cannot choose: the prior does.
MIN_HELD_OUT = 5
# The prior: fewer closed audits of its own than this and a municipality takes the pooled model.
SMALL_OFFICE_AUDITS = 50
# Rows one municipality adds to the pooled amount and late-filing fits (a hash sample inside
# its warehouse): the city must not drown the others, nor the fit grow with the department.
AMOUNT_ROWS_PER_MUNICIPALITY = 8_000
LATE_ROWS_PER_MUNICIPALITY = LATE_FILING_MAX_ROWS // 3
METHODS = ("own", "pooled", "rule")


# --- the choice (pure) -----------------------------------------------------------------------


def recovery_area(score: np.ndarray, amount: np.ndarray) -> float | None:
    """How much of the held-out money an order puts first: held-out audits ordered by ``score``
    (descending, ties in the given order), the share of the total assessed ``amount`` found in
    the top k, averaged over every k (1 = the money all at the top). None: no money to find."""
    amount = np.nan_to_num(np.asarray(amount, dtype=np.float64)).clip(min=0)
    total = float(amount.sum())
    if len(amount) == 0 or total <= 0:
        return None
    order = np.argsort(-np.nan_to_num(np.asarray(score, dtype=np.float64)), kind="stable")
    return float(np.mean(np.cumsum(amount[order]) / total))


def choose(scores: dict[str, float | None], held_out: int, own_audits: int) -> tuple[str, str]:
    """The ranking a municipality's program takes (``own``, ``pooled`` or ``rule``) and why.

    ``scores``: each method's :func:`recovery_area` on the held-out audits; ``held_out``: how
    many there are; ``own_audits``: the closed audits the municipality's own model learnt from.
    The best score wins (ties: own, then pooled, then the rule: the simpler explanation of a
    list is its own office's data); with fewer than ``MIN_HELD_OUT`` held-out audits, or no money
    among them, the prior: pooled below ``SMALL_OFFICE_AUDITS`` own audits, else own.
    """
    known = {m: s for m, s in scores.items() if s is not None and m in METHODS}
    if held_out < MIN_HELD_OUT or not known:
        choice = "pooled" if own_audits < SMALL_OFFICE_AUDITS else "own"
        return choice, (
            f"{held_out} held-out audits with money: too few to compare; {own_audits} closed "
            f"audits of its own ({'fewer' if choice == 'pooled' else 'not fewer'} than "
            f"{SMALL_OFFICE_AUDITS})"
        )
    best = max(METHODS, key=lambda m: (known.get(m, -1.0), -METHODS.index(m)))
    shown = ", ".join(f"{m} {known[m]:.3f}" for m in METHODS if m in known)
    return best, f"backtest on {held_out} held-out audits: {shown}"


# --- municipality-level features and the rows a municipality hands over ----------------------


@dataclass
class PoolPart:
    """What one municipality hands over for one program: feature rows and labels, no identity."""

    code: str
    audits: pl.DataFrame
    amount: pl.DataFrame | None
    late: pl.DataFrame | None
    profile: dict[str, float]


def _anonymous(rows: pl.DataFrame | None, keep: list[str], profile: dict[str, float]):
    """``rows`` (sorted by NIT and year, so the order is the same every run) cut to ``keep``,
    with the municipality's features as constant columns: nothing says whom a row is about."""
    if rows is None:
        return None
    rows = rows.sort(["nit", "tax_year"]).select([c for c in keep if c in rows.columns])
    return rows.with_columns(
        [pl.lit(v, dtype=pl.Float64).alias(k) for k, v in profile.items()]
    )


def pool_part(
    con: duckdb.DuckDBPyConnection, program: str, as_of: object, code: str
) -> PoolPart:
    """The rows municipality ``code`` adds to the pooled fit of ``program`` as of ``as_of``: its
    audits closed by then, a hash sample of its amount rows and late-filing rows."""
    from fiscal_intel.scoring.training import late_filing_rows, sampled_rows

    spec = PROGRAMS[program]
    labels = spec.labels
    keep = list(
        dict.fromkeys(
            [*spec.feature_list, *LABEL_COLUMNS, spec.amount.target, spec.amount.base,
             spec.evidence]
        )
    )  # fmt: skip
    keep = [c for c in keep if c]
    profile = municipality_profile(con, program, as_of)
    audits = frame(
        con,
        f"select * from features.{program}_features "
        f"where {labels.adjusted} is not null and {labels.closed_on} <= $as_of",
        {"as_of": as_of},
    )
    amount = None
    if spec.amount.rows == "all":
        columns = dict.fromkeys(["nit", "tax_year", *spec.features, spec.amount.target])
        if spec.amount.base:
            columns[spec.amount.base] = None
        amount = sampled_rows(
            con, spec.table, list(columns), f"{spec.amount.target} > 0",
            AMOUNT_ROWS_PER_MUNICIPALITY,
        )  # fmt: skip
    late = late_filing_rows(con, program, as_of)
    if late is not None and late.height > LATE_ROWS_PER_MUNICIPALITY:
        from fiscal_intel.scoring.model import hash_sample

        late = hash_sample(late.sort(["nit", "tax_year"]), LATE_ROWS_PER_MUNICIPALITY)
    return PoolPart(
        code,
        _anonymous(audits, keep, profile),
        _anonymous(amount, keep, profile),
        _anonymous(late, [*spec.feature_list, "filed"], profile),
        profile,
    )


# --- the pooled model ------------------------------------------------------------------------


def pooled_frame(parts: list[PoolPart], what: str) -> pl.DataFrame | None:
    """The pooled rows of ``what`` (``audits``, ``amount`` or ``late``), municipality after
    municipality in code order."""
    frames = [getattr(p, what) for p in sorted(parts, key=lambda p: p.code)]
    frames = [f for f in frames if f is not None and f.height]
    return pl.concat(frames, how="diagonal_relaxed") if frames else None


def train_pooled(
    program: str,
    parts: list[PoolPart],
    *,
    seed: int,
    threads: int,
    rounds: int,
    closed_by: object = None,
) -> ProgramModel:
    """The program's model on the pooled rows of ``parts``, as :func:`scoring.model.train`
    fits a municipality's: classifiers on the closed audits, the amount model as the program's
    spec says, the late-filing part, the evidence's hit rate; its features are the program's
    plus :data:`MUNICIPALITY_FEATURES`. ``closed_by``: only the audits closed by that day (the
    department's earliest backtest cut-off, when the cut-offs differ by a few days)."""
    spec = PROGRAMS[program]
    labels, amount = spec.labels, spec.amount
    features = pooled_features(program)
    audits = pooled_frame(parts, "audits")
    if audits is not None and closed_by is not None:
        audits = audits.filter(pl.col(labels.closed_on) <= closed_by)
    if audits is None:
        audits = pl.DataFrame(
            {c: [] for c in [*features, *LABEL_COLUMNS]},
            schema={**dict.fromkeys(features, pl.Float64), "label_adjusted": pl.Boolean,
                    "label_amount": pl.Float64, "audit_closed_on": pl.Date,
                    "audit_selection": pl.Utf8},
        )  # fmt: skip
    y = audits[labels.adjusted].cast(pl.Int8).to_numpy()
    is_random = (audits[labels.selection] == "random").to_numpy()
    fit = {"seed": seed, "threads": threads, "rounds": rounds, "features": features}
    classifiers = train_classifiers(program, audits, label=labels.adjusted, **fit)
    source = (
        audits.filter(pl.col(labels.adjusted))
        if amount.rows == "audits"
        else pooled_frame(parts, "amount")
    )
    if source is None:
        source = audits.head(0)
    source, amount_models, median_log_amount = fit_amount(
        source.filter(pl.col(amount.target) > 0), amount, features,
        seed=seed, threads=threads, rounds=rounds,
    )  # fmt: skip
    late_classifiers: list[lgb.Booster] = []
    late_count = 0
    late = pooled_frame(parts, "late")
    if spec.late_filing_blind is not None and late is not None:
        late = blinded(late, spec.late_filing_blind)
        late_count = late.height
        late_classifiers = train_classifiers(
            program, late, label="filed", members=LATE_FILING_MEMBERS, **fit
        )
    evidence = {}
    if spec.evidence is not None and spec.evidence in audits.columns:
        evidence = evidence_hit_rate(
            audits[spec.evidence].to_numpy(), y, is_random,
            audits[labels.amount].cast(pl.Float64).to_numpy(),
        )  # fmt: skip
    closed = audits[labels.closed_on]
    return ProgramModel(
        program=program,
        features=features,
        classifiers=classifiers,
        amount_models=amount_models,
        amount=amount,
        base_rate=float(y.mean()) if len(y) else 0.0,
        median_log_amount=median_log_amount,
        train_rows=len(y),
        positives=int(y.sum()),
        random_rows=int(is_random.sum()),
        random_positives=int(y[is_random].sum()),
        amount_rows=source.height,
        trained_from=closed.min() if len(y) else None,
        trained_to=closed.max() if len(y) else None,
        params={
            "rounds": rounds, "seed": seed, "classifiers": len(classifiers),
            "amount_models": len(amount_models), "pooled": True,
            "municipalities": sorted(p.code for p in parts), **evidence,
        },  # fmt: skip
        late_classifiers=late_classifiers,
        late_rows=late_count,
    )


def with_profile(rows: pl.DataFrame, profile: dict[str, float]) -> pl.DataFrame:
    """``rows`` with the municipality-level features (constant columns) the pooled model reads."""
    return rows.with_columns([pl.lit(v, dtype=pl.Float64).alias(k) for k, v in profile.items()])


# --- one municipality: its parts, its backtest, its choice, its lists -------------------------


@dataclass
class Municipality:
    """What the department step holds of one municipality between reading and writing back:
    its parts for the two pooled fits (no identity) and its own held-out rows (with NITs: they
    never leave this object, and are scored and written back into its own warehouse only)."""

    code: str
    settings: Settings
    as_of: dt.date
    cutoff: dt.date
    now: dict[str, PoolPart] = field(default_factory=dict)  # as of the as-of date
    then: dict[str, PoolPart] = field(default_factory=dict)  # as of the backtest cut-off
    held: dict[str, pl.DataFrame] = field(default_factory=dict)  # held-out candidates then
    backtest: pl.DataFrame | None = None  # scoring.backtest: own model and rule, with outcomes


def _sql_params(settings: Settings) -> dict[str, object]:
    from fiscal_intel.resources import build_resources

    return build_resources(settings)["settings"].sql_params()  # type: ignore[attr-defined]


def read_municipality(code: str, settings: Settings) -> Municipality:
    """Read what the pooled step needs from one built warehouse (under its writer lock)."""
    from fiscal_intel.locking import warehouse_lock
    from fiscal_intel.scoring.evaluation import backtest_cutoff, features_as_of
    from fiscal_intel.warehouse import connect_warehouse

    with warehouse_lock(settings.warehouse, timeout=settings.lock_timeout), connect_warehouse(
        settings.warehouse
    ) as con:
        as_of = scalar(con, "select as_of from staging.as_of_date")
        backtest = frame(con, "select * from scoring.backtest")
        cutoff = (
            backtest["cutoff"][0]
            if backtest.height
            else backtest_cutoff(as_of, settings.backtest_months)
        )
        m = Municipality(code, settings, as_of, cutoff, backtest=backtest)
        for program in PROGRAMS:
            m.now[program] = pool_part(con, program, as_of, code)

        def then(c: duckdb.DuckDBPyConnection) -> None:
            keys = backtest.select("program", "nit", "tax_year")
            c.register("_held", keys)
            try:
                for program in PROGRAMS:
                    m.then[program] = pool_part(c, program, cutoff, code)
                    m.held[program] = frame(
                        c,
                        f"select f.* from features.{program}_features as f semi join _held as h "
                        "on h.program = $program and f.nit = h.nit and f.tax_year = h.tax_year "
                        "where f.is_candidate order by f.nit, f.tax_year",
                        {"program": program},
                    )
            finally:
                c.unregister("_held")

        features_as_of(con, cutoff, _sql_params(settings), read=then)
    return m


def backtest_scores(
    m: Municipality, program: str, pooled_then: ProgramModel
) -> tuple[dict[str, float | None], int, pl.DataFrame]:
    """The three rankings' :func:`recovery_area` on the municipality's held-out audits of
    ``program``, how many audits had money to find, and the rows (for the record)."""
    from fiscal_intel.scoring.ranking import rank_candidates

    rows = None
    if m.backtest is not None and m.backtest.height:
        rows = m.backtest.filter(pl.col("program") == program)
    held = m.held.get(program)
    if rows is None or rows.height == 0 or held is None or held.height == 0:
        return dict.fromkeys(METHODS), 0, pl.DataFrame()
    ranked = rank_candidates(
        pooled_then,
        with_profile(held, m.then[program].profile),
        keep=["nit", "tax_year", "statute_expires_on"],
    ).select("nit", "tax_year", pl.col("expected_recovery").alias("pooled_expected"))
    rows = rows.sort("rank_then").join(ranked, on=["nit", "tax_year"], how="left")
    amount = np.where(
        rows["adjusted"].fill_null(False).to_numpy(),
        rows["assessed_amount"].fill_null(0.0).to_numpy(),
        0.0,
    )
    scores = {
        "own": recovery_area(rows["expected_recovery"].to_numpy(), amount),
        "pooled": recovery_area(rows["pooled_expected"].fill_null(0.0).to_numpy(), amount),
        "rule": recovery_area(rows["rule_score"].fill_null(0.0).to_numpy(), amount),
    }
    return scores, rows.height, rows


def _store_pooled_models(con: duckdb.DuckDBPyConnection, records: list[dict]) -> None:
    """``scoring.pooled_models``: the pooled models (one row per program, as risk_models)."""
    if not records:
        return
    frame_ = pl.DataFrame(records, infer_schema_length=None)
    con.execute("create schema if not exists scoring")
    con.register("_pooled", frame_.to_arrow())
    con.execute("create or replace table scoring.pooled_models as select * from _pooled")
    con.unregister("_pooled")


def _store_choice(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    """``marts.model_choice``: per program, the ranking the lists use and the backtest behind."""
    con.execute("create schema if not exists marts")
    schema = {
        "program": pl.Utf8, "choice": pl.Utf8, "reason": pl.Utf8, "own_score": pl.Float64,
        "pooled_score": pl.Float64, "rule_score": pl.Float64, "held_out_audits": pl.Int64,
        "own_audits": pl.Int64, "pooled_audits": pl.Int64, "pooled_municipalities": pl.Int64,
        "cutoff": pl.Date, "as_of": pl.Date, "pooled_model_version": pl.Utf8,
    }  # fmt: skip
    con.register("_choice", pl.DataFrame(rows, schema=schema).to_arrow())
    con.execute("create or replace table marts.model_choice as select * from _choice")
    con.unregister("_choice")


def write_choice(
    m: Municipality, choices: dict[str, dict], pooled_now: dict[str, ProgramModel]
) -> None:
    """Record the choices (``marts.model_choice``) and the pooled models
    (``scoring.pooled_models``) in the municipality's warehouse, under its writer lock. The
    lists are not touched here: the municipality's second run builds its score tables and what
    reads them once, with this choice (``scoring.choice.chosen_scores``), and publishes them."""
    from fiscal_intel.locking import warehouse_lock
    from fiscal_intel.warehouse import connect_warehouse

    settings = m.settings
    with (
        warehouse_lock(settings.warehouse, timeout=settings.lock_timeout),
        connect_warehouse(settings.warehouse) as con,
    ):
        _store_pooled_models(con, [model_record(model, m.as_of) for model in pooled_now.values()])
        _store_choice(con, list(choices.values()))  # last: a choice names a stored model


@dataclass
class PooledResult:
    """What the department step did: the choice per municipality and program, and failures."""

    choices: dict[str, dict[str, dict]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    models: dict[str, ProgramModel] = field(default_factory=dict)  # pooled, as of the as-of
    seconds: float = 0.0


def choice_rows(
    m: Municipality, pooled_now: dict[str, ProgramModel], pooled_then: dict[str, ProgramModel]
) -> dict[str, dict]:
    """Per program, the backtest's three scores and the choice, as ``marts.model_choice`` rows."""
    out = {}
    for program in PROGRAMS:
        scores, held_out, _ = backtest_scores(m, program, pooled_then[program])
        own_audits = m.now[program].audits.height
        choice, reason = choose(scores, held_out, own_audits)
        out[program] = {
            "program": program,
            "choice": choice,
            "reason": reason,
            "own_score": scores["own"],
            "pooled_score": scores["pooled"],
            "rule_score": scores["rule"],
            "held_out_audits": held_out,
            "own_audits": own_audits,
            "pooled_audits": pooled_now[program].train_rows,
            "pooled_municipalities": len(pooled_now[program].params.get("municipalities", [])),
            "cutoff": m.cutoff,
            "as_of": m.as_of,
            "pooled_model_version": pooled_now[program].version,
        }
    return out


# How the per-municipality parts of the step run: ``parallel(fn, calls)`` returns
# ``[fn(*args) for args in calls]`` in that order; the department runner passes its worker
# pool's map, so reading and writing back run on the warm workers, two municipalities at a time.
Parallel = Callable[[Callable[..., object], list[tuple]], list]


def in_turn(fn: Callable[..., object], calls: list[tuple]) -> list:
    """The serial :data:`Parallel`."""
    return [fn(*args) for args in calls]


def _train_pooled(
    program: str, parts: list[PoolPart], seed: int, threads: int, rounds: int, closed_by: object
) -> ProgramModel:
    """:func:`train_pooled` with positional arguments, as :data:`Parallel` calls it."""
    return train_pooled(
        program, parts, seed=seed, threads=threads, rounds=rounds, closed_by=closed_by
    )


def read_or_failure(code: str, settings: Settings) -> Municipality | str:
    """:func:`read_municipality`, or the failure in one line (never raises: one municipality's
    surprise must not stop the others)."""
    try:
        return read_municipality(code, settings)
    except Exception as exc:
        return f"reading for the pooled model: {type(exc).__name__}: {exc}"


def choose_and_write(
    m: Municipality,
    pooled_now: dict[str, ProgramModel],
    pooled_then: dict[str, ProgramModel],
) -> dict[str, dict] | str:
    """The municipality's choices (:func:`choice_rows`) recorded (:func:`write_choice`), or
    the failure in one line."""
    try:
        choices = choice_rows(m, pooled_now, pooled_then)
        write_choice(m, choices, pooled_now)
        return choices
    except Exception as exc:
        return f"pooled step: {type(exc).__name__}: {exc}"


def read_all(
    municipalities: dict[str, Settings], parallel: Parallel = in_turn
) -> tuple[dict[str, Municipality], dict[str, str]]:
    """Every municipality's first run read for the pooled fits (:func:`read_or_failure`, by
    code), and the failures in one line each."""
    codes = sorted(municipalities)
    got = parallel(read_or_failure, [(c, municipalities[c]) for c in codes])
    return collect_reads(dict(zip(codes, got, strict=True)))


def collect_reads(
    got: dict[str, Municipality | str],
) -> tuple[dict[str, Municipality], dict[str, str]]:
    """Reads (:func:`read_or_failure` by code, however they ran) split into the municipalities
    read, in code order, and the failures."""
    read = {c: m for c, m in sorted(got.items()) if not isinstance(m, str)}
    return read, {c: m for c, m in sorted(got.items()) if isinstance(m, str)}


def _fit_rows(fit: tuple) -> int:
    """How many rows one of :func:`fit_pooled`'s fits trains on (to start the largest first)."""
    return sum(f.height for p in fit[1] for f in (p.audits, p.amount, p.late) if f is not None)


def fit_pooled(
    read: dict[str, Municipality],
    parallel: Parallel = in_turn,
    *,
    threads: int | None = None,
) -> tuple[dict[str, ProgramModel], dict[str, ProgramModel]]:
    """The four pooled fits (each program as of the as-of date and as of the backtest cut-off),
    independent of each other, through ``parallel``, the largest first (so the last to finish
    is a small one). ``threads``: the cores each fit may train its members on (default: the
    municipalities' ``num_threads``); the fits are seeded and each member trains on one
    thread below ``MIN_ROWS_PER_THREAD`` rows, so the models are the same for any number of
    threads or workers."""
    first = next(iter(read.values())).settings
    fit = {
        "seed": first.seed,
        "threads": threads or first.num_threads,
        "rounds": first.boosting_rounds,
    }
    earliest = min(m.cutoff for m in read.values())
    fits = [
        (program, [getattr(m, when)[program] for m in read.values()], fit["seed"],
         fit["threads"], fit["rounds"], earliest if when == "then" else None)
        for program in PROGRAMS
        for when in ("now", "then")
    ]  # fmt: skip
    order = sorted(range(len(fits)), key=lambda i: -_fit_rows(fits[i]))
    models = dict(zip(order, parallel(_train_pooled, [fits[i] for i in order]), strict=True))
    pooled_now, pooled_then = {}, {}
    for i, program in enumerate(PROGRAMS):
        pooled_now[program], pooled_then[program] = models[2 * i], models[2 * i + 1]
    return pooled_now, pooled_then


def pooled_learning(
    municipalities: dict[str, Settings],
    *,
    on_message: Callable[[str], None] | None = None,
    parallel: Parallel = in_turn,
) -> PooledResult:
    """The department step, between each municipality's two runs: read every municipality's
    first run (features, own models, backtest), fit the pooled models, choose per municipality
    and program, record the choice (:func:`choose_and_write`). Reading, the fits and writing
    run through ``parallel``; the fits are seeded, so the models are the same however many
    workers there are. A municipality that fails here is named in the result, never stops the
    others, and ranks with its own model. Fewer than two municipalities: no pool, nothing
    done. (A department run with workers runs the same parts overlapped:
    ``fiscal_intel.department.runner``.)"""
    import time

    start = time.perf_counter()
    result = PooledResult()
    read, result.failed = read_all(municipalities, parallel)
    if len(read) < 2:
        result.seconds = time.perf_counter() - start
        return result
    # The four fits (each program now and as of the cut-off) are independent: they run through
    # ``parallel`` too, each seeded, so a worker fits the same model as this process would.
    pooled_now, pooled_then = fit_pooled(read, parallel)
    result.models = pooled_now
    written = parallel(choose_and_write, [(m, pooled_now, pooled_then) for m in read.values()])
    for code, got in zip(read, written, strict=True):
        if isinstance(got, str):
            result.failed[code] = got
        else:
            result.choices[code] = got
    for code, message in sorted(result.failed.items()):
        if on_message:
            on_message(f"municipality {code}: {message}")
    result.seconds = time.perf_counter() - start
    return result
