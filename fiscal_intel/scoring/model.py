"""Risk models: one per audit program, ranking cases by expected money recovered.

Expected recovery = P(an audit finds tax due) × E[assessed amount | it does], per case.

- The probability comes from LightGBM classifiers on closed audits: the average of a few models
  that each see half the features (``CLASSIFIERS``), which steadies a ranking learnt from a few
  hundred labels. For omiso, activity evidence may only raise it (monotone constraints): more
  reteICA payments, staff or renewals never make a business less likely to be operating, and
  a registry far smaller than the income it last declared never makes it more likely. The omiso
  classifiers do not see how big the business is (``ProgramSpec.amount_only``): size sets the
  amount, not whether a dormant shell owes anything.
- The amount comes from a LightGBM regression on a log scale. For inexacto it learns assessed /
  potential tax on adjusted audits, so a few hundred cases generalise across firms a thousand
  times apart in size. For omiso it learns the tax that filers declared: an operating non-filer
  owes about what a comparable filer pays, and filers are tens of thousands where adjusted omiso
  audits are hundreds. Each filer is shown twice, once with its filing history hidden, because
  many non-filers never filed and their amount must come from the registry and third parties.
  For omiso the amount is the mean of a few such regressions (``AmountSpec.members``): one
  regression moved the top of its list by up to 50 % when 1 % of its rows went missing.

Why this target and not a single tweedie regression on assessed amounts: on the development
municipalities the product ranked more of the true gap into the top 100 (recovery@100 0.92 vs
0.87 inexacto, 0.91 vs 0.85 omiso), at some cost in precision (see docs/models.md, model notes).
Ranking by money rather than probability sends scarce audits where the money is (Black et al.,
FAccT 2022).
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import lightgbm as lgb
import numpy as np
import polars as pl

from fiscal_intel.scoring.programs import PROGRAMS
from fiscal_intel.scoring.spec import AmountSpec

__all__ = ["AmountSpec", "ProgramModel", "predict", "train"]

# A return not filed a few weeks after its deadline is most often a late one, not an omission:
# every year some regular filers file months late. Closed omiso audits cannot teach this (by
# the time a year's omisos are audited its late filers have filed), so for the one year whose
# filing window is still open (``late_filing_open``: the deadline passed less than a year ago)
# P(tax due) = q + (1 - q) * p, where p is the audit-trained probability that a non-filer was
# operating and q the probability that the return is simply late. q is learnt from the data
# itself: every earlier (NIT, year) that had no return as long after its deadline as the open
# year has now, labelled by whether a return came later (``filed``). What only later years can
# show (returns for later years) is hidden on those rows, as it is for the open year. Measured
# on development seeds 42 and 1-5 (precision@100 / recovery@100, whole pipeline): omiso
# 0.968 / 0.901 without, 0.970 / 0.928 with it; the open year holds 60-80 % of the best top
# 100's gap, and before this its operating non-filers got a median probability of 0.2-0.3
# where 85 % of them owed tax.
# Programs with this part declare what to hide on the past rows (``ProgramSpec.late_filing_blind``).
# At most this many past (NIT, year) rows teach q (``hash_sample``), with one classifier: tens of
# thousands of labels that need no audit rank as steadily alone as three half-feature models do
# on a few hundred (development seeds 42, 1-5, omiso precision / recovery@100: 0.977 / 0.936
# with three, 0.978 / 0.937 with one); a 15,000-taxpayer municipality has ~16,000 such rows,
# and more only cost training time at national scale (at 100,000 taxpayers three members on
# 60,000 rows took 2.6 s of the omiso training's 4.4 s, run twice with the backtest).
LATE_FILING_MAX_ROWS = 30_000
LATE_FILING_MEMBERS = 1

# Classifiers averaged per program, each on a random half of the features (fixed seeds). Five
# or seven ranked no better on the development seeds (precision@100 0.917 / 0.947 with five).
CLASSIFIERS = 3

# Fewer adjusted cases than this and the amount model is a median: a regression on a handful of
# amounts would rank by noise.
MIN_AMOUNT_ROWS = 30
# Fewer closed audits than this, or only one outcome, and the probability is the hit rate.
MIN_TRAIN_ROWS = 20


@dataclass
class ProgramModel:
    program: str
    features: list[str]
    classifiers: list[lgb.Booster]
    amount_models: list[lgb.Booster]
    amount: AmountSpec
    base_rate: float
    # Median of log(target / base), or of log(target) without a base: the fallback amount.
    median_log_amount: float
    train_rows: int
    positives: int
    random_rows: int
    random_positives: int
    amount_rows: int
    trained_from: object = None  # first and last closing date of the audits learnt from
    trained_to: object = None
    params: dict = field(default_factory=dict)
    # P(the return is simply late) for cases whose filing window is still open (omiso only;
    # see ProgramSpec.late_filing); empty: no such adjustment.
    late_classifiers: list[lgb.Booster] = field(default_factory=list)
    late_rows: int = 0
    # A content hash of the boosters and settings (``model_version``): the same data and
    # settings give the same version; a model loaded from scoring.risk_models keeps its own.
    version: str = ""

    def __post_init__(self) -> None:
        if not self.version:
            h = hashlib.sha256(self.program.encode())
            for booster in [*self.classifiers, *self.amount_models, *self.late_classifiers]:
                h.update(booster.model_to_string().encode())
            h.update(b"-" * (not self.amount_models))
            h.update(
                f"{self.base_rate:.12g}/{self.median_log_amount:.12g}/{self.amount}".encode()
            )
            if "evidence_hit_rate" in self.params:
                h.update(
                    f"/{self.params['evidence_hit_rate']:.12g}"
                    f"/{self.params['evidence_amount_ratio']:.12g}".encode()
                )
            if "corroboration_multiple" in self.params:
                h.update(f"/{self.params['corroboration_multiple']:.12g}".encode())
            self.version = h.hexdigest()[:12]

    def importance(self) -> dict[str, float]:
        """Share of the classifiers' total split gain per feature (what the ranking leans on)."""
        if not self.classifiers:
            return {}
        gain = sum(c.feature_importance(importance_type="gain") for c in self.classifiers)
        total = float(gain.sum()) or 1.0
        return {f: round(float(g) / total, 6) for f, g in zip(self.features, gain, strict=True)}


def matrix(frame: pl.DataFrame, features: list[str]) -> np.ndarray:
    """Features as a C-ordered float32 matrix; NULL becomes NaN, which LightGBM treats as
    missing. float32 is what LightGBM bins and predicts on anyway: half the memory of float64
    and no copy inside LightGBM."""
    x = frame.select([pl.col(f).cast(pl.Float32, strict=False) for f in features]).to_numpy()
    return np.ascontiguousarray(x, dtype=np.float32)


# Below this many training rows a model trains on one thread (num_threads applies above it): on
# a 15,000-taxpayer municipality two threads saved under a second when the machine was idle, and
# made training 3 to 10 times slower when it was busy (OpenMP threads spin-waiting for a core).
MIN_ROWS_PER_THREAD = 250_000


# Learning rate × boosting rounds: fewer rounds take bigger steps, so the rounds setting trades
# time for smoothness without changing how far the boosting goes. On development seeds 42, 11,
# 12 and 13, 100 rounds at 0.15 ranked as 300 at 0.05 did (precision@100 0.920 / 0.950, recovery
# 0.925 / 0.874 inexacto / omiso, against 0.922 / 0.953 and 0.927 / 0.873) at a third of the
# training and prediction time.
SHRINKAGE = 15.0


def lgb_params(seed: int, threads: int, objective: str, rows: int, rounds: int) -> dict:
    return {
        "objective": objective,
        "learning_rate": min(0.3, SHRINKAGE / rounds),
        "num_leaves": 15,
        "min_data_in_leaf": max(5, min(40, rows // 40)),
        "feature_fraction": 0.9,
        "lambda_l2": 1.0,
        "verbose": -1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": threads if rows >= MIN_ROWS_PER_THREAD else 1,
    }


# Bases below this many pesos are floored: a ratio to a near-zero base is noise.
MIN_BASE = 100_000.0


def amount_base(frame: pl.DataFrame, spec: AmountSpec) -> np.ndarray:
    if spec.base is None:
        return np.ones(frame.height)
    base = frame[spec.base].cast(pl.Float64).fill_null(0.0).to_numpy()
    return np.maximum(base, MIN_BASE)


def blinded(frame: pl.DataFrame, blind: tuple[tuple[str, float | None], ...]) -> pl.DataFrame:
    return frame.with_columns(
        [pl.lit(value).cast(frame.schema[name]).alias(name) for name, value in blind]
    )


def fit_members(
    x: np.ndarray,
    y: np.ndarray,
    features: list[str],
    member_params: list[dict],
    rounds: int,
    threads: int,
    weight: np.ndarray | None = None,
) -> list[lgb.Booster]:
    """One booster per parameter set, all on the same rows (``weight``: per row, or None).
    Members that each train on one thread (small data, see MIN_ROWS_PER_THREAD) train side by
    side on up to ``threads`` cores: each booster is the same as trained alone (deterministic,
    one thread), only sooner. The
    rows are binned with the first member's parameters, as ``lgb.train`` bins them; side by
    side, each member bins its own copy (identical bins), so no LightGBM object is shared
    between threads."""

    def dataset() -> lgb.Dataset:
        return lgb.Dataset(
            x,
            label=y,
            weight=weight,
            feature_name=features,
            params=dict(member_params[0]),
            free_raw_data=False,
        )

    workers = min(threads, len(member_params))
    if workers < 2 or any(p["num_threads"] != 1 for p in member_params):
        data = dataset()
        return [lgb.train(p, data, num_boost_round=rounds) for p in member_params]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: lgb.train(p, dataset(), num_boost_round=rounds),
                             member_params))


def train_classifiers(
    program: str,
    training: pl.DataFrame,
    *,
    seed: int,
    threads: int,
    rounds: int,
    label: str | None = None,
    members: int = CLASSIFIERS,
    weight: np.ndarray | None = None,
    features: list[str] | None = None,
    extra_trees: bool = False,
) -> list[lgb.Booster]:
    """The program's classifiers on ``training`` (sorted, ``label`` present): closed audits,
    or for the late-filing probability, past years' rows labelled by ``filed``. Several
    ``members`` each see half the features (a few hundred labels rank steadier averaged); one
    member sees them all. ``weight``: per training row (the selection correction), or None.
    ``features``: the model's columns when not the program's own (the department's pooled
    model adds municipality-level ones). ``extra_trees``: the members split at random
    thresholds (``ProgramSpec.extra_trees``); LightGBM draws them from the member's seed, so
    the same audits give the same members."""
    spec = PROGRAMS[program]
    features = features or spec.feature_list
    y = training[label or spec.labels.adjusted].cast(pl.Int8).to_numpy()
    if len(y) < MIN_TRAIN_ROWS or not 0 < y.sum() < len(y):
        return []
    monotone = spec.monotone
    member_params = []
    for i in range(members):
        params = lgb_params(seed + i, threads, "binary", len(y), rounds)
        params["feature_fraction"] = 0.5 if members > 1 else 0.9
        if extra_trees:
            params["extra_trees"] = True
        if monotone:
            params["monotone_constraints"] = [monotone.get(f, 0) for f in features]
        amount_only = spec.amount_only
        if amount_only:
            # zero split gain: the classifier never splits on them, columns stay aligned
            params["feature_contri"] = [0.0 if f in amount_only else 1.0 for f in features]
        member_params.append(params)
    return fit_members(
        matrix(training, features), y, features, member_params, rounds, threads, weight
    )

# The selection correction (issue #20): staff audit the cases they think richest, so the closed
# audits over-represent the large filers and the model learns little about the rest. Each
# closed audit is weighted by the inverse of its probability of being audited (inverse
# propensity weighting): P(audited | x) = rho + pi(x), where rho is the random audits' share
# of the population (an unbiased draw, the same for every case) and pi(x) the probability that
# staff picked a case like it, learnt from the population of the audited tax years. The random
# audits are what bound the weights: no case has P(audited) below rho. False: every audit
# weighs the same (the benchmark's "without" row).
SELECTION_CORRECTION = True
# At most this many population rows teach pi(x) (``hash_sample``; a 15,000-taxpayer
# municipality holds ~10,000 omiso and ~40,000 inexacto rows in its audited years).
POPULATION_MAX_ROWS = 60_000
# No audit weighs more than this many times the average one: a handful of rare picks must not
# carry the model (the usual trimming of inverse-propensity weights).
MAX_SELECTION_WEIGHT = 10.0
# Rounds and leaves of the propensity model: it estimates a smooth tendency of staff, not a
# ranking; few rounds keep it from memorising which rows were picked.
PROPENSITY_ROUNDS = 40
SELECTION_POWER = 0.5


def selection_weights(
    program: str,
    audits: pl.DataFrame,
    population: pl.DataFrame | None,
    population_size: int,
    *,
    seed: int,
) -> tuple[np.ndarray | None, dict[str, float | int]]:
    """Inverse-propensity weights for the closed ``audits`` (see ``SELECTION_CORRECTION``),
    mean 1, and what they were built from; None without random audits or a population.

    pi(x) is learnt by two models, each on half of the population (halves by ``sample_key``)
    and each predicting the audits of the other half (cross-fitting): a model scoring the rows
    it learnt from would call every picked row certain to be picked, and weigh them all alike."""
    spec = PROGRAMS[program]
    labels = spec.labels
    is_random = (audits[labels.selection] == "random").fill_null(False).to_numpy()
    n_random = int(is_random.sum())
    if (
        not SELECTION_CORRECTION
        or not spec.selection_correction
        or population is None
        or population_size == 0
        or n_random == 0
        or audits.height == 0
    ):
        return None, {}
    rho = min(1.0, n_random / population_size)
    features = spec.feature_list
    picked = population["risk_pick"].cast(pl.Int8).to_numpy()
    half = np.array(
        [sample_key(n, y) % 2 for n, y in zip(population["nit"], population["tax_year"],
                                             strict=True)]
    )
    audit_half = np.array(
        [sample_key(n, y) % 2 for n, y in zip(audits["nit"], audits["tax_year"], strict=True)]
    )
    x_pop, x_audits = matrix(population, features), matrix(audits, features)
    pi = np.full(audits.height, float(picked.mean()))
    for h in (0, 1):
        learn = half != h
        y = picked[learn]
        if y.sum() < MIN_TRAIN_ROWS or y.sum() == len(y):
            continue
        params = lgb_params(seed + 17 + h, 1, "binary", int(learn.sum()), PROPENSITY_ROUNDS)
        params.update(num_leaves=7, min_data_in_leaf=max(20, int(learn.sum()) // 200))
        booster = lgb.train(
            params,
            lgb.Dataset(x_pop[learn], label=y, feature_name=features),
            num_boost_round=PROPENSITY_ROUNDS,
        )
        rows = audit_half == h
        if rows.any():
            pi[rows] = booster.predict(x_audits[rows])
    weight = (1.0 / (rho + (1.0 - rho) * pi)) ** SELECTION_POWER
    for _ in range(3):  # trim, then bring the mean back to 1
        weight = np.minimum(weight / weight.mean(), MAX_SELECTION_WEIGHT)
    weight = weight / weight.mean()
    effective = float(weight.sum() ** 2 / (weight**2).sum())
    return weight, {
        "selection_random_share": round(rho, 6),
        "selection_population": population_size,
        "selection_max_weight": round(float(weight.max()), 4),
        "selection_random_weight": round(float(weight[is_random].mean()), 4),
        "selection_effective_audits": round(effective, 1),
    }


# A row's place in a sample: the first 32 bits of md5("<nit>/<tax_year>"). A sample is the rows
# with the smallest keys (a bottom-k sample): losing a row outside it changes nothing, losing one
# inside it lets exactly the next row in, so a quarantined line or a late correction never
# reshuffles the sample; the bottom k of a bottom-K sample (K >= k) is the bottom k of the whole,
# so sampling twice is sampling once; and DuckDB computes the same keys
# (``scoring.SAMPLE_KEY_SQL``), so the warehouse samples before anything leaves it.
def sample_key(nit: str, tax_year: int) -> int:
    """The row's position in the sampling order (see ``hash_sample``)."""
    return int(hashlib.md5(f"{nit}/{tax_year}".encode()).hexdigest()[:8], 16)


def hash_sample(frame: pl.DataFrame, max_rows: int | None) -> pl.DataFrame:
    """The ``max_rows`` rows of ``frame`` with the smallest ``sample_key`` (ties by NIT and
    year), in the frame's order: deterministic, spread over every NIT and year, and stable."""
    if max_rows is None or frame.height <= max_rows:
        return frame
    keys = pl.Series(
        "_key",
        [sample_key(n, y) for n, y in zip(frame["nit"], frame["tax_year"], strict=True)],
        dtype=pl.Int64,
    )
    ranked = frame.select("nit", "tax_year").with_columns(keys).with_row_index("_i")
    kept = ranked.sort(["_key", "nit", "tax_year"]).head(max_rows)["_i"].sort()
    return frame[kept]


# The amount model of a call that names none: assessed amounts of the adjusted audits.
_AUDIT_AMOUNT = AmountSpec()



def fit_amount(
    source: pl.DataFrame,
    amount: AmountSpec,
    features: list[str],
    *,
    seed: int,
    threads: int,
    rounds: int,
) -> tuple[pl.DataFrame, list[lgb.Booster], float]:
    """The amount model on ``source`` (rows with a positive target): its blinded copies added,
    ``amount.members`` regressions of log(target / base) when there are enough rows, and the
    median of that log (the fallback amount). Returns the rows it learnt from, the members and
    the median. One fit for a municipality's model and for the department's pooled one."""
    if amount.blind:
        source = pl.concat([source, blinded(source, amount.blind)])
    target = source[amount.target].cast(pl.Float64).to_numpy()
    log_target = np.log(target / amount_base(source, amount))
    median_log_amount = float(np.median(log_target)) if len(log_target) else 0.0
    members: list[lgb.Booster] = []
    if source.height >= MIN_AMOUNT_ROWS:
        members = fit_members(
            matrix(source, features),
            log_target,
            features,
            [
                lgb_params(seed + i, threads, "regression", source.height, rounds)
                for i in range(amount.members)
            ],
            rounds,
            threads,
        )
    return source, members, median_log_amount

def train(
    program: str,
    training: pl.DataFrame,
    *,
    seed: int,
    threads: int,
    rounds: int,
    amount: AmountSpec = _AUDIT_AMOUNT,
    all_rows: pl.DataFrame | None = None,
    late_rows: pl.DataFrame | None = None,
    population: pl.DataFrame | None = None,
    population_size: int = 0,
) -> ProgramModel:
    """Fit the program's classifiers on closed audits and its amount model as ``amount`` says
    (``all_rows``: the rows an ``amount.rows == "all"`` model learns from; only those with a
    positive target are used, ``amount.max_rows`` of them at most), and for programs with a
    late-filing part (``ProgramSpec.late_filing``) the late-filing classifiers on ``late_rows``
    (past years' rows still without a return at the open year's age, with ``filed``).
    ``population`` (with ``risk_pick``) and ``population_size``: the rows staff picked the
    audits from, for the selection correction (``selection_weights``)."""
    spec = PROGRAMS[program]
    features = spec.feature_list
    training = training.sort(["nit", "tax_year"])  # row order must not depend on the scan
    labels = spec.labels
    y = training[labels.adjusted].cast(pl.Int8).to_numpy()
    is_random = (training[labels.selection] == "random").to_numpy()
    base_rate = float(y.mean()) if len(y) else 0.0
    weight, selection = selection_weights(
        program, training, population, population_size, seed=seed
    )
    classifiers = train_classifiers(
        program, training, seed=seed, threads=threads, rounds=rounds, weight=weight,
        extra_trees=spec.extra_trees,
    )  # fmt: skip

    source = training.filter(pl.col(labels.adjusted)) if amount.rows == "audits" else all_rows
    if source is None:
        raise ValueError(f"{program}: amount rows '{amount.rows}' need all_rows")
    source = source.filter(pl.col(amount.target) > 0).sort(["nit", "tax_year"])
    source = hash_sample(source, amount.max_rows)
    corroboration = (
        {"corroboration_multiple": learnt_corroboration_multiple(program, source)}
        if spec.corroboration_quantile is not None
        else {}
    )
    source, amount_models, median_log_amount = fit_amount(
        source, amount, features, seed=seed, threads=threads, rounds=rounds
    )

    late_classifiers: list[lgb.Booster] = []
    late_count = 0
    if spec.late_filing_blind is not None and late_rows is not None:
        late = blinded(hash_sample(late_rows.sort(["nit", "tax_year"]), LATE_FILING_MAX_ROWS),
                        spec.late_filing_blind)
        late_count = late.height
        late_classifiers = train_classifiers(
            program, late, seed=seed, threads=threads, rounds=rounds, label="filed",
            members=LATE_FILING_MEMBERS,
        )

    closed = training[labels.closed_on]
    evidence = {}
    if spec.evidence is not None and spec.evidence in training.columns:
        evidence = evidence_hit_rate(
            training[spec.evidence].to_numpy(),
            y,
            is_random,
            training[labels.amount].cast(pl.Float64).to_numpy(),
        )
    return ProgramModel(
        program=program,
        features=features,
        classifiers=classifiers,
        amount_models=amount_models,
        amount=amount,
        base_rate=base_rate,
        median_log_amount=median_log_amount,
        train_rows=len(y),
        positives=int(y.sum()),
        random_rows=int(is_random.sum()),
        random_positives=int(y[is_random].sum()),
        amount_rows=source.height,
        trained_from=closed.min() if len(y) else None,
        trained_to=closed.max() if len(y) else None,
        params={
            "rounds": rounds,
            "seed": seed,
            "classifiers": len(classifiers),
            "amount_models": len(amount_models),
            **evidence,
            **selection,
            **corroboration,
        },
        late_classifiers=late_classifiers,
        late_rows=late_count,
    )


def witness_tax(frame: pl.DataFrame, names: list[str] | tuple[str, ...]) -> np.ndarray:
    """Per row, the largest tax that the witnesses ``names`` (columns of ``frame``; those
    missing are skipped) imply; 0 where none saw anything."""
    names = [c for c in names if c in frame.columns]
    if not names:
        return np.zeros(frame.height)
    return frame.select(
        pl.max_horizontal(
            [pl.col(c).cast(pl.Float64).fill_nan(None).fill_null(0.0) for c in names]
        )
    ).to_series().to_numpy()


# Fewer amount rows that a witness saw than this and the spec's own corroboration_multiple
# stands: a quantile of a few dozen returns would move with every one of them.
MIN_CORROBORATION_ROWS = 200


def learnt_corroboration_multiple(program: str, rows: pl.DataFrame) -> float:
    """How many times what its current witnesses imply a return of this municipality declares
    at most, as a rule (``ProgramSpec.corroboration_quantile``): that quantile, over the
    ``rows`` (the amount model's: returns with their tax in ``amount.target``) that a witness
    (``ProgramSpec.corroboration``) saw, of the declared tax over the largest tax the witnesses
    imply; rounded to a tenth, never below 1. The spec's ``corroboration_multiple`` when it
    sets no quantile or fewer than ``MIN_CORROBORATION_ROWS`` rows show both."""
    spec = PROGRAMS[program]
    if spec.corroboration_quantile is None or spec.amount.target not in rows.columns:
        return spec.corroboration_multiple
    witness = witness_tax(rows, spec.corroboration)
    declared = rows[spec.amount.target].cast(pl.Float64).fill_null(0.0).to_numpy()
    seen = (witness > 0) & (declared > 0)
    if seen.sum() < MIN_CORROBORATION_ROWS:
        return spec.corroboration_multiple
    ratio = np.quantile(declared[seen] / witness[seen], spec.corroboration_quantile)
    return round(max(float(ratio), 1.0), 1)


# A random audit counts this many times a staff-picked one when the evidence's hit rate is
# learnt: it is an unbiased draw, staff's picks are aimed at the largest filers. Since round 3
# of #20 staff picks count 0 (STAFF_PICK_WEIGHT): on llanura seed 9602 the only audit showing
# the contractor evidence was one staff pick that found nothing, the rate fell from the even
# bet to 1/3, every contractor was ranked at a third and omiso recovery@100 fell to 0.81
# (0.89 at the even bet; the contractors of every municipality here all owed).
RANDOM_AUDIT_WEIGHT = 5.0
# How much a staff-picked audit showing the evidence counts towards its hit rate (a random one
# counts RANDOM_AUDIT_WEIGHT): none. The rate is the chance that the evidence alone pays off on
# an open case, and a staff pick was chosen on other grounds, so it says how the evidence fared
# on the cases staff chose, not on those the rule ranks; with two pseudo-audits of prior, a
# single one moved every case ranked on the evidence by a sixth of its probability.
STAFF_PICK_WEIGHT = 0.0
# Fewer adjusted audits showing the evidence than this and its tax is taken at face value.
MIN_EVIDENCE_AMOUNTS = 5


def evidence_hit_rate(
    evidence: np.ndarray, adjusted: np.ndarray, is_random: np.ndarray, amount: np.ndarray
) -> dict[str, float | int]:
    """How far the label-free evidence (``ProgramSpec.evidence`` > 0) can be trusted, from the
    closed audits that show it: its hit rate (random audits weighted ``RANDOM_AUDIT_WEIGHT``,
    staff picks ``STAFF_PICK_WEIGHT``, Laplace-smoothed: with no random audit showing it, an
    even bet) and the median assessed amount per peso of evidence tax on the adjusted ones,
    staff picks included (1 below ``MIN_EVIDENCE_AMOUNTS``): how much a finding is worth does
    not depend on why the case was picked."""
    tax = np.nan_to_num(np.asarray(evidence, dtype=np.float64))
    has = tax > 0
    rand = np.asarray(is_random, dtype=bool)
    hit = np.asarray(adjusted, dtype=bool)
    weight = np.where(rand, RANDOM_AUDIT_WEIGHT, STAFF_PICK_WEIGHT)
    shown = float((weight * has).sum())
    hits = float((weight * (has & hit)).sum())
    paid = has & hit
    ratio = 1.0
    if paid.sum() >= MIN_EVIDENCE_AMOUNTS:
        ratio = float(np.clip(np.median(np.nan_to_num(amount[paid]) / tax[paid]), 0.05, 1.0))
    return {
        "evidence_hit_rate": round((hits + 1) / (shown + 2), 6),
        "evidence_amount_ratio": round(ratio, 6),
        "evidence_audits": int(has.sum()),
        "evidence_random_audits": int((has & rand).sum()),
        "evidence_random_hits": int((has & rand & hit).sum()),
    }


# Below this many rows a prediction runs on one thread: OpenMP start-up costs more than it saves.
MIN_ROWS_PER_PREDICT_THREAD = 20_000


def _predict(booster: lgb.Booster, x: np.ndarray, threads: int, **kwargs: object) -> np.ndarray:
    return booster.predict(
        x, num_threads=threads if len(x) >= MIN_ROWS_PER_PREDICT_THREAD else 1, **kwargs
    )


def _mean_prediction(
    boosters: list[lgb.Booster], x: np.ndarray, threads: int
) -> np.ndarray:
    p = np.zeros(len(x))
    for c in boosters:
        p += _predict(c, x, threads)
    return p / len(boosters)


def late_filing_probability(
    model: ProgramModel, frame: pl.DataFrame, *, threads: int = 1, x: np.ndarray | None = None
) -> np.ndarray | None:
    """P(the return is simply late), per row of ``frame`` whose filing window is still open
    (``late_filing_open``), 0 for the others; None when the model has no late-filing part."""
    if not model.late_classifiers or "late_filing_open" not in frame.columns:
        return None
    is_open = frame["late_filing_open"].fill_null(False).to_numpy()
    q = np.zeros(frame.height)
    if is_open.any():
        rows = x[is_open] if x is not None else matrix(frame.filter(pl.Series(is_open)),
                                                       model.features)
        q[is_open] = _mean_prediction(model.late_classifiers, rows, threads)
    return q


def predict_probability(
    model: ProgramModel, frame: pl.DataFrame, *, threads: int = 1, x: np.ndarray | None = None
) -> np.ndarray:
    """P(an audit of the case finds tax due), per row of ``frame``: the audit-trained
    probability p, and where the filing window is still open q + (1 - q) * p (see
    ProgramSpec.late_filing)."""
    x = matrix(frame, model.features) if x is None else x
    if not model.classifiers:
        p = np.full(frame.height, model.base_rate)
    else:
        p = _mean_prediction(model.classifiers, x, threads)
    q = late_filing_probability(model, frame, threads=threads, x=x)
    return p if q is None else q + (1.0 - q) * p


def predict(
    model: ProgramModel, frame: pl.DataFrame, *, threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Probability of a finding and predicted amount if found, per row of ``frame``."""
    x = matrix(frame, model.features)
    p = predict_probability(model, frame, threads=threads, x=x)
    if model.amount_models:
        log_amount = _mean_prediction(model.amount_models, x, threads)
    else:
        log_amount = np.full(frame.height, model.median_log_amount)
    amount = np.exp(log_amount) * amount_base(frame, model.amount)
    return np.asarray(p, dtype=np.float64), np.asarray(amount, dtype=np.float64)


def contributions(model: ProgramModel, frame: pl.DataFrame) -> np.ndarray:
    """Per-feature contributions (log-odds, averaged over the classifiers); last column: bias."""
    x = matrix(frame, model.features)
    if not model.classifiers or len(x) == 0:
        return np.zeros((len(x), len(model.features) + 1))
    return np.mean([c.predict(x, pred_contrib=True) for c in model.classifiers], axis=0)


def model_record(model: ProgramModel, as_of: object) -> dict:
    """A row for ``scoring.risk_models``: enough to know what ranked a list, and to reload it."""
    return {
        "program": model.program,
        "model_version": model.version,
        "as_of": as_of,
        "train_rows": model.train_rows,
        "positives": model.positives,
        "random_rows": model.random_rows,
        "random_positives": model.random_positives,
        "trained_from": model.trained_from,
        "trained_to": model.trained_to,
        "amount_rows": model.amount_rows,
        "amount_source": (
            f"{model.amount.target} of "
            + ("adjusted audits" if model.amount.rows == "audits" else "every row with one")
            + (f", divided by {model.amount.base}" if model.amount.base else "")
            + (f", mean of {len(model.amount_models)} regressions"
               if len(model.amount_models) > 1 else "")
        ),
        "base_rate": model.base_rate,
        "median_amount": float(np.exp(model.median_log_amount)),
        "features": json.dumps(model.features),
        "importance": json.dumps(model.importance()),
        # the classifiers as a JSON list of LightGBM model strings
        "classifier": json.dumps([c.model_to_string() for c in model.classifiers]),
        # the amount regressions, a JSON list like "classifier" (NULL: none, the median)
        "amount_model": (
            json.dumps([m.model_to_string() for m in model.amount_models])
            if model.amount_models
            else None
        ),
        "amount_spec": json.dumps(asdict(model.amount)),
        "median_log_amount": model.median_log_amount,
        "params": json.dumps(model.params),
        # the late-filing classifiers (omiso), a JSON list like "classifier"
        "late_filing_classifier": json.dumps([c.model_to_string() for c in model.late_classifiers]),
        "late_filing_rows": model.late_rows,
    }


def _model_strings(stored: str | None) -> list[str]:
    """LightGBM model strings from a stored column: a JSON list, or (models stored before
    the amount became an average) one bare model string."""
    if not stored:
        return []
    return json.loads(stored) if stored.startswith("[") else [stored]


def model_from_record(record: dict) -> ProgramModel:
    """The model a ``scoring.risk_models`` row stores, boosters and all, ready to score.

    Raises ``ValueError`` when the stored model used other features than this code computes
    (the program was upgraded since it was trained): it must be retrained first.
    """
    program = record["program"]
    features = json.loads(record["features"])
    stored_late = record.get("late_filing_classifier")
    spec = PROGRAMS[program]
    if features != spec.feature_list or (spec.late_filing and stored_late is None):
        raise ValueError(
            f"the stored {program} model ({record['model_version']}) was trained on other "
            "features (or parts) than this version computes: retrain it (job "
            "yearly_model_retrain, or `fiscal-intel run`)"
        )
    spec = json.loads(record["amount_spec"])
    spec["blind"] = tuple(tuple(pair) for pair in spec["blind"])
    return ProgramModel(
        program=program,
        features=features,
        classifiers=[lgb.Booster(model_str=m) for m in json.loads(record["classifier"])],
        amount_models=[
            lgb.Booster(model_str=m) for m in _model_strings(record["amount_model"])
        ],
        amount=AmountSpec(**spec),
        base_rate=record["base_rate"],
        median_log_amount=record["median_log_amount"],
        train_rows=record["train_rows"],
        positives=record["positives"],
        random_rows=record["random_rows"],
        random_positives=record["random_positives"],
        amount_rows=record["amount_rows"],
        trained_from=record["trained_from"],
        trained_to=record["trained_to"],
        params=json.loads(record["params"]),
        late_classifiers=[lgb.Booster(model_str=m) for m in json.loads(stored_late or "[]")],
        late_rows=record.get("late_filing_rows") or 0,
        version=record["model_version"],
    )
