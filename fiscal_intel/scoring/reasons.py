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

import numpy as np

# dumps, loads and not_explained live with Reason (phrases.py), which reason_texts reads too.
from fiscal_intel.scoring.phrases import Phrase, Reason, Row, dumps, loads, not_explained, phrase
from fiscal_intel.scoring.programs import PROGRAMS

__all__ = [
    "Phrase", "Reason", "Row", "closing", "dumps", "explain", "explain_reasons", "loads",
    "not_explained",
]  # fmt: skip


def late_filing(row: Row, late_probability: float) -> Reason:
    """The open filing window of an omiso case (``ProgramSpec.late_filing``): a demand to file
    (emplazamiento, ET art. 715) may settle it."""
    return Reason(
        "omiso.late_filing",
        [
            phrase(
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
    out = [Reason("general.expected", [phrase(f"{program}.expected", amount=predicted_amount)])]
    if statute_expires_on is not None:
        out.append(
            Reason(
                "general.statute",
                [phrase(f"{program}.statute", statute_expires_on=statute_expires_on)],
            )
        )
    return out


def no_model(program: str, train_rows: int, positives: int) -> list[Reason]:
    """Too few labels to learn from: say so rather than dress a constant up as a reason."""
    return [
        Reason(
            "general.no_model",
            [
                phrase(
                    "general.no_model", program=program, train_rows=train_rows, positives=positives
                )
            ],
        )
    ]


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
    families = PROGRAMS[program].families
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
            chosen = [Reason("general.no_factor", [phrase("general.no_factor")])]
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


def cop(value: object) -> str:
    """Pesos in the default (Spanish) convention; see reason_texts.money."""
    from fiscal_intel.scoring.reason_texts import money

    return money(value, "es")
