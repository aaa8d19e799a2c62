"""Risk models: one per audit program, ranking cases by expected money recovered.

Expected recovery = P(an audit finds tax due) × E[assessed amount | it does]. The probability
comes from a LightGBM classifier on closed audits. The amount comes from a LightGBM regression on
a log scale: for inexacto, on the assessed amounts of adjusted audits (a median when there are
too few); for omiso, on the tax that filers of the same profile declared — an operating
non-filer owes about what a comparable filer pays, and filers are thousands where adjusted omiso
audits are dozens. Ranking by money rather than probability sends scarce audits where the money
is (Black et al., FAccT 2022).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import polars as pl

FEATURES: dict[str, list[str]] = {
    "omiso": [
        "is_juridica",
        "in_rit",
        "rit_active",
        "years_registered",
        "in_rues_local",
        "rues_active",
        "renewal_lag",
        "total_assets",
        "employees",
        "third_party_base",
        "third_party_agents",
        "third_party_periods",
        "prior_filings",
        "years_since_last_filing",
        "last_declared_income",
        "activity_rate",
        "third_party_implied_tax",
    ],
    "inexacto": [
        "is_juridica",
        "gross_income",
        "local_income",
        "third_party_base",
        "third_party_agents",
        "third_party_ratio",
        "third_party_excess",
        "income_vs_peers",
        "peer_percentile",
        "outside_share",
        "outside_share_vs_peers",
        "deductions_share",
        "deductions_share_vs_peers",
        "income_change_yoy",
        "declared_rate",
        "registry_rate",
        "rate_gap",
        "activity_mismatch",
        "total_assets",
        "assets_to_income",
        "employees",
        "income_per_employee",
        "effective_rate",
        "days_late",
        "corrections",
        "paid_share",
        "declared_tax",
    ],
}

# Fewer adjusted cases than this and the amount model is a median: a regression on a handful of
# amounts would rank by noise.
MIN_AMOUNT_ROWS = 30


@dataclass(frozen=True)
class AmountSpec:
    """What the amount model learns from.

    ``rows`` picks its training rows (``"audits"``: adjusted audits; ``"all"``: every row of the
    feature table with a positive target), ``target`` the column it predicts, and ``base`` an
    optional column the target is divided by: learning assessed / potential tax instead of the
    raw amount lets a few dozen audits generalise across firms a thousand times apart in size.
    """

    rows: str = "audits"
    target: str = "label_amount"
    base: str | None = None


@dataclass
class ProgramModel:
    program: str
    features: list[str]
    classifier: lgb.Booster | None
    amount_model: lgb.Booster | None
    amount: AmountSpec
    base_rate: float
    # Median of log(target / base), or of log(target) without a base: the fallback amount.
    median_log_amount: float
    train_rows: int
    positives: int
    random_rows: int
    amount_rows: int
    params: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        """A content hash: the same data and settings give the same version."""
        h = hashlib.sha256(self.program.encode())
        for booster in (self.classifier, self.amount_model):
            h.update(booster.model_to_string().encode() if booster else b"-")
        h.update(f"{self.base_rate:.12g}/{self.median_log_amount:.12g}/{self.amount}".encode())
        return h.hexdigest()[:12]

    def importance(self) -> dict[str, float]:
        if self.classifier is None:
            return {}
        gain = self.classifier.feature_importance(importance_type="gain")
        total = float(gain.sum()) or 1.0
        return {f: round(float(g) / total, 6) for f, g in zip(self.features, gain, strict=True)}


def matrix(frame: pl.DataFrame, features: list[str]) -> np.ndarray:
    """Features as a float matrix; NULL becomes NaN, which LightGBM treats as missing."""
    return (
        frame.select(
            [pl.col(f).cast(pl.Float64, strict=False).fill_nan(None).alias(f) for f in features]
        )
        .to_numpy()
        .astype(np.float64)
    )


def _params(seed: int, threads: int, objective: str, rows: int) -> dict:
    return {
        "objective": objective,
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_data_in_leaf": max(5, min(40, rows // 40)),
        "feature_fraction": 0.9,
        "lambda_l2": 1.0,
        "verbose": -1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": threads,
    }


# Bases below this many pesos are floored: a ratio to a near-zero base is noise.
MIN_BASE = 100_000.0


def _base(frame: pl.DataFrame, spec: AmountSpec) -> np.ndarray:
    if spec.base is None:
        return np.ones(frame.height)
    base = frame[spec.base].cast(pl.Float64).fill_null(0.0).to_numpy()
    return np.maximum(base, MIN_BASE)


def train(
    program: str,
    training: pl.DataFrame,
    *,
    seed: int,
    threads: int,
    rounds: int,
    amount: AmountSpec = AmountSpec(),
    all_rows: pl.DataFrame | None = None,
) -> ProgramModel:
    """Fit the program's classifier on closed audits and its amount model as ``amount`` says."""
    features = FEATURES[program]
    training = training.sort(["nit", "tax_year"])  # row order must not depend on the scan
    y = training["label_adjusted"].cast(pl.Int8).to_numpy()
    random_rows = int((training["audit_selection"] == "random").sum())
    base_rate = float(y.mean()) if len(y) else 0.0

    classifier = None
    if len(y) >= 20 and 0 < y.sum() < len(y):
        params = _params(seed, threads, "binary", len(y))
        data = lgb.Dataset(
            matrix(training, features), label=y, feature_name=features, free_raw_data=False
        )
        classifier = lgb.train(params, data, num_boost_round=rounds)

    source = training.filter(pl.col("label_adjusted")) if amount.rows == "audits" else all_rows
    if source is None:
        raise ValueError(f"{program}: amount rows '{amount.rows}' need all_rows")
    source = source.filter(pl.col(amount.target) > 0).sort(["nit", "tax_year"])
    log_target = np.log(source[amount.target].cast(pl.Float64).to_numpy() / _base(source, amount))
    median_log_amount = float(np.median(log_target)) if len(log_target) else 0.0
    amount_model = None
    if source.height >= MIN_AMOUNT_ROWS:
        params = _params(seed, threads, "regression", source.height)
        data = lgb.Dataset(
            matrix(source, features), label=log_target, feature_name=features, free_raw_data=False
        )
        amount_model = lgb.train(params, data, num_boost_round=rounds)

    return ProgramModel(
        program=program,
        features=features,
        classifier=classifier,
        amount_model=amount_model,
        amount=amount,
        base_rate=base_rate,
        median_log_amount=median_log_amount,
        train_rows=len(y),
        positives=int(y.sum()),
        random_rows=random_rows,
        amount_rows=source.height,
        params={"rounds": rounds, "seed": seed},
    )


def predict(model: ProgramModel, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Probability of a finding and predicted amount if found, per row of ``frame``."""
    x = matrix(frame, model.features)
    if model.classifier is not None:
        p = model.classifier.predict(x)
    else:
        p = np.full(len(x), model.base_rate)
    if model.amount_model is not None:
        log_amount = model.amount_model.predict(x)
    else:
        log_amount = np.full(len(x), model.median_log_amount)
    amount = np.exp(log_amount) * _base(frame, model.amount)
    return np.asarray(p, dtype=np.float64), np.asarray(amount, dtype=np.float64)


def contributions(model: ProgramModel, frame: pl.DataFrame) -> np.ndarray:
    """Per-feature contributions (log-odds) of the classifier; the last column is the bias."""
    x = matrix(frame, model.features)
    if model.classifier is None or len(x) == 0:
        return np.zeros((len(x), len(model.features) + 1))
    return np.asarray(model.classifier.predict(x, pred_contrib=True))


def model_record(model: ProgramModel, as_of: object) -> dict:
    """A row for ``scoring.risk_models``: enough to know what ranked a list, and to reload it."""
    return {
        "program": model.program,
        "model_version": model.version,
        "as_of": as_of,
        "train_rows": model.train_rows,
        "positives": model.positives,
        "random_rows": model.random_rows,
        "base_rate": model.base_rate,
        "median_amount": float(np.exp(model.median_log_amount)),
        "features": json.dumps(model.features),
        "importance": json.dumps(model.importance()),
        "classifier": model.classifier.model_to_string() if model.classifier else None,
        "amount_model": model.amount_model.model_to_string() if model.amount_model else None,
    }
