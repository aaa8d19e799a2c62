"""Turn a model's feature contributions into sentences an inspector can check in the file.

Features are grouped into families (all the third-party signals are one reason, not three), the
families are ranked by how much they pushed this case's score up (LightGBM ``pred_contrib``),
and the top ones are written with the case's own numbers, the way an inspector would put them
to the taxpayer: "declared local income COP 120 M; reteICA agents reported paying COP 410 M".
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
    return "?" if v is None else f"{v:.0%}".replace("%", " %")


def _rate(v: float | None) -> str:
    return "?" if v is None else f"{v:g} per mil"


def _relative(ratio: float | None) -> str:
    """'80 % below' / '35 % above' for a ratio to a reference (1 = equal)."""
    if ratio is None:
        return "? against"
    if ratio < 1:
        return f"{_pct(1 - ratio)} below"
    return f"{_pct(ratio - 1)} above"


def _peers(row: Row, key: str | None = None) -> str:
    """The peer group a share or ratio was compared with: a CIIU level and the size band."""
    group = row.get(key) if key else f"section {row.get('ciiu_section')}"
    band = row.get("size_band")
    return f"{group or 'section ?'}" + (f", {band} size" if band and band != "unknown" else "")


# --- inexacto -------------------------------------------------------------------------------


def _third_party(row: Row) -> str:
    base = _num(row, "third_party_base") or 0
    local = _num(row, "local_income")
    if base <= 0:
        return f"no reteICA agent reported paying it in {row.get('tax_year')}"
    text = (
        f"declared local income {cop(local)}; {row.get('third_party_agents')} reteICA agent(s) "
        f"reported paying {cop(base)} in {row.get('tax_year')}"
    )
    excess = _num(row, "third_party_excess") or 0
    if excess > 0:
        text += f" ({cop(excess)} more than declared)"
    return text


def _income_peers(row: Row) -> str:
    pct = _num(row, "peer_percentile")
    rank = "" if pct is None else f", percentile {pct * 100:.0f} of its peers"
    return (
        f"declared income {cop(row.get('gross_income'))} is "
        f"{_relative(_num(row, 'income_vs_peers'))} the median of {row.get('peer_group')} filers "
        f"({cop(row.get('peer_median_income'))}){rank}"
    )


def _asset_peers(row: Row) -> str:
    return (
        f"income {_relative(_num(row, 'income_per_asset_vs_peers'))} peers in "
        f"{_peers(row, 'asset_peer_group')} with similar assets: declared "
        f"{cop(row.get('gross_income'))} on registered assets of {cop(row.get('total_assets'))}"
        f", where peers earn {_num(row, 'peer_income_per_asset') or 0:.2f} pesos per peso of "
        f"assets"
    )


def _employees(row: Row) -> str:
    return (
        f"{row.get('employees') or 0} employees registered: income per employee "
        f"{cop(row.get('income_per_employee'))} against {cop(row.get('peer_income_per_employee'))} "
        f"for {row.get('peer_group')} filers"
    )


def _outside(row: Row) -> str:
    branches = int(_num(row, "branches_elsewhere") or 0)
    where = (
        "no establishment registered in another municipality"
        if branches == 0
        else f"{branches} establishment(s) registered in other municipalities"
    )
    own = _num(row, "outside_share_vs_own")
    history = ""
    if own is not None and abs(own) >= 0.05:
        history = f", {_pct(abs(own))} {'more' if own > 0 else 'less'} than in its other returns"
    return (
        f"{_pct(_num(row, 'outside_share'))} of income declared as earned outside the "
        f"municipality (peers in {_peers(row)}: {_pct(_num(row, 'peer_outside_share'))}){history}"
        f"; {where}"
    )


def _deductions(row: Row) -> str:
    return (
        f"deductions are {_pct(_num(row, 'deductions_share'))} of gross income (peers in "
        f"{_peers(row)}: {_pct(_num(row, 'peer_deductions_share'))})"
    )


def _activity_rate(row: Row) -> str:
    gap = _num(row, "rate_gap_tax") or 0
    text = (
        f"declared CIIU {row.get('ciiu')} at {_rate(_num(row, 'declared_rate'))}; the registered "
        f"activity {row.get('registered_ciiu') or '?'} pays {_rate(_num(row, 'registry_rate'))}"
    )
    if gap > 0:
        text += f" ({cop(gap)} more tax on the declared base)"
    return text


def _yoy(row: Row) -> str:
    change = _num(row, "income_change_yoy")
    gross = _num(row, "gross_income")
    if change is None or gross is None or change <= -1:
        vs_own = _num(row, "income_vs_own")
        if vs_own is None:
            return "first return on file for this taxpayer"
        return f"declared income {_relative(vs_own)} its median in other years"
    prev = gross / (1 + change)
    verb = "fell" if change < 0 else "rose"
    return (
        f"declared income {verb} {_pct(abs(change))} from the previous year "
        f"({cop(prev)} to {cop(gross)})"
    )


def _assets(row: Row) -> str:
    return (
        f"registered assets {cop(row.get('total_assets'))} against declared income "
        f"{cop(row.get('gross_income'))}"
    )


def _suspected(row: Row) -> str:
    return (
        f"the data-matching checks together point to {cop(row.get('suspected_gap_tax'))} of "
        f"undeclared tax against {cop(row.get('declared_tax'))} declared"
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
    n = int(_num(row, "corrections") or 0)
    return f"{n} correction(s) filed for the year" if n else "no corrections filed"


def _paid(row: Row) -> str:
    credited = _num(row, "credited_to_tax")
    share = _num(row, "paid_share")
    if share is None:
        text = "no balance due after credits"
    else:
        text = f"paid {_pct(share)} of the balance due"
    if credited is not None and credited > 0:
        text += f"; reteICA credited is {_pct(credited)} of the tax declared"
    return text


def _past_audits(row: Row) -> str:
    adjusted = int(_num(row, "past_adjusted_audits") or 0)
    clean = int(_num(row, "past_clean_audits") or 0)
    if adjusted:
        text = f"{adjusted} audit(s) of its other years found tax due"
        income = _num(row, "income_vs_adjusted_years")
        outside = _num(row, "outside_share")
        outside_vs = _num(row, "outside_share_vs_adjusted_years")
        if income is not None:
            text += f"; this year it declares {income:.1f}x the income of those years"
            if outside is not None and outside_vs is not None and (outside or outside_vs):
                text += (
                    f" and {_pct(outside)} of it outside the municipality (then "
                    f"{_pct(outside - outside_vs)})"
                )
        return text
    if clean:
        return f"{clean} audit(s) of its other years found nothing"
    return "never audited before"


def _entity(row: Row) -> str:
    return "a legal entity" if row.get("is_juridica") else "a natural person"


# --- omiso ----------------------------------------------------------------------------------


def _omiso_third_party(row: Row) -> str:
    base = _num(row, "third_party_base") or 0
    year = row.get("tax_year")
    if base <= 0:
        adjacent = _num(row, "third_party_base_adjacent") or 0
        if adjacent > 0:
            return f"reteICA agents reported paying it {cop(adjacent)} in a year next to {year}"
        return f"no reteICA agent reported paying it in {year} or the years around it"
    return (
        f"{row.get('third_party_agents')} reteICA agent(s) reported paying it {cop(base)} in "
        f"{year} ({row.get('third_party_periods')} bimesters), yet no return"
    )


def _omiso_history(row: Row) -> str:
    prior = int(_num(row, "prior_filings") or 0)
    later = int(_num(row, "later_filings") or 0)
    if not prior and not later:
        return "never filed an ICA return here"
    parts = []
    if prior:
        parts.append(f"{prior} return(s) for earlier years")
    if later:
        parts.append(f"{later} for later years" if prior else f"{later} return(s) for later years")
    return (
        f"filed {' and '.join(parts)} but none for {row.get('tax_year')}; for "
        f"{row.get('nearest_filed_year')} it declared income "
        f"{cop(row.get('nearest_declared_income'))} and tax {cop(row.get('nearest_declared_tax'))}"
    )


def _omiso_registry(row: Row) -> str:
    if not row.get("in_rues_local"):
        return "no local chamber of commerce registration"
    state = "active" if row.get("rues_active") else "cancelled"
    renewed = row.get("last_renewal_year")
    text = f"chamber of commerce registration {state}, last renewed for {renewed}"
    after = _num(row, "renewals_after_last_filing")
    if after is not None and after > 0:
        text += f", {after:.0f} year(s) after its last return"
    return text


def _omiso_rit(row: Row) -> str:
    if not row.get("in_rit"):
        return "not registered in the municipal tax registry (RIT)"
    state = "active" if row.get("rit_active") else "inactive/cancelled"
    return f"registered in the RIT ({state}) for {row.get('years_registered')} year(s)"


def _omiso_size(row: Row) -> str:
    employees = row.get("employees")
    assets = _num(row, "total_assets")
    if employees is None and assets is None:
        return "no employees or assets on record"
    implied = _num(row, "asset_implied_income")
    # Say what is missing rather than print an unknown amount an inspector cannot check.
    shown_assets = f"assets {cop(assets)}" if assets is not None else "no assets on record"
    text = f"{employees or 0} employees and {shown_assets} registered"
    if implied:
        text += (
            f"; filers of section {row.get('ciiu_section')} with such assets declare about "
            f"{cop(implied)} of income"
        )
        declared = _num(row, "nearest_declared_income")
        if declared:
            # the registry set against its own last return: an operating business keeps the
            # assets its income needs, a dormant shell does not
            text += f" (it declared {cop(declared)} for {row.get('nearest_filed_year')})"
    return text


def _omiso_activity(row: Row) -> str:
    return f"activity CIIU {row.get('ciiu')} taxed at {_rate(_num(row, 'activity_rate'))}"


Family = tuple[Callable[[Row], str], tuple[str, ...]]

FAMILIES: dict[str, dict[str, Family]] = {
    "inexacto": {
        "third_party": (
            _third_party,
            (
                "third_party_base",
                "third_party_agents",
                "third_party_ratio",
                "third_party_excess",
                "third_party_excess_tax",
                "local_income",
            ),
        ),
        "peers": (_income_peers, ("income_vs_peers", "peer_percentile")),
        "asset_peers": (_asset_peers, ("income_per_asset_vs_peers", "asset_shortfall_tax")),
        "employees": (
            _employees,
            ("employees", "income_per_employee", "income_per_employee_vs_peers"),
        ),
        "outside": (
            _outside,
            (
                "outside_share",
                "outside_share_vs_peers",
                "outside_percentile",
                "outside_share_vs_own",
                "outside_share_change_yoy",
                "outside_excess_tax",
                "branches_elsewhere",
            ),
        ),
        "deductions": (
            _deductions,
            (
                "deductions_share",
                "deductions_share_vs_peers",
                "deductions_percentile",
                "deductions_share_vs_own",
                "deductions_share_change_yoy",
                "deductions_excess_tax",
            ),
        ),
        "rate": (
            _activity_rate,
            (
                "declared_rate",
                "registry_rate",
                "rate_gap",
                "rate_drop_vs_own",
                "activity_mismatch",
                "chamber_rate_gap",
                "confirmed_rate_gap",
                "rate_gap_tax",
            ),
        ),
        "yoy": (_yoy, ("income_change_yoy", "income_vs_own", "other_returns")),
        "assets": (_assets, ("total_assets", "assets_to_income")),
        "suspected": (_suspected, ("suspected_gap_tax", "suspected_gap_ratio")),
        "size": (_size, ("gross_income", "effective_rate", "declared_tax", "potential_tax")),
        "late": (_late, ("days_late",)),
        "corrections": (_corrections, ("corrections",)),
        "paid": (_paid, ("paid_share", "credited_to_tax")),
        "past_audits": (
            _past_audits,
            (
                "past_adjusted_audits",
                "past_clean_audits",
                "outside_share_vs_adjusted_years",
                "deductions_share_vs_adjusted_years",
                "rate_vs_adjusted_years",
                "income_vs_adjusted_years",
            ),
        ),
        "entity": (_entity, ("is_juridica",)),
    },
    "omiso": {
        "third_party": (
            _omiso_third_party,
            (
                "third_party_base",
                "third_party_agents",
                "third_party_periods",
                "third_party_base_adjacent",
                "third_party_implied_tax",
            ),
        ),
        "history": (
            _omiso_history,
            (
                "prior_filings",
                "later_filings",
                "filed_prev_year",
                "filed_next_year",
                "years_since_last_filing",
                "nearest_declared_tax",
                "nearest_declared_income",
            ),
        ),
        "registry": (
            _omiso_registry,
            ("in_rues_local", "rues_active", "renewal_lag", "renewals_after_last_filing"),
        ),
        "rit": (_omiso_rit, ("in_rit", "rit_active", "years_registered")),
        "size": (
            _omiso_size,
            (
                "total_assets",
                "employees",
                "assets_to_declared_income",
                "declared_income_per_employee",
                "assets_vs_declared_income",
                "staff_vs_declared_income",
                "staff_vs_assets",
                "asset_implied_income",
                "employee_implied_income",
                "asset_implied_tax",
                "employee_implied_tax",
                "branches_elsewhere",
            ),
        ),
        "past_audits": (_past_audits, ("past_adjusted_audits", "past_clean_audits")),
        "activity": (_omiso_activity, ("activity_rate",)),
        "entity": (_entity, ("is_juridica",)),
    },
}


def late_filing(row: Row, late_probability: float) -> str:
    """The open filing window of an omiso case, in words (model.LATE_FILING_PROGRAMS)."""
    return (
        f"no return yet for {row.get('tax_year')} (deadline {row.get('filing_deadline')}): in "
        f"earlier years {_pct(late_probability)} of such cases with a record like this one were "
        "late returns, not omissions: a demand to file (emplazamiento, ET art. 715) may settle it"
    )


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
    members = {
        name: [index[m] for m in fields if m in index] for name, (_, fields) in families.items()
    }
    # One matrix product instead of a Python loop per row and family.
    names = list(families)
    weights = np.zeros((contributions.shape[1], len(names)))
    for j, name in enumerate(names):
        weights[members[name], j] = 1.0
    family_scores = contributions @ weights if len(rows) else np.zeros((0, len(names)))
    out = []
    for k, row in enumerate(rows):
        order = sorted(range(len(names)), key=lambda j: (-family_scores[k, j], names[j]))
        chosen = [families[names[j]][0](row) for j in order[:top] if family_scores[k, j] > 0]
        if not chosen:
            chosen = ["no single factor stands out; ranked by predicted amount"]
        chosen.append(f"expected assessment if adjusted {cop(float(predicted_amount[k]))}")
        out.append("; ".join(chosen))
    return out
