"""The probability changes of benchmarks/targeting_inexacto_base_rate.py (issue #20, round 4):
they touch only never-audited cases and do what docs/targeting.md says they do."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def base_rate():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import targeting_inexacto_base_rate

    return targeting_inexacto_base_rate


def test_odds_times_doubles_the_odds_of_never_audited_cases_only(base_rate) -> None:
    p = np.array([0.5, 0.2, 0.5, 0.0])
    never = np.array([True, True, False, True])
    out = base_rate.odds_times(2.0)(p.copy(), never, np.zeros(4), np.array(["x"] * 4))
    assert out == pytest.approx([2 / 3, 0.4 / 1.2, 0.5, 0.0])


def test_by_bins_puts_never_audited_cases_at_their_bins_findable_rate(base_rate) -> None:
    rng = np.random.default_rng(0)
    n = 400
    p = rng.uniform(0, 0.3, n)
    never = np.arange(n) % 4 != 0
    owes = (rng.random(n) < 2 * p).astype(float)
    out = base_rate.by_bins(p.copy(), never, owes, np.array(["x"] * n))
    assert np.array_equal(out[~never], p[~never])
    # 20 bins of the never-audited probabilities, each at 0.9 x its cases' true rate
    q = np.quantile(p[never], np.linspace(0, 1, 21))
    b = np.clip(np.searchsorted(q, p, side="right") - 1, 0, 19)
    for i in range(20):
        sel = never & (b == i)
        assert out[sel] == pytest.approx(np.full(sel.sum(), 0.9 * owes[sel].mean()))
    # the truth here is twice the model: calibrating raises the never-audited cases on average
    assert out[never].mean() > p[never].mean()


def test_by_cells_rescales_each_cell_and_keeps_its_order(base_rate) -> None:
    p = np.array([0.1, 0.2, 0.05, 0.3, 0.4])
    never = np.array([True, True, True, True, False])
    owes = np.array([1.0, 0.0, 0.0, 0.0, 1.0])
    cell = np.array(["a", "a", "b", "b", "a"])
    out = base_rate.by_cells(p.copy(), never, owes, cell)
    assert out[4] == 0.4  # audited before: unchanged
    # cell a owes at 0.5, findable 0.45: its mean 0.15 scaled by 3, the order kept
    assert out[:2] == pytest.approx([0.3, 0.6])
    assert out[2:4] == pytest.approx([0.0, 0.0])  # cell b owes nothing
