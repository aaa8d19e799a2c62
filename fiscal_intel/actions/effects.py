"""The campaign effect estimator, in Python: the same arithmetic ``marts.campaign_effects``
does in SQL (difference of the arm means, 95 % interval from the unequal-variance standard
error with each arm's variance at least the pooled one, intention to treat), so tests and
benchmarks can run it on thousands of simulated assignment and outcome frames without a
pipeline run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.96


@dataclass(frozen=True)
class Effect:
    treatment_mean: float
    control_mean: float
    diff: float
    low: float
    high: float

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


def itt_effect(outcome: np.ndarray, treated: np.ndarray) -> Effect:
    """Difference in means of ``outcome`` between the arms as drawn (``treated`` boolean)."""
    y = np.asarray(outcome, dtype=np.float64)
    t = np.asarray(treated, dtype=bool)
    yt, yc = y[t], y[~t]
    if len(yt) < 1 or len(yc) < 1:
        raise ValueError("both arms need at least one case")
    # Each arm's variance is at least the pooled one: a rare outcome no control case happened
    # to show (variance 0) must not make the interval falsely narrow.
    vp = y.var(ddof=1) if len(y) > 1 else 0.0
    vt = max(yt.var(ddof=1) if len(yt) > 1 else 0.0, vp)
    vc = max(yc.var(ddof=1) if len(yc) > 1 else 0.0, vp)
    diff = float(yt.mean() - yc.mean())
    se = float(np.sqrt(vt / len(yt) + vc / len(yc)))
    return Effect(float(yt.mean()), float(yc.mean()), diff, diff - Z95 * se, diff + Z95 * se)
