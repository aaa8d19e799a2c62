"""The phrases of each reason family: which figures of a case a reason quotes, and which
catalogue key says it.

A family (declared with its features in the program's spec, ``scoring/programs/``) turns one case
row into phrases: a catalogue key of :mod:`fiscal_intel.scoring.reason_texts` and the raw figures
its template quotes (numbers, years, codes). The wording lives in the catalogue, the choice of
family per case in :mod:`fiscal_intel.scoring.reasons`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np

Row = Mapping[str, object]
# A phrase: a catalogue key and the raw figures (numbers, years, codes) its template quotes.
Phrase = tuple[str, dict[str, object]]


@dataclass(frozen=True)
class Reason:
    """One family's reason for one case: ``family`` is ``program.family`` (or a general code
    such as ``general.expected``), ``phrases`` are rendered one after another."""

    family: str
    phrases: list[Phrase] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"family": self.family, "phrases": [[k, f] for k, f in self.phrases]}


def _clean(value: object) -> object:
    """A JSON-safe raw figure: NaN is unknown, numpy scalars are Python numbers, dates ISO."""
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating, Decimal)):
        f = float(value)
        return None if math.isnan(f) else f
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return value


def phrase(key: str, **figures: object) -> Phrase:
    """A catalogue key with the raw figures its template quotes."""
    return key, {k: _clean(v) for k, v in figures.items()}


def dumps(reasons: Sequence[Reason]) -> str:
    """The structured reasons of one case, as stored in ``reason_codes``."""
    return json.dumps([r.to_json() for r in reasons], ensure_ascii=False, sort_keys=True)


def loads(text: str | None) -> list[Reason]:
    """The structured reasons stored by :func:`dumps` (none for an empty ``reason_codes``)."""
    if not text:
        return []
    return [
        Reason(r["family"], [(k, f) for k, f in r["phrases"]]) for r in json.loads(text)
    ]


def not_explained(explain_top: int) -> list[Reason]:
    """The one reason of a case below the explained top of its list."""
    return [
        Reason("general.not_explained", [phrase("general.not_explained", explain_top=explain_top)])
    ]


def _num(row: Row, key: str) -> float | None:
    v = row.get(key)
    if v is None:
        return None
    f = float(v)  # type: ignore[arg-type]
    return None if math.isnan(f) else f


def _group(row: Row, key: str) -> dict[str, object]:
    """The peer group a figure was compared with (CIIU level and size band), as figures."""
    return {"group": row.get(key), "size_band": row.get("size_band")}


# --- inexacto -------------------------------------------------------------------------------


def third_party(row: Row) -> list[Phrase]:
    base = _num(row, "third_party_base") or 0
    year = row.get("tax_year")
    if base <= 0:
        return [phrase("inexacto.third_party.none", tax_year=year)]
    out = [
        phrase(
            "inexacto.third_party",
            local_income=_num(row, "local_income"),
            third_party_agents=row.get("third_party_agents"),
            third_party_base=base,
            tax_year=year,
        )
    ]
    excess = _num(row, "third_party_excess") or 0
    if excess > 0:
        out.append(phrase("inexacto.third_party.excess", third_party_excess=excess))
    return out


def income_peers(row: Row) -> list[Phrase]:
    out = [
        phrase(
            "inexacto.peers",
            gross_income=_num(row, "gross_income"),
            income_vs_peers=_num(row, "income_vs_peers"),
            peer_median_income=_num(row, "peer_median_income"),
            peer_group=row.get("peer_group"),
        )
    ]
    pct = _num(row, "peer_percentile")
    if pct is not None:
        out.append(phrase("inexacto.peers.percentile", peer_percentile=pct))
    return out


def asset_peers(row: Row) -> list[Phrase]:
    return [
        phrase(
            "inexacto.asset_peers",
            income_per_asset_vs_peers=_num(row, "income_per_asset_vs_peers"),
            gross_income=_num(row, "gross_income"),
            total_assets=_num(row, "total_assets"),
            peer_income_per_asset=_num(row, "peer_income_per_asset") or 0,
            **_group(row, "asset_peer_group"),
        )
    ]


def registry(row: Row) -> list[Phrase]:
    """Label-free: where the return's yield on its registered assets stands among its peers,
    and the tax on the income its assets (and staff) say is missing."""
    out = [
        phrase(
            "inexacto.registry",
            registry_percentile=_num(row, "registry_percentile"),
            gross_income=_num(row, "gross_income"),
            total_assets=_num(row, "total_assets"),
            employees=row.get("employees"),
            **_group(row, "asset_peer_group"),
        )
    ]
    evidence = _num(row, "registry_evidence_tax") or 0
    if evidence > 0:
        out.append(phrase("inexacto.registry.missing", registry_evidence_tax=evidence))
    return out


def linked(row: Row) -> list[Phrase]:
    """Label-free: other NITs that look like the same business, scored as one group."""
    others = int(_num(row, "linked_nits") or 0)
    if others <= 0:
        return [phrase("inexacto.linked.none")]
    return [
        phrase(
            "inexacto.linked",
            linked_nits=others,
            group_shortfall_tax=_num(row, "group_shortfall_tax") or 0,
        )
    ]


def employees(row: Row) -> list[Phrase]:
    return [
        phrase(
            "inexacto.employees",
            employees=row.get("employees") or 0,
            income_per_employee=_num(row, "income_per_employee"),
            peer_income_per_employee=_num(row, "peer_income_per_employee"),
            peer_group=row.get("peer_group"),
        )
    ]


def outside(row: Row) -> list[Phrase]:
    out = [
        phrase(
            "inexacto.outside",
            outside_share=_num(row, "outside_share"),
            peer_outside_share=_num(row, "peer_outside_share"),
            ciiu_section=row.get("ciiu_section"),
            size_band=row.get("size_band"),
        )
    ]
    own = _num(row, "outside_share_vs_own")
    if own is not None and abs(own) >= 0.05:
        key = "inexacto.outside.more_than_own" if own > 0 else "inexacto.outside.less_than_own"
        out.append(phrase(key, outside_share_vs_own=abs(own)))
    branches = int(_num(row, "branches_elsewhere") or 0)
    if branches == 0:
        out.append(phrase("inexacto.outside.no_branches"))
    else:
        out.append(phrase("inexacto.outside.branches", branches_elsewhere=branches))
    return out


def deductions(row: Row) -> list[Phrase]:
    return [
        phrase(
            "inexacto.deductions",
            deductions_share=_num(row, "deductions_share"),
            peer_deductions_share=_num(row, "peer_deductions_share"),
            ciiu_section=row.get("ciiu_section"),
            size_band=row.get("size_band"),
        )
    ]


def activity_rate(row: Row) -> list[Phrase]:
    out = [
        phrase(
            "inexacto.rate",
            ciiu=row.get("ciiu"),
            declared_rate=_num(row, "declared_rate"),
            registered_ciiu=row.get("registered_ciiu") or "?",
            registry_rate=_num(row, "registry_rate"),
        )
    ]
    gap = _num(row, "rate_gap_tax") or 0
    if gap > 0:
        out.append(phrase("inexacto.rate.gap", rate_gap_tax=gap))
    return out


def yoy(row: Row) -> list[Phrase]:
    change = _num(row, "income_change_yoy")
    gross = _num(row, "gross_income")
    if change is None or gross is None or change <= -1:
        vs_own = _num(row, "income_vs_own")
        if vs_own is None:
            return [phrase("inexacto.yoy.first")]
        return [phrase("inexacto.yoy.vs_own", income_vs_own=vs_own)]
    key = "inexacto.yoy.fell" if change < 0 else "inexacto.yoy.rose"
    return [
        phrase(
            key,
            income_change_yoy=abs(change),
            previous_income=gross / (1 + change),
            gross_income=gross,
        )
    ]


def assets(row: Row) -> list[Phrase]:
    return [
        phrase(
            "inexacto.assets",
            total_assets=_num(row, "total_assets"),
            gross_income=_num(row, "gross_income"),
        )
    ]


def suspected(row: Row) -> list[Phrase]:
    return [
        phrase(
            "inexacto.suspected",
            suspected_gap_tax=_num(row, "suspected_gap_tax"),
            declared_tax=_num(row, "declared_tax"),
        )
    ]


def size(row: Row) -> list[Phrase]:
    return [
        phrase(
            "inexacto.size",
            gross_income=_num(row, "gross_income"),
            declared_tax=_num(row, "declared_tax"),
            effective_rate=_num(row, "effective_rate") or 0,
        )
    ]


def late(row: Row) -> list[Phrase]:
    days = _num(row, "days_late") or 0
    if days > 0:
        return [phrase("inexacto.late", days_late=round(days))]
    return [phrase("inexacto.late.on_time")]


def corrections(row: Row) -> list[Phrase]:
    n = int(_num(row, "corrections") or 0)
    return (
        [phrase("inexacto.corrections", corrections=n)]
        if n
        else [phrase("inexacto.corrections.none")]
    )


def paid(row: Row) -> list[Phrase]:
    credited = _num(row, "credited_to_tax")
    share = _num(row, "paid_share")
    out = [
        phrase("inexacto.paid.no_balance")
        if share is None
        else phrase("inexacto.paid", paid_share=share)
    ]
    if credited is not None and credited > 0:
        out.append(phrase("inexacto.paid.credited", credited_to_tax=credited))
    return out


def past_audits(row: Row) -> list[Phrase]:
    adjusted = int(_num(row, "past_adjusted_audits") or 0)
    clean = int(_num(row, "past_clean_audits") or 0)
    if adjusted:
        out = [phrase("general.past_audits.adjusted", past_adjusted_audits=adjusted)]
        income = _num(row, "income_vs_adjusted_years")
        outside = _num(row, "outside_share")
        outside_vs = _num(row, "outside_share_vs_adjusted_years")
        if income is not None:
            out.append(phrase("general.past_audits.income", income_vs_adjusted_years=income))
            if outside is not None and outside_vs is not None and (outside or outside_vs):
                out.append(
                    phrase(
                        "general.past_audits.outside",
                        outside_share=outside,
                        outside_share_then=outside - outside_vs,
                    )
                )
        return out
    if clean:
        return [phrase("general.past_audits.clean", past_clean_audits=clean)]
    return [phrase("general.past_audits.never")]


def entity(row: Row) -> list[Phrase]:
    return [
        phrase("general.entity.juridica" if row.get("is_juridica") else "general.entity.natural")
    ]


# --- omiso ----------------------------------------------------------------------------------


def omiso_third_party(row: Row) -> list[Phrase]:
    base = _num(row, "third_party_base") or 0
    year = row.get("tax_year")
    if base <= 0:
        adjacent = _num(row, "third_party_base_adjacent") or 0
        if adjacent > 0:
            return [
                phrase(
                    "omiso.third_party.adjacent", third_party_base_adjacent=adjacent, tax_year=year
                )
            ]
        return [phrase("omiso.third_party.none", tax_year=year)]
    return [
        phrase(
            "omiso.third_party",
            third_party_agents=row.get("third_party_agents"),
            third_party_base=base,
            tax_year=year,
            third_party_periods=row.get("third_party_periods"),
        )
    ]


def omiso_contractor(row: Row) -> list[Phrase]:
    """Label-free: paid here by reteICA agents, registered nowhere here, never filed."""
    tax = _num(row, "contractor_tax") or 0
    if tax <= 0:
        return [phrase("omiso.contractor.none")]
    return [
        phrase(
            "omiso.contractor",
            third_party_base=_num(row, "third_party_base"),
            tax_year=row.get("tax_year"),
            contractor_tax=tax,
        )
    ]


def omiso_history(row: Row) -> list[Phrase]:
    prior = int(_num(row, "prior_filings") or 0)
    later = int(_num(row, "later_filings") or 0)
    if not prior and not later:
        return [phrase("omiso.history.never")]
    if prior and later:
        first = phrase("omiso.history.prior_later", prior_filings=prior, later_filings=later)
    elif prior:
        first = phrase("omiso.history.prior", prior_filings=prior)
    else:
        first = phrase("omiso.history.later", later_filings=later)
    return [
        first,
        phrase(
            "omiso.history.nearest",
            tax_year=row.get("tax_year"),
            nearest_filed_year=row.get("nearest_filed_year"),
            nearest_declared_income=_num(row, "nearest_declared_income"),
            nearest_declared_tax=_num(row, "nearest_declared_tax"),
        ),
    ]


def omiso_registry(row: Row) -> list[Phrase]:
    if not row.get("in_rues_local"):
        return [phrase("omiso.registry.none")]
    key = "omiso.registry.active" if row.get("rues_active") else "omiso.registry.cancelled"
    out = [phrase(key, last_renewal_year=row.get("last_renewal_year"))]
    after = _num(row, "renewals_after_last_filing")
    if after is not None and after > 0:
        out.append(phrase("omiso.registry.after", renewals_after_last_filing=round(after)))
    return out


def omiso_rit(row: Row) -> list[Phrase]:
    if not row.get("in_rit"):
        return [phrase("omiso.rit.none")]
    key = "omiso.rit.active" if row.get("rit_active") else "omiso.rit.inactive"
    return [phrase(key, years_registered=row.get("years_registered"))]


def omiso_size(row: Row) -> list[Phrase]:
    employees = row.get("employees")
    assets = _num(row, "total_assets")
    if employees is None and assets is None:
        return [phrase("omiso.size.none")]
    # Say what is missing rather than print an unknown amount an inspector cannot check.
    if assets is not None:
        out = [phrase("omiso.size", employees=employees or 0, total_assets=assets)]
    else:
        out = [phrase("omiso.size.no_assets", employees=employees or 0)]
    implied = _num(row, "asset_implied_income")
    if implied:
        out.append(
            phrase(
                "omiso.size.implied",
                ciiu_section=row.get("ciiu_section"),
                asset_implied_income=implied,
            )
        )
        declared = _num(row, "nearest_declared_income")
        if declared:
            # the registry set against its own last return: an operating business keeps the
            # assets its income needs, a dormant shell does not
            out.append(
                phrase(
                    "omiso.size.declared",
                    nearest_declared_income=declared,
                    nearest_filed_year=row.get("nearest_filed_year"),
                )
            )
    return out


def omiso_activity(row: Row) -> list[Phrase]:
    return [
        phrase("omiso.activity", ciiu=row.get("ciiu"), activity_rate=_num(row, "activity_rate"))
    ]
