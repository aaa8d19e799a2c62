"""Turn a model's feature contributions into sentences an inspector can check in the file.

Features are grouped into families (all the third-party signals are one reason, not three), the
families are ranked by how much they pushed this case's score up, and the top ones are written
with the case's own numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

Row = Mapping[str, object]


def cop(value: object) -> str:
    """Pesos the way an inspector reads them: COP 1.2 bn, COP 410 M, COP 85 k."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "COP ?"
    v = float(value)  # type: ignore[arg-type]
    for size, unit in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= size:
            n = v / size
            return f"COP {n:.1f} {unit}" if abs(n) < 10 else f"COP {n:.0f} {unit}"
    return f"COP {v:.0f}"


def _num(row: Row, key: str) -> float | None:
    v = row.get(key)
    if v is None:
        return None
    f = float(v)  # type: ignore[arg-type]
    return None if math.isnan(f) else f


def _pct(v: float | None) -> str:
    return "?" if v is None else f"{v:.0%}"


# --- inexacto -------------------------------------------------------------------------------


def _third_party(row: Row) -> str:
    return (
        f"third parties (reteICA) reported paying {cop(row.get('third_party_base'))} in "
        f"{row.get('tax_year')}; declared local income {cop(row.get('local_income'))}"
    )


def _peers(row: Row) -> str:
    ratio = _num(row, "income_vs_peers")
    rel = "?" if ratio is None else f"{ratio:.0%} of"
    return (
        f"declared income {cop(row.get('gross_income'))} is {rel} the median of CIIU "
        f"{row.get('ciiu')} filers ({cop(row.get('peer_median_income'))})"
    )


def _outside(row: Row) -> str:
    share, vs = _num(row, "outside_share"), _num(row, "outside_share_vs_peers")
    peer = None if share is None or vs is None else share - vs
    return (
        f"{_pct(share)} of income declared as earned outside the municipality (peers {_pct(peer)})"
    )


def _deductions(row: Row) -> str:
    share, vs = _num(row, "deductions_share"), _num(row, "deductions_share_vs_peers")
    peer = None if share is None or vs is None else share - vs
    return f"deductions are {_pct(share)} of gross income (peers {_pct(peer)})"


def _rate(row: Row) -> str:
    return (
        f"declared activity taxed at {_num(row, 'declared_rate') or 0:g} per mil; the registered "
        f"activity pays {_num(row, 'registry_rate') or 0:g} per mil"
    )


def _yoy(row: Row) -> str:
    change = _num(row, "income_change_yoy")
    return f"income changed {'?' if change is None else f'{change:+.0%}'} from the previous year"


def _assets(row: Row) -> str:
    return (
        f"registered assets {cop(row.get('total_assets'))} against declared income "
        f"{cop(row.get('gross_income'))}"
    )


def _employees(row: Row) -> str:
    return (
        f"{row.get('employees') or 0} employees registered for declared income "
        f"{cop(row.get('gross_income'))}"
    )


def _size(row: Row) -> str:
    return (
        f"declared income {cop(row.get('gross_income'))}, tax {cop(row.get('declared_tax'))} "
        f"({_num(row, 'effective_rate') or 0:.1f} per mil of gross)"
    )


def _late(row: Row) -> str:
    days = _num(row, "days_late") or 0
    return f"filed {days:.0f} days after the deadline" if days > 0 else "filed on time"


def _corrections(row: Row) -> str:
    return f"{row.get('corrections') or 0} correction(s) filed for the year"


def _paid(row: Row) -> str:
    return f"paid {_pct(_num(row, 'paid_share'))} of the balance due"


def _entity(row: Row) -> str:
    return "a legal entity" if row.get("is_juridica") else "a natural person"


# --- omiso ----------------------------------------------------------------------------------


def _omiso_third_party(row: Row) -> str:
    base = _num(row, "third_party_base") or 0
    if base <= 0:
        return f"no reteICA agent reported paying it in {row.get('tax_year')}"
    return (
        f"{row.get('third_party_agents')} reteICA agent(s) reported paying {cop(base)} in "
        f"{row.get('tax_year')} ({row.get('third_party_periods')} bimesters), yet no return"
    )


def _registry(row: Row) -> str:
    lag = _num(row, "renewal_lag")
    if lag is None:
        return "no local chamber of commerce registration"
    year = int(row.get("tax_year")) + int(lag)  # type: ignore[arg-type]
    state = "active" if row.get("rues_active") else "not active"
    return f"chamber of commerce registration {state}, last renewed for {year}"


def _rit(row: Row) -> str:
    if not row.get("in_rit"):
        return "not registered in the municipal tax registry (RIT)"
    state = "active" if row.get("rit_active") else "inactive/cancelled"
    return f"registered in the RIT ({state}) for {row.get('years_registered')} year(s)"


def _history(row: Row) -> str:
    n = row.get("prior_filings") or 0
    if not n:
        return "never filed an ICA return here"
    return (
        f"filed {n} earlier return(s), the last {row.get('years_since_last_filing')} year(s) "
        f"before, declaring {cop(row.get('last_declared_income'))}"
    )


def _omiso_assets(row: Row) -> str:
    return f"registered assets {cop(row.get('total_assets'))}"


def _omiso_employees(row: Row) -> str:
    return f"{row.get('employees') or 0} employees registered"


def _activity(row: Row) -> str:
    return f"activity CIIU {row.get('ciiu')} taxed at {_num(row, 'activity_rate') or 0:g} per mil"


FAMILIES: dict[str, dict[str, tuple[Callable[[Row], str], tuple[str, ...]]]] = {
    "inexacto": {
        "third_party": (
            _third_party,
            (
                "third_party_base",
                "third_party_agents",
                "third_party_ratio",
                "third_party_excess",
                "local_income",
            ),
        ),
        "peers": (_peers, ("income_vs_peers", "peer_percentile")),
        "outside": (_outside, ("outside_share", "outside_share_vs_peers")),
        "deductions": (_deductions, ("deductions_share", "deductions_share_vs_peers")),
        "rate": (_rate, ("declared_rate", "registry_rate", "rate_gap", "activity_mismatch")),
        "yoy": (_yoy, ("income_change_yoy",)),
        "assets": (_assets, ("total_assets", "assets_to_income")),
        "employees": (_employees, ("employees", "income_per_employee")),
        "size": (_size, ("gross_income", "effective_rate", "declared_tax")),
        "late": (_late, ("days_late",)),
        "corrections": (_corrections, ("corrections",)),
        "paid": (_paid, ("paid_share",)),
        "entity": (_entity, ("is_juridica",)),
    },
    "omiso": {
        "third_party": (
            _omiso_third_party,
            (
                "third_party_base",
                "third_party_agents",
                "third_party_periods",
                "third_party_implied_tax",
            ),
        ),
        "registry": (_registry, ("in_rues_local", "rues_active", "renewal_lag")),
        "rit": (_rit, ("in_rit", "rit_active", "years_registered")),
        "history": (_history, ("prior_filings", "years_since_last_filing", "last_declared_income")),
        "assets": (_omiso_assets, ("total_assets",)),
        "employees": (_omiso_employees, ("employees",)),
        "activity": (_activity, ("activity_rate",)),
        "entity": (_entity, ("is_juridica",)),
    },
}


def explain(
    program: str,
    features: list[str],
    contributions: np.ndarray,
    rows: list[Row],
    *,
    predicted_amount: np.ndarray,
    top: int = 3,
) -> list[str]:
    """One reason text per row: the families that raised the score most, with numbers."""
    families = FAMILIES[program]
    index = {f: i for i, f in enumerate(features)}
    out = []
    for k, row in enumerate(rows):
        scores = []
        for name, (_, members) in families.items():
            score = sum(contributions[k, index[m]] for m in members if m in index)
            scores.append((score, name))
        scores.sort(key=lambda s: (-s[0], s[1]))
        chosen = [families[name][0](row) for score, name in scores[:top] if score > 0]
        if not chosen:
            chosen = ["no single factor stands out; ranked by predicted amount"]
        chosen.append(f"expected assessment if adjusted {cop(float(predicted_amount[k]))}")
        out.append("; ".join(chosen))
    return out
