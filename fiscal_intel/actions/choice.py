"""The action for every open case: the one with the best expected net yield the office can
still afford this year.

Each action brings in a share of the money an audit would (``expected_recovery``): 1 for a field
audit (fiscalización), a yield for a request (requerimiento, inexacto), a demand to file
(emplazamiento, omiso) and a letter (carta). Yields are the office's measured campaign effects
where it has them, else the priors in the settings. A probable late filer (the omiso model's
late-filing probability ``q``) settles with a demand to file as well as with an audit, so its
demand yields ``y + (1 - y) q``: an audit is the wrong tool for it.

Capacity goes to the scarcest, dearest action first: the ``audits`` cases where an audit beats
the best cheaper action by most, then the ``requests`` cases (requests and demands share the
inspectors' hours) where a request or demand beats a letter by most; every other case gets a
letter (letters are cheap and campaigns choose among them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

ACTIONS = ("fiscalizacion", "requerimiento", "emplazamiento", "carta")
# The request-type action of each program: a demand to file for a non-filer (ET art. 715), a
# request for information or explanation for a filer (ET arts. 684 and 686).
REQUEST = {"omiso": "emplazamiento", "inexacto": "requerimiento"}


@dataclass(frozen=True)
class Capacities:
    """What the office can do in a year and what one action costs (COP)."""

    audits: int
    requests: int
    audit_cost: float
    request_cost: float
    letter_cost: float

    @classmethod
    def from_settings(cls, s: object) -> Capacities:
        hour = float(s.inspector_hour_cost)  # type: ignore[attr-defined]
        return cls(
            audits=int(s.audits_per_year),  # type: ignore[attr-defined]
            requests=int(s.requests_per_year),  # type: ignore[attr-defined]
            audit_cost=float(s.hours_per_audit) * hour,  # type: ignore[attr-defined]
            request_cost=float(s.hours_per_request) * hour,  # type: ignore[attr-defined]
            letter_cost=float(s.letter_cost),  # type: ignore[attr-defined]
        )

    def cost(self, action: str) -> float:
        return {
            "fiscalizacion": self.audit_cost,
            "requerimiento": self.request_cost,
            "emplazamiento": self.request_cost,
            "carta": self.letter_cost,
        }[action]


def prior_yields(s: object) -> dict[tuple[str, str], float]:
    """The priors of the settings, per (program, action)."""
    return {
        ("omiso", "emplazamiento"): float(s.prior_yield_emplazamiento),  # type: ignore[attr-defined]
        ("inexacto", "requerimiento"): float(s.prior_yield_requerimiento),  # type: ignore[attr-defined]
        ("omiso", "carta"): float(s.prior_yield_carta),  # type: ignore[attr-defined]
        ("inexacto", "carta"): float(s.prior_yield_carta),  # type: ignore[attr-defined]
    }


def choose_actions(
    cases: pl.DataFrame, yields: dict[tuple[str, str], float], cap: Capacities
) -> pl.DataFrame:
    """``cases`` (program, nit, tax_year, expected_recovery, optional late_probability) with
    ``action``, ``expected_money`` and ``expected_net`` (money minus the action's cost)."""
    n = cases.height
    if n == 0:
        return cases.with_columns(
            action=pl.lit(None, pl.Utf8), expected_money=pl.lit(None, pl.Float64),
            expected_net=pl.lit(None, pl.Float64),
        )
    program = cases["program"].to_numpy()
    e = np.maximum(cases["expected_recovery"].fill_null(0).to_numpy().astype(np.float64), 0.0)
    q = (
        cases["late_probability"].fill_null(0).to_numpy().astype(np.float64)
        if "late_probability" in cases.columns
        else np.zeros(n)
    )
    omiso = program == "omiso"
    y_req = np.where(
        omiso, yields[("omiso", "emplazamiento")], yields[("inexacto", "requerimiento")]
    )
    y_req = np.where(omiso, y_req + (1 - y_req) * q, y_req)
    y_letter = np.where(omiso, yields[("omiso", "carta")], yields[("inexacto", "carta")])
    money = {"fiscalizacion": e, "request": y_req * e, "carta": y_letter * e}
    net = {
        "fiscalizacion": e - cap.audit_cost,
        "request": money["request"] - cap.request_cost,
        "carta": money["carta"] - cap.letter_cost,
    }
    # Deterministic order among equal gains: the cases' own order (nit, tax_year, program).
    order = np.lexsort((program, cases["tax_year"].to_numpy(), cases["nit"].to_numpy()))
    tiebreak = np.empty(n, np.int64)
    tiebreak[order] = np.arange(n)
    choice = np.full(n, 2)  # 0 audit, 1 request, 2 letter
    gain = net["fiscalizacion"] - np.maximum(net["request"], net["carta"])
    picked = _top(gain, tiebreak, cap.audits)
    choice[picked] = 0
    gain = np.where(choice == 2, net["request"] - net["carta"], -np.inf)
    choice[_top(gain, tiebreak, cap.requests)] = 1
    names = np.where(
        choice == 0, "fiscalizacion",
        np.where(choice == 1, np.where(omiso, "emplazamiento", "requerimiento"), "carta"),
    )
    # whole pesos: an estimate, and the same digits run after run
    chosen_money = np.round(
        np.choose(choice, [money["fiscalizacion"], money["request"], money["carta"]])
    )
    chosen_net = np.round(np.choose(choice, [net["fiscalizacion"], net["request"], net["carta"]]))
    return cases.with_columns(
        action=pl.Series(names.tolist(), dtype=pl.Utf8),
        expected_money=pl.Series(chosen_money),
        expected_net=pl.Series(chosen_net),
    )


def _top(gain: np.ndarray, tiebreak: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest positive gains (ties: lower ``tiebreak`` first)."""
    if k <= 0:
        return np.array([], dtype=np.int64)
    candidates = np.flatnonzero(gain > 0)
    ranked = candidates[np.lexsort((tiebreak[candidates], -gain[candidates]))]
    return ranked[:k]
