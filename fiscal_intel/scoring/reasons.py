"""Turn a model's feature contributions into reasons an inspector can check in the file.

Features are grouped into families (all the third-party signals are one reason, not three), the
families are ranked by how much they pushed this case's score up (LightGBM ``pred_contrib``),
and the top ones are written with the case's own numbers, the way an inspector would put them
to the taxpayer: "ingresos declarados en el municipio COP 120 M; 2 agente(s) de reteICA
reportaron pagos por COP 410 M en 2023".

This module holds the reason *logic* only: which families, which figures, which sentence. A
reason is data (:class:`Reason`: its family code and a list of phrases, each a catalogue key and
the raw figures it quotes), stored as JSON in ``reason_codes`` beside the rendered text, so the
same reason can be written in Spanish or English later. The *wording* and number formats live in
:mod:`fiscal_intel.scoring.reason_texts`, one catalogue per language.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
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


def _p(key: str, **figures: object) -> Phrase:
    return key, {k: _clean(v) for k, v in figures.items()}


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


def _third_party(row: Row) -> list[Phrase]:
    base = _num(row, "third_party_base") or 0
    year = row.get("tax_year")
    if base <= 0:
        return [_p("inexacto.third_party.none", tax_year=year)]
    out = [
        _p(
            "inexacto.third_party",
            local_income=_num(row, "local_income"),
            third_party_agents=row.get("third_party_agents"),
            third_party_base=base,
            tax_year=year,
        )
    ]
    excess = _num(row, "third_party_excess") or 0
    if excess > 0:
        out.append(_p("inexacto.third_party.excess", third_party_excess=excess))
    return out


def _income_peers(row: Row) -> list[Phrase]:
    out = [
        _p(
            "inexacto.peers",
            gross_income=_num(row, "gross_income"),
            income_vs_peers=_num(row, "income_vs_peers"),
            peer_median_income=_num(row, "peer_median_income"),
            peer_group=row.get("peer_group"),
        )
    ]
    pct = _num(row, "peer_percentile")
    if pct is not None:
        out.append(_p("inexacto.peers.percentile", peer_percentile=pct))
    return out


def _asset_peers(row: Row) -> list[Phrase]:
    return [
        _p(
            "inexacto.asset_peers",
            income_per_asset_vs_peers=_num(row, "income_per_asset_vs_peers"),
            gross_income=_num(row, "gross_income"),
            total_assets=_num(row, "total_assets"),
            peer_income_per_asset=_num(row, "peer_income_per_asset") or 0,
            **_group(row, "asset_peer_group"),
        )
    ]


def _employees(row: Row) -> list[Phrase]:
    return [
        _p(
            "inexacto.employees",
            employees=row.get("employees") or 0,
            income_per_employee=_num(row, "income_per_employee"),
            peer_income_per_employee=_num(row, "peer_income_per_employee"),
            peer_group=row.get("peer_group"),
        )
    ]


def _outside(row: Row) -> list[Phrase]:
    out = [
        _p(
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
        out.append(_p(key, outside_share_vs_own=abs(own)))
    branches = int(_num(row, "branches_elsewhere") or 0)
    if branches == 0:
        out.append(_p("inexacto.outside.no_branches"))
    else:
        out.append(_p("inexacto.outside.branches", branches_elsewhere=branches))
    return out


def _deductions(row: Row) -> list[Phrase]:
    return [
        _p(
            "inexacto.deductions",
            deductions_share=_num(row, "deductions_share"),
            peer_deductions_share=_num(row, "peer_deductions_share"),
            ciiu_section=row.get("ciiu_section"),
            size_band=row.get("size_band"),
        )
    ]


def _activity_rate(row: Row) -> list[Phrase]:
    out = [
        _p(
            "inexacto.rate",
            ciiu=row.get("ciiu"),
            declared_rate=_num(row, "declared_rate"),
            registered_ciiu=row.get("registered_ciiu") or "?",
            registry_rate=_num(row, "registry_rate"),
        )
    ]
    gap = _num(row, "rate_gap_tax") or 0
    if gap > 0:
        out.append(_p("inexacto.rate.gap", rate_gap_tax=gap))
    return out


def _yoy(row: Row) -> list[Phrase]:
    change = _num(row, "income_change_yoy")
    gross = _num(row, "gross_income")
    if change is None or gross is None or change <= -1:
        vs_own = _num(row, "income_vs_own")
        if vs_own is None:
            return [_p("inexacto.yoy.first")]
        return [_p("inexacto.yoy.vs_own", income_vs_own=vs_own)]
    key = "inexacto.yoy.fell" if change < 0 else "inexacto.yoy.rose"
    return [
        _p(
            key,
            income_change_yoy=abs(change),
            previous_income=gross / (1 + change),
            gross_income=gross,
        )
    ]


def _assets(row: Row) -> list[Phrase]:
    return [
        _p(
            "inexacto.assets",
            total_assets=_num(row, "total_assets"),
            gross_income=_num(row, "gross_income"),
        )
    ]


def _suspected(row: Row) -> list[Phrase]:
    return [
        _p(
            "inexacto.suspected",
            suspected_gap_tax=_num(row, "suspected_gap_tax"),
            declared_tax=_num(row, "declared_tax"),
        )
    ]


def _size(row: Row) -> list[Phrase]:
    return [
        _p(
            "inexacto.size",
            gross_income=_num(row, "gross_income"),
            declared_tax=_num(row, "declared_tax"),
            effective_rate=_num(row, "effective_rate") or 0,
        )
    ]


def _late(row: Row) -> list[Phrase]:
    days = _num(row, "days_late") or 0
    if days > 0:
        return [_p("inexacto.late", days_late=round(days))]
    return [_p("inexacto.late.on_time")]


def _corrections(row: Row) -> list[Phrase]:
    n = int(_num(row, "corrections") or 0)
    return [_p("inexacto.corrections", corrections=n)] if n else [_p("inexacto.corrections.none")]


def _paid(row: Row) -> list[Phrase]:
    credited = _num(row, "credited_to_tax")
    share = _num(row, "paid_share")
    out = [
        _p("inexacto.paid.no_balance")
        if share is None
        else _p("inexacto.paid", paid_share=share)
    ]
    if credited is not None and credited > 0:
        out.append(_p("inexacto.paid.credited", credited_to_tax=credited))
    return out


def _past_audits(row: Row) -> list[Phrase]:
    adjusted = int(_num(row, "past_adjusted_audits") or 0)
    clean = int(_num(row, "past_clean_audits") or 0)
    if adjusted:
        out = [_p("general.past_audits.adjusted", past_adjusted_audits=adjusted)]
        income = _num(row, "income_vs_adjusted_years")
        outside = _num(row, "outside_share")
        outside_vs = _num(row, "outside_share_vs_adjusted_years")
        if income is not None:
            out.append(_p("general.past_audits.income", income_vs_adjusted_years=income))
            if outside is not None and outside_vs is not None and (outside or outside_vs):
                out.append(
                    _p(
                        "general.past_audits.outside",
                        outside_share=outside,
                        outside_share_then=outside - outside_vs,
                    )
                )
        return out
    if clean:
        return [_p("general.past_audits.clean", past_clean_audits=clean)]
    return [_p("general.past_audits.never")]


def _entity(row: Row) -> list[Phrase]:
    return [_p("general.entity.juridica" if row.get("is_juridica") else "general.entity.natural")]


# --- omiso ----------------------------------------------------------------------------------


def _omiso_third_party(row: Row) -> list[Phrase]:
    base = _num(row, "third_party_base") or 0
    year = row.get("tax_year")
    if base <= 0:
        adjacent = _num(row, "third_party_base_adjacent") or 0
        if adjacent > 0:
            return [
                _p("omiso.third_party.adjacent", third_party_base_adjacent=adjacent, tax_year=year)
            ]
        return [_p("omiso.third_party.none", tax_year=year)]
    return [
        _p(
            "omiso.third_party",
            third_party_agents=row.get("third_party_agents"),
            third_party_base=base,
            tax_year=year,
            third_party_periods=row.get("third_party_periods"),
        )
    ]


def _omiso_history(row: Row) -> list[Phrase]:
    prior = int(_num(row, "prior_filings") or 0)
    later = int(_num(row, "later_filings") or 0)
    if not prior and not later:
        return [_p("omiso.history.never")]
    if prior and later:
        first = _p("omiso.history.prior_later", prior_filings=prior, later_filings=later)
    elif prior:
        first = _p("omiso.history.prior", prior_filings=prior)
    else:
        first = _p("omiso.history.later", later_filings=later)
    return [
        first,
        _p(
            "omiso.history.nearest",
            tax_year=row.get("tax_year"),
            nearest_filed_year=row.get("nearest_filed_year"),
            nearest_declared_income=_num(row, "nearest_declared_income"),
            nearest_declared_tax=_num(row, "nearest_declared_tax"),
        ),
    ]


def _omiso_registry(row: Row) -> list[Phrase]:
    if not row.get("in_rues_local"):
        return [_p("omiso.registry.none")]
    key = "omiso.registry.active" if row.get("rues_active") else "omiso.registry.cancelled"
    out = [_p(key, last_renewal_year=row.get("last_renewal_year"))]
    after = _num(row, "renewals_after_last_filing")
    if after is not None and after > 0:
        out.append(_p("omiso.registry.after", renewals_after_last_filing=round(after)))
    return out


def _omiso_rit(row: Row) -> list[Phrase]:
    if not row.get("in_rit"):
        return [_p("omiso.rit.none")]
    key = "omiso.rit.active" if row.get("rit_active") else "omiso.rit.inactive"
    return [_p(key, years_registered=row.get("years_registered"))]


def _omiso_size(row: Row) -> list[Phrase]:
    employees = row.get("employees")
    assets = _num(row, "total_assets")
    if employees is None and assets is None:
        return [_p("omiso.size.none")]
    # Say what is missing rather than print an unknown amount an inspector cannot check.
    if assets is not None:
        out = [_p("omiso.size", employees=employees or 0, total_assets=assets)]
    else:
        out = [_p("omiso.size.no_assets", employees=employees or 0)]
    implied = _num(row, "asset_implied_income")
    if implied:
        out.append(
            _p(
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
                _p(
                    "omiso.size.declared",
                    nearest_declared_income=declared,
                    nearest_filed_year=row.get("nearest_filed_year"),
                )
            )
    return out


def _omiso_activity(row: Row) -> list[Phrase]:
    return [_p("omiso.activity", ciiu=row.get("ciiu"), activity_rate=_num(row, "activity_rate"))]


Family = tuple[Callable[[Row], list[Phrase]], tuple[str, ...]]

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


def late_filing(row: Row, late_probability: float) -> Reason:
    """The open filing window of an omiso case (model.LATE_FILING_PROGRAMS): a demand to file
    (emplazamiento, ET art. 715) may settle it."""
    return Reason(
        "omiso.late_filing",
        [
            _p(
                "omiso.late_filing",
                tax_year=row.get("tax_year"),
                filing_deadline=row.get("filing_deadline"),
                late_probability=float(late_probability),
            )
        ],
    )


def closing(program: str, predicted_amount: float, statute_expires_on: object) -> list[Reason]:
    """What every explained case ends with: the amount expected if adjusted (with the sanction
    the law adds: ET 648 inaccuracy, ET 717 assessment of a non-filer) and the statute date
    (ET 714 for a filed return, 717 for a non-filer)."""
    out = [Reason("general.expected", [_p(f"{program}.expected", amount=predicted_amount)])]
    if statute_expires_on is not None:
        out.append(
            Reason(
                "general.statute",
                [_p(f"{program}.statute", statute_expires_on=statute_expires_on)],
            )
        )
    return out


def no_model(program: str, train_rows: int, positives: int) -> list[Reason]:
    """Too few labels to learn from: say so rather than dress a constant up as a reason."""
    return [
        Reason(
            "general.no_model",
            [_p("general.no_model", program=program, train_rows=train_rows, positives=positives)],
        )
    ]


def not_explained(explain_top: int) -> list[Reason]:
    return [Reason("general.not_explained", [_p("general.not_explained", explain_top=explain_top)])]


def explain_reasons(
    program: str,
    features: list[str],
    contributions: np.ndarray,
    rows: list[Row],
    *,
    predicted_amount: np.ndarray,
    top: int = 3,
) -> list[list[Reason]]:
    """The reasons of each row: the families that raised the score most, with their figures,
    then the expected amount and the statute date."""
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
        chosen = [
            Reason(f"{program}.{names[j]}", families[names[j]][0](row))
            for j in order[:top]
            if family_scores[k, j] > 0
        ]
        if not chosen:
            chosen = [Reason("general.no_factor", [_p("general.no_factor")])]
        chosen += closing(program, float(predicted_amount[k]), row.get("statute_expires_on"))
        out.append(chosen)
    return out


def explain(
    program: str,
    features: list[str],
    contributions: np.ndarray,
    rows: list[Row],
    *,
    predicted_amount: np.ndarray,
    top: int = 3,
    lang: str = "es",
) -> list[str]:
    """One rendered reason text per row (see :func:`explain_reasons`)."""
    from fiscal_intel.scoring.reason_texts import render

    reasons = explain_reasons(
        program, features, contributions, rows, predicted_amount=predicted_amount, top=top
    )
    return [render(r, lang) for r in reasons]


def dumps(reasons: Sequence[Reason]) -> str:
    """The structured reasons of one case, as stored in ``reason_codes``."""
    return json.dumps([r.to_json() for r in reasons], ensure_ascii=False, sort_keys=True)


def loads(text: str | None) -> list[Reason]:
    if not text:
        return []
    return [
        Reason(r["family"], [(k, f) for k, f in r["phrases"]]) for r in json.loads(text)
    ]


def cop(value: object) -> str:
    """Pesos in the default (Spanish) convention; see reason_texts.money."""
    from fiscal_intel.scoring.reason_texts import money

    return money(value, "es")
