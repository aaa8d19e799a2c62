"""The words of each action, Spanish first: what an inspector reads in the lists and the case
file, and what the taxpayer reads in a campaign's letter or demand (with its legal basis)."""

from __future__ import annotations

from fiscal_intel.scoring.reason_texts import money

NAMES = {
    "es": {
        "fiscalizacion": "Fiscalización (visita o auditoría)",
        "requerimiento": "Requerimiento de información",
        "emplazamiento": "Emplazamiento para declarar",
        "carta": "Carta persuasiva",
    },
    "en": {
        "fiscalizacion": "Field audit",
        "requerimiento": "Request for information",
        "emplazamiento": "Demand to file",
        "carta": "Persuasive letter",
    },
}

# What the taxpayer receives: the message and its legal basis (Estatuto Tributario, applied to
# municipal taxes by Law 788/2002 art. 59).
LETTER = {
    ("omiso", "emplazamiento"): (
        "La Secretaría de Hacienda le emplaza para que presente la declaración del impuesto de "
        "industria y comercio del año gravable {year} dentro del mes siguiente a esta "
        "notificación. Si no lo hace, procede la liquidación de aforo con la sanción por no "
        "declarar.",
        "Estatuto Tributario arts. 715, 716 y 717; Ley 788 de 2002 art. 59.",
    ),
    ("omiso", "carta"): (
        "Nuestros registros no muestran la declaración del impuesto de industria y comercio del "
        "año gravable {year}. Le invitamos a presentarla y pagarla voluntariamente: declarar "
        "ahora cuesta menos que la sanción por extemporaneidad que se liquidaría después.",
        "Estatuto Tributario arts. 641 y 715; Ley 788 de 2002 art. 59.",
    ),
    ("inexacto", "requerimiento"): (
        "La Secretaría de Hacienda le solicita explicar y soportar los ingresos declarados en el "
        "impuesto de industria y comercio del año gravable {year}, frente a la información que "
        "reportaron terceros, dentro de los quince días siguientes a esta comunicación.",
        "Estatuto Tributario arts. 684 y 686; Ley 788 de 2002 art. 59.",
    ),
    ("inexacto", "carta"): (
        "La información reportada por terceros no coincide con su declaración del impuesto de "
        "industria y comercio del año gravable {year}. Le invitamos a revisarla y corregirla "
        "voluntariamente: corregir ahora evita la sanción por inexactitud.",
        "Estatuto Tributario arts. 588, 644 y 648; Ley 788 de 2002 art. 59.",
    ),
}


def letter(program: str, action: str, year: int) -> tuple[str, str]:
    """The text and legal basis of ``action`` for a ``program`` case of ``year``."""
    if (program, action) not in LETTER:
        raise ValueError(f"no {action} for {program} cases: use one of "
                         f"{', '.join(a for p, a in LETTER if p == program)}")  # fmt: skip
    text, basis = LETTER[(program, action)]
    return text.format(year=year), basis


def evidence(base_amount: float | None, agents: int | None, year: int) -> str:
    """The case's third-party evidence in words (empty when no third party reported it)."""
    if not base_amount:
        return ""
    who = "un agente retenedor reportó" if agents == 1 else "agentes retenedores reportaron"
    return f"{who[0].upper()}{who[1:]} pagos por {money(base_amount)} en {year}."
