# ruff: noqa: E501 - a catalogue reads best one template a line
"""The wording of the inspector's reasons, one catalogue per language (Spanish first).

:mod:`fiscal_intel.scoring.reasons` decides which reasons a case has and which figures they
quote; this module only says them. Each phrase key maps to a template whose placeholders name
the phrase's figures and how to write them (``{third_party_base:cop}``); the formats are the
reader's: in Spanish Colombian numbers (``COP 410 M``, ``COP 2,3 mil M``, ``35 %``, ``7 por
mil``, dates ``30/04/2025``), in English ``COP 410 M``, ``COP 2.3 bn``, ``2025-04-30``. A
family's phrases are written one after another (a template carries its own leading
separator); families are joined with ``"; "``. Same pattern as
:mod:`fiscal_intel.leadership.i18n` (``TEXT[language][key]``).
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence
from datetime import date

from fiscal_intel.scoring.phrases import Reason, loads, not_explained

LANGUAGES = ("es", "en")

TEXT: dict[str, dict[str, str]] = {
    "es": {
        # inexacto
        "inexacto.third_party.none": "ningún agente de reteICA reportó pagos a este contribuyente en {tax_year:y}",
        "inexacto.third_party": "ingresos declarados en el municipio {local_income:cop}; {third_party_agents:n} agente(s) de reteICA reportaron pagos por {third_party_base:cop} en {tax_year:y}",
        "inexacto.third_party.excess": " ({third_party_excess:cop} más de lo declarado)",
        "inexacto.peers": "ingresos declarados {gross_income:cop}, {income_vs_peers:rel} la mediana de los declarantes de {peer_group:group} ({peer_median_income:cop})",
        "inexacto.peers.percentile": ", percentil {peer_percentile:centile} de sus pares",
        "inexacto.asset_peers": "ingresos {income_per_asset_vs_peers:rel} los de pares de {group:group}{size_band:band} con activos similares: declaró {gross_income:cop} con activos registrados de {total_assets:cop}, cuando sus pares generan {peer_income_per_asset:d2} pesos por cada peso de activos",
        "inexacto.registry": "por cada peso de activos registrados declara menos que el {registry_percentile:centile} % de sus pares de {group:group}{size_band:band}: ingresos de {gross_income:cop} con activos de {total_assets:cop} y {employees:n} empleado(s) en el registro mercantil",
        "inexacto.registry.missing": ": lo que sus activos y empleados indican que falta equivale a {registry_evidence_tax:cop} de impuesto",
        "inexacto.linked": "parece un mismo negocio con otro(s) {linked_nits:n} NIT (mismos apellidos y actividad, inscritos con pocos meses de diferencia): según los activos registrados del grupo, faltan {group_shortfall_tax:cop} de impuesto",
        "inexacto.linked.none": "ningún otro NIT parece el mismo negocio",
        "inexacto.employees": "{employees:n} empleados registrados: ingresos por empleado {income_per_employee:cop} frente a {peer_income_per_employee:cop} de los declarantes de {peer_group:group}",
        "inexacto.outside": "{outside_share:pct} de los ingresos declarados como obtenidos fuera del municipio (pares de la sección {ciiu_section}{size_band:band}: {peer_outside_share:pct})",
        "inexacto.outside.more_than_own": ", {outside_share_vs_own:pct} más que en sus otras declaraciones",
        "inexacto.outside.less_than_own": ", {outside_share_vs_own:pct} menos que en sus otras declaraciones",
        "inexacto.outside.no_branches": "; ningún establecimiento registrado en otro municipio",
        "inexacto.outside.branches": "; {branches_elsewhere:n} establecimiento(s) registrado(s) en otros municipios",
        "inexacto.deductions": "deducciones del {deductions_share:pct} de los ingresos brutos (pares de la sección {ciiu_section}{size_band:band}: {peer_deductions_share:pct})",
        "inexacto.rate": "declaró la actividad CIIU {ciiu} a {declared_rate:rate}; la actividad registrada {registered_ciiu} paga {registry_rate:rate}",
        "inexacto.rate.gap": " ({rate_gap_tax:cop} más de impuesto sobre la base declarada)",
        "inexacto.yoy.first": "primera declaración registrada de este contribuyente",
        "inexacto.yoy.vs_own": "ingresos declarados {income_vs_own:rel} su mediana de otros años",
        "inexacto.yoy.fell": "los ingresos declarados bajaron {income_change_yoy:pct} frente al año anterior ({previous_income:cop} a {gross_income:cop})",
        "inexacto.yoy.rose": "los ingresos declarados subieron {income_change_yoy:pct} frente al año anterior ({previous_income:cop} a {gross_income:cop})",
        "inexacto.assets": "activos registrados {total_assets:cop} frente a ingresos declarados {gross_income:cop}",
        "inexacto.suspected": "los cruces de información en conjunto señalan {suspected_gap_tax:cop} de impuesto no declarado frente a {declared_tax:cop} declarado",
        "inexacto.size": "ingresos declarados {gross_income:cop}, impuesto {declared_tax:cop} ({effective_rate:d1} por mil de los ingresos brutos)",
        "inexacto.late": "presentó la declaración {days_late:n} días después del vencimiento (sanción por extemporaneidad, ET art. 641)",
        "inexacto.late.on_time": "presentó la declaración a tiempo",
        "inexacto.corrections": "{corrections:n} corrección(es) presentada(s) para el año",
        "inexacto.corrections.none": "no presentó correcciones",
        "inexacto.paid.no_balance": "sin saldo a pagar después de descuentos",
        "inexacto.paid": "pagó el {paid_share:pct} del saldo a pagar",
        "inexacto.paid.credited": "; las retenciones de ICA descontadas son el {credited_to_tax:pct} del impuesto declarado",
        "inexacto.expected": "impuesto adicional esperado si hay ajuste {amount:cop} (más la sanción por inexactitud, ET art. 648)",
        "inexacto.expected.corroborated": "; limitado a {multiple:d1} veces el faltante que muestran terceros, las líneas de la declaración, el registro o los NIT vinculados ({witness:cop}): el monto no descansa solo en el tamaño",
        "inexacto.expected.unwitnessed": "; de lo que estima el modelo, {unwitnessed:cop} no lo respalda ningún cruce (terceros, líneas de la declaración frente a sus pares, registro mercantil, NIT vinculados): descansa en el tamaño y la historia del contribuyente y cuenta solo al {probability:pct}, la probabilidad del caso",
        "inexacto.statute": "la declaración queda en firme el {statute_expires_on:date} (ET art. 714)",
        # omiso
        "omiso.third_party.adjacent": "agentes de reteICA le reportaron pagos por {third_party_base_adjacent:cop} en un año vecino a {tax_year:y}",
        "omiso.third_party.none": "ningún agente de reteICA le reportó pagos en {tax_year:y} ni en los años vecinos",
        "omiso.third_party": "{third_party_agents:n} agente(s) de reteICA le reportaron pagos por {third_party_base:cop} en {tax_year:y} ({third_party_periods:n} bimestres), pero no declaró",
        "omiso.contractor": "sin inscripción en el RIT, sin matrícula mercantil local y sin ninguna declaración, agentes de reteICA le pagaron {third_party_base:cop} en {tax_year:y} por actividades en el municipio: está obligado a declarar aquí (impuesto estimado {contractor_tax:cop})",
        "omiso.contractor.none": "inscrito o con declaraciones en el municipio: no es un contratista de otro municipio",
        "omiso.history.never": "nunca ha presentado declaración de ICA en el municipio",
        "omiso.history.prior_later": "presentó {prior_filings:n} declaración(es) de años anteriores y {later_filings:n} de años posteriores",
        "omiso.history.prior": "presentó {prior_filings:n} declaración(es) de años anteriores",
        "omiso.history.later": "presentó {later_filings:n} declaración(es) de años posteriores",
        "omiso.history.nearest": " pero ninguna de {tax_year:y}; en {nearest_filed_year:y} declaró ingresos de {nearest_declared_income:cop} e impuesto de {nearest_declared_tax:cop}",
        "omiso.registry.none": "sin matrícula en la cámara de comercio local",
        "omiso.registry.active": "matrícula mercantil activa, renovada por última vez para {last_renewal_year:y}",
        "omiso.registry.cancelled": "matrícula mercantil cancelada, renovada por última vez para {last_renewal_year:y}",
        "omiso.registry.after": ", {renewals_after_last_filing:n} año(s) después de su última declaración",
        "omiso.rit.none": "no está inscrito en el registro de información tributaria (RIT)",
        "omiso.rit.active": "inscrito en el RIT (activo) hace {years_registered:n} año(s)",
        "omiso.rit.inactive": "inscrito en el RIT (inactivo o cancelado) hace {years_registered:n} año(s)",
        "omiso.size.none": "sin empleados ni activos registrados",
        "omiso.size": "{employees:n} empleados y activos de {total_assets:cop} registrados",
        "omiso.size.no_assets": "{employees:n} empleados registrados y sin activos registrados",
        "omiso.size.implied": "; los declarantes de la sección {ciiu_section} con esos activos declaran unos {asset_implied_income:cop} de ingresos",
        "omiso.size.declared": " (declaró {nearest_declared_income:cop} en {nearest_filed_year:y})",
        "omiso.activity": "actividad CIIU {ciiu} con tarifa de {activity_rate:rate}",
        "omiso.late_filing": "aún sin declaración de {tax_year:y} (vencimiento {filing_deadline:date}): en años anteriores el {late_probability:pct} de los casos con un historial como este fueron declaraciones tardías, no omisiones: un emplazamiento para declarar (ET art. 715) puede resolverlo",
        "omiso.expected": "impuesto esperado si se liquida {amount:cop} (liquidación de aforo, ET art. 717)",
        "omiso.expected.audited": "; al menos {audited:cop}, lo que una fiscalización de omisión de {audited_year:y} liquidó a este negocio, actualizado por el IPC",
        "omiso.expected.corroborated": "; limitado a {multiple:d1} veces lo que hoy indican el registro mercantil y los terceros ({witness:cop}): el monto no descansa solo en el tamaño",
        "omiso.statute": "puede liquidarse hasta el {statute_expires_on:date} (ET art. 717)",
        # both programs
        "general.past_audits.adjusted": "{past_adjusted_audits:n} auditoría(s) de otros años encontraron impuesto a cargo",
        "general.past_audits.income": "; este año declara {income_vs_adjusted_years:d1} veces los ingresos de esos años",
        "general.past_audits.outside": " y el {outside_share:pct} de ellos fuera del municipio (entonces {outside_share_then:pct})",
        "general.past_audits.clean": "{past_clean_audits:n} auditoría(s) de otros años no encontraron nada",
        "general.past_audits.never": "nunca ha sido auditado",
        "general.entity.juridica": "persona jurídica",
        "general.entity.natural": "persona natural",
        "general.no_factor": "ningún factor se destaca; ordenado por el valor estimado",
        "general.no_model": "muy pocas auditorías de {program} cerradas para entrenar un modelo ({train_rows:n}, {positives:n} con ajuste): la probabilidad es la tasa histórica de hallazgos",
        "general.not_explained": "por debajo de los {explain_top:n} primeros casos explicados",
    },
    "en": {
        "inexacto.third_party.none": "no reteICA agent reported paying it in {tax_year:y}",
        "inexacto.third_party": "declared local income {local_income:cop}; {third_party_agents:n} reteICA agent(s) reported paying {third_party_base:cop} in {tax_year:y}",
        "inexacto.third_party.excess": " ({third_party_excess:cop} more than declared)",
        "inexacto.peers": "declared income {gross_income:cop} is {income_vs_peers:rel} the median of {peer_group:group} filers ({peer_median_income:cop})",
        "inexacto.peers.percentile": ", percentile {peer_percentile:centile} of its peers",
        "inexacto.asset_peers": "income {income_per_asset_vs_peers:rel} peers in {group:group}{size_band:band} with similar assets: declared {gross_income:cop} on registered assets of {total_assets:cop}, where peers earn {peer_income_per_asset:d2} pesos per peso of assets",
        "inexacto.registry": "per peso of registered assets it declares less than {registry_percentile:centile} % of its peers in {group:group}{size_band:band}: income of {gross_income:cop} on assets of {total_assets:cop} and {employees:n} employee(s) in the commerce registry",
        "inexacto.registry.missing": ": what its assets and staff say is missing comes to {registry_evidence_tax:cop} of tax",
        "inexacto.linked": "looks like one business with {linked_nits:n} other NIT(s) (same surnames and activity, registered months apart): the group's registered assets say {group_shortfall_tax:cop} of tax is missing",
        "inexacto.linked.none": "no other NIT looks like the same business",
        "inexacto.employees": "{employees:n} employees registered: income per employee {income_per_employee:cop} against {peer_income_per_employee:cop} for {peer_group:group} filers",
        "inexacto.outside": "{outside_share:pct} of income declared as earned outside the municipality (peers in section {ciiu_section}{size_band:band}: {peer_outside_share:pct})",
        "inexacto.outside.more_than_own": ", {outside_share_vs_own:pct} more than in its other returns",
        "inexacto.outside.less_than_own": ", {outside_share_vs_own:pct} less than in its other returns",
        "inexacto.outside.no_branches": "; no establishment registered in another municipality",
        "inexacto.outside.branches": "; {branches_elsewhere:n} establishment(s) registered in other municipalities",
        "inexacto.deductions": "deductions are {deductions_share:pct} of gross income (peers in section {ciiu_section}{size_band:band}: {peer_deductions_share:pct})",
        "inexacto.rate": "declared CIIU {ciiu} at {declared_rate:rate}; the registered activity {registered_ciiu} pays {registry_rate:rate}",
        "inexacto.rate.gap": " ({rate_gap_tax:cop} more tax on the declared base)",
        "inexacto.yoy.first": "first return on file for this taxpayer",
        "inexacto.yoy.vs_own": "declared income {income_vs_own:rel} its median in other years",
        "inexacto.yoy.fell": "declared income fell {income_change_yoy:pct} from the previous year ({previous_income:cop} to {gross_income:cop})",
        "inexacto.yoy.rose": "declared income rose {income_change_yoy:pct} from the previous year ({previous_income:cop} to {gross_income:cop})",
        "inexacto.assets": "registered assets {total_assets:cop} against declared income {gross_income:cop}",
        "inexacto.suspected": "the data-matching checks together point to {suspected_gap_tax:cop} of undeclared tax against {declared_tax:cop} declared",
        "inexacto.size": "declared income {gross_income:cop}, tax {declared_tax:cop} ({effective_rate:d1} per mil of gross)",
        "inexacto.late": "filed {days_late:n} days after the deadline (late-filing penalty, ET art. 641)",
        "inexacto.late.on_time": "filed on time",
        "inexacto.corrections": "{corrections:n} correction(s) filed for the year",
        "inexacto.corrections.none": "no corrections filed",
        "inexacto.paid.no_balance": "no balance due after credits",
        "inexacto.paid": "paid {paid_share:pct} of the balance due",
        "inexacto.paid.credited": "; reteICA credited is {credited_to_tax:pct} of the tax declared",
        "inexacto.expected": "expected assessment if adjusted {amount:cop} (plus the inaccuracy penalty, ET art. 648)",
        "inexacto.expected.corroborated": "; capped at {multiple:d1} times the shortfall third parties, the return's lines, the registry or linked NITs show ({witness:cop}): the amount does not rest on size alone",
        "inexacto.expected.unwitnessed": "; of the model's estimate, {unwitnessed:cop} is backed by no cross-check (third parties, the return's lines against its peers, the business registry, linked NITs): it rests on the taxpayer's size and history and counts only at {probability:pct}, the case's probability",
        "inexacto.statute": "the return becomes final on {statute_expires_on:date} (ET art. 714)",
        "omiso.third_party.adjacent": "reteICA agents reported paying it {third_party_base_adjacent:cop} in a year next to {tax_year:y}",
        "omiso.third_party.none": "no reteICA agent reported paying it in {tax_year:y} or the years around it",
        "omiso.third_party": "{third_party_agents:n} reteICA agent(s) reported paying it {third_party_base:cop} in {tax_year:y} ({third_party_periods:n} bimesters), yet no return",
        "omiso.contractor": "no RIT registration, no local chamber record and no return ever, yet reteICA agents paid it {third_party_base:cop} in {tax_year:y} for work in the municipality: it must file here (estimated tax {contractor_tax:cop})",
        "omiso.contractor.none": "registered or filing in the municipality: not a contractor from elsewhere",
        "omiso.history.never": "never filed an ICA return here",
        "omiso.history.prior_later": "filed {prior_filings:n} return(s) for earlier years and {later_filings:n} for later years",
        "omiso.history.prior": "filed {prior_filings:n} return(s) for earlier years",
        "omiso.history.later": "filed {later_filings:n} return(s) for later years",
        "omiso.history.nearest": " but none for {tax_year:y}; for {nearest_filed_year:y} it declared income {nearest_declared_income:cop} and tax {nearest_declared_tax:cop}",
        "omiso.registry.none": "no local chamber of commerce registration",
        "omiso.registry.active": "chamber of commerce registration active, last renewed for {last_renewal_year:y}",
        "omiso.registry.cancelled": "chamber of commerce registration cancelled, last renewed for {last_renewal_year:y}",
        "omiso.registry.after": ", {renewals_after_last_filing:n} year(s) after its last return",
        "omiso.rit.none": "not registered in the municipal tax registry (RIT)",
        "omiso.rit.active": "registered in the RIT (active) for {years_registered:n} year(s)",
        "omiso.rit.inactive": "registered in the RIT (inactive/cancelled) for {years_registered:n} year(s)",
        "omiso.size.none": "no employees or assets on record",
        "omiso.size": "{employees:n} employees and assets {total_assets:cop} registered",
        "omiso.size.no_assets": "{employees:n} employees and no assets on record registered",
        "omiso.size.implied": "; filers of section {ciiu_section} with such assets declare about {asset_implied_income:cop} of income",
        "omiso.size.declared": " (it declared {nearest_declared_income:cop} for {nearest_filed_year:y})",
        "omiso.activity": "activity CIIU {ciiu} taxed at {activity_rate:rate}",
        "omiso.late_filing": "no return yet for {tax_year:y} (deadline {filing_deadline:date}): in earlier years {late_probability:pct} of such cases with a record like this one were late returns, not omissions: a demand to file (emplazamiento, ET art. 715) may settle it",
        "omiso.expected": "expected assessment if adjusted {amount:cop} (assessment of a non-filer, ET art. 717)",
        "omiso.expected.audited": "; at least {audited:cop}, what a non-filing audit of {audited_year:y} assessed this business, updated by the CPI",
        "omiso.expected.corroborated": "; capped at {multiple:d1} times what the business registry and third parties show today ({witness:cop}): the amount does not rest on size alone",
        "omiso.statute": "can be assessed until {statute_expires_on:date} (ET art. 717)",
        "general.past_audits.adjusted": "{past_adjusted_audits:n} audit(s) of its other years found tax due",
        "general.past_audits.income": "; this year it declares {income_vs_adjusted_years:d1}x the income of those years",
        "general.past_audits.outside": " and {outside_share:pct} of it outside the municipality (then {outside_share_then:pct})",
        "general.past_audits.clean": "{past_clean_audits:n} audit(s) of its other years found nothing",
        "general.past_audits.never": "never audited before",
        "general.entity.juridica": "a legal entity",
        "general.entity.natural": "a natural person",
        "general.no_factor": "no single factor stands out; ranked by predicted amount",
        "general.no_model": "too few closed {program} audits to train a model ({train_rows:n}, {positives:n} adjusted): score is the historical hit rate",
        "general.not_explained": "ranked below the explained top {explain_top:n}",
    },
}  # fmt: skip

# The name of each reason family (``Reason.family``), as the case file's "Motivos" sheet lists it.
FAMILY_NAMES: dict[str, dict[str, str]] = {
    "es": {
        "inexacto.third_party": "Información de terceros (reteICA)",
        "inexacto.peers": "Ingresos frente a pares",
        "inexacto.asset_peers": "Ingresos frente a activos de pares",
        "inexacto.registry": "Registro mercantil frente a pares (sin etiquetas)",
        "inexacto.linked": "NIT vinculados, un negocio fragmentado (sin etiquetas)",
        "inexacto.employees": "Ingresos por empleado",
        "inexacto.outside": "Ingresos fuera del municipio",
        "inexacto.deductions": "Deducciones",
        "inexacto.rate": "Tarifa de la actividad",
        "inexacto.yoy": "Cambio frente a otros años",
        "inexacto.assets": "Activos registrados",
        "inexacto.suspected": "Cruces de información",
        "inexacto.size": "Tamaño de la declaración",
        "inexacto.late": "Oportunidad de la declaración",
        "inexacto.corrections": "Correcciones",
        "inexacto.paid": "Pago",
        "inexacto.past_audits": "Auditorías anteriores",
        "inexacto.entity": "Tipo de contribuyente",
        "omiso.third_party": "Información de terceros (reteICA)",
        "omiso.contractor": "Contratista de otro municipio (sin etiquetas)",
        "omiso.history": "Historial de declaraciones",
        "omiso.registry": "Registro mercantil",
        "omiso.rit": "Registro de información tributaria (RIT)",
        "omiso.size": "Tamaño registrado",
        "omiso.past_audits": "Auditorías anteriores",
        "omiso.activity": "Actividad",
        "omiso.entity": "Tipo de contribuyente",
        "omiso.late_filing": "Declaración posiblemente tardía",
        "general.expected": "Impuesto esperado",
        "general.statute": "Firmeza",
        "general.no_factor": "Sin factor destacado",
        "general.no_model": "Sin modelo",
        "general.not_explained": "Sin explicación",
    },
    "en": {
        "inexacto.third_party": "Third-party evidence (reteICA)",
        "inexacto.peers": "Income against peers",
        "inexacto.asset_peers": "Income against peers' assets",
        "inexacto.registry": "Commerce registry against peers (label-free)",
        "inexacto.linked": "Linked NITs, one business split (label-free)",
        "inexacto.employees": "Income per employee",
        "inexacto.outside": "Income outside the municipality",
        "inexacto.deductions": "Deductions",
        "inexacto.rate": "Activity rate",
        "inexacto.yoy": "Change against other years",
        "inexacto.assets": "Registered assets",
        "inexacto.suspected": "Data matching",
        "inexacto.size": "Size of the return",
        "inexacto.late": "Filing on time",
        "inexacto.corrections": "Corrections",
        "inexacto.paid": "Payment",
        "inexacto.past_audits": "Past audits",
        "inexacto.entity": "Taxpayer type",
        "omiso.third_party": "Third-party evidence (reteICA)",
        "omiso.contractor": "Contractor from elsewhere (label-free)",
        "omiso.history": "Filing history",
        "omiso.registry": "Chamber of commerce registry",
        "omiso.rit": "Municipal tax registry (RIT)",
        "omiso.size": "Registered size",
        "omiso.past_audits": "Past audits",
        "omiso.activity": "Activity",
        "omiso.entity": "Taxpayer type",
        "omiso.late_filing": "Possibly a late return",
        "general.expected": "Expected tax",
        "general.statute": "Statute",
        "general.no_factor": "No factor stands out",
        "general.no_model": "No model",
        "general.not_explained": "Not explained",
    },
}

# Words the templates' formats insert.
WORDS = {
    "es": {
        "below": "{} por debajo de", "above": "{} por encima de", "unknown_rel": "? frente a",
        "class": "la clase", "division": "la división", "section": "la sección",
        "band": ", tamaño {}", "micro": "micro", "small": "pequeño", "medium": "mediano",
        "large": "grande", "per_mil": "{} por mil",
    },
    "en": {
        "below": "{} below", "above": "{} above", "unknown_rel": "? against",
        "class": "class", "division": "division", "section": "section",
        "band": ", {} size", "micro": "micro", "small": "small", "medium": "medium",
        "large": "large", "per_mil": "{} per mil",
    },
}  # fmt: skip


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def number(value: float, decimals: int, lang: str) -> str:
    """``1234.5`` as ``1.234,5`` (Spanish, Colombia) or ``1,234.5`` (English)."""
    text = f"{value:,.{decimals}f}"
    if lang == "es":
        return text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def money(value: object, lang: str = "es") -> str:
    """Pesos the way an inspector reads them. Spanish: ``COP 2,3 mil M`` (thousands of
    millions), ``COP 410 M`` (millions), ``COP 85.000`` below a million; one decimal below 10
    of the unit. English: ``COP 2.3 bn``, ``COP 410 M``, ``COP 85 k``."""
    if _missing(value):
        return "COP ?"
    v = float(value)  # type: ignore[arg-type]
    units = (
        ((1e9, "mil M"), (1e6, "M")) if lang == "es" else ((1e9, "bn"), (1e6, "M"), (1e3, "k"))
    )
    for size, unit in units:
        if abs(v) >= size:
            n = v / size
            return f"COP {number(n, 1 if abs(n) < 10 else 0, lang)} {unit}"
    return f"COP {number(v, 0, lang)}"


def percent(value: float, lang: str) -> str:
    return f"{number(value * 100, 0, lang)} %"


def day(value: object, lang: str) -> str:
    d = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return d.strftime("%d/%m/%Y") if lang == "es" else d.isoformat()


class _Formatter(string.Formatter):
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.words = WORDS[lang]

    def format_field(self, value: object, spec: str) -> str:  # noqa: C901 - one branch a format
        lang, w = self.lang, self.words
        if spec == "band":
            if value in (None, "unknown"):
                return ""
            return w["band"].format(w.get(str(value), str(value)))
        if spec == "group":
            if not value:
                return f"{w['section']} ?"
            level, _, code = str(value).partition(" ")
            return f"{w.get(level, level)} {code}"
        if _missing(value):
            return "COP ?" if spec == "cop" else "?"
        if spec == "cop":
            return money(value, lang)
        if spec == "pct":
            return percent(float(value), lang)  # type: ignore[arg-type]
        if spec == "centile":
            return number(float(value) * 100, 0, lang)  # type: ignore[arg-type]
        if spec == "rate":
            digits = number(float(value), 2, lang).rstrip("0").rstrip(",.")  # type: ignore[arg-type]
            return w["per_mil"].format(digits)
        if spec == "n":
            return number(float(value), 0, lang)  # type: ignore[arg-type]
        if spec == "y":
            return str(int(float(value)))  # type: ignore[arg-type]
        if spec in ("d1", "d2"):
            return number(float(value), int(spec[1]), lang)  # type: ignore[arg-type]
        if spec == "rel":
            ratio = float(value)  # type: ignore[arg-type]
            if ratio < 1:
                return w["below"].format(percent(1 - ratio, lang))
            return w["above"].format(percent(ratio - 1, lang))
        if spec == "date":
            return day(value, lang)
        return str(value)


def fields(template: str) -> set[str]:
    """The figure names a template quotes."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def phrase(key: str, figures: dict, lang: str = "es") -> str:
    return _Formatter(lang).format(TEXT[lang][key], **figures)


def render(reasons: Sequence[Reason], lang: str = "es") -> str:
    """A case's reasons as one text: families joined with ``"; "``."""
    if lang not in TEXT:
        raise ValueError(f"language {lang!r}: use one of {', '.join(LANGUAGES)}")
    formatter = _Formatter(lang)
    return "; ".join(
        "".join(formatter.format(TEXT[lang][key], **figures) for key, figures in r.phrases)
        for r in reasons
    )


def stored(text: str | None, codes: str | None, lang: str = "es") -> str | None:
    """A case's reasons in ``lang`` from what ``marts.audit_ranking`` stores: ``reason_codes``
    when the case was explained; below the explained top (no codes) the one fixed sentence,
    whose only figure is read back from the Spanish text."""
    if codes:
        return render(loads(codes), lang)
    match = re.fullmatch(r"por debajo de los ([\d.]+) primeros casos explicados", text or "")
    if match and lang != "es":
        return render(not_explained(int(match.group(1).replace(".", ""))), lang)
    return text


def figure_texts(reasons: Sequence[Reason], lang: str = "es") -> list[tuple[str, str, object, str]]:
    """Every figure the reasons quote: (family, figure name, raw value, as written)."""
    out = []
    formatter = _Formatter(lang)
    for r in reasons:
        for key, figures in r.phrases:
            for _, name, spec, _ in string.Formatter().parse(TEXT[lang][key]):
                if name and spec not in ("band", "group"):
                    value = figures.get(name)
                    out.append((r.family, name, value, formatter.format_field(value, spec or "")))
    return out
