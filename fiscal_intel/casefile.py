"""One case's evidence, as a file an inspector can put in front of the taxpayer.

``fiscal-intel case --nit NIT --year YEAR`` gathers what the warehouse knows about one case:
the summary (score, expected recovery, statute date, reasons), every figure the reasons quote
and where it comes from, the RIT and chamber-of-commerce records, every return of the NIT (all
years, corrections included), its payments, the withholdings reported for the year by agent and
bimester, and the case's features with the peer figures they were compared with. XLSX goes
through the audit lists' safe writer (:func:`fiscal_intel.inspector_files.write_workbook`);
HTML escapes every value and forbids scripts (Content-Security-Policy), so a legal name cannot
run anything.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path

import duckdb

from fiscal_intel.feature_labels import label
from fiscal_intel.ingest.nit import check_digit
from fiscal_intel.inspector_files import WORDS as LIST_WORDS
from fiscal_intel.inspector_files import Sheet, Typed, auto_kind, connect, write_workbook
from fiscal_intel.scoring.reason_texts import (
    FAMILY_NAMES,
    day,
    figure_texts,
    money,
    number,
    render,
)
from fiscal_intel.scoring.reasons import Reason, loads

# Feature-table columns that are training labels or bookkeeping, not evidence of this case.
HIDDEN_FEATURES = ("label_adjusted", "label_amount", "audit_selection", "audit_closed_on",
                   "is_candidate")  # fmt: skip
# Reason figures that are not a feature column: where the case file shows them.
DERIVED = {
    "amount": "predicted_amount",
    "group": "asset_peer_group",
    "previous_income": "gross_income / (1 + income_change_yoy)",
    "outside_share_then": "outside_share - outside_share_vs_adjusted_years",
    "late_probability": "late_filing_model",
}

WORDS = {
    "es": {
        "summary": "Resumen", "reasons": "Motivos", "rit": "RIT", "rues": "Cámara de comercio",
        "returns": "Declaraciones", "payments": "Pagos", "withholdings": "Retenciones",
        "features": "Indicadores",
        "title": "Expediente del caso {program} {nit} – año gravable {year}",
        "item": "Dato", "value": "Valor",
        "nit": "NIT", "legal_name": "Razón social", "program": "Programa",
        "tax_year": "Año gravable", "rank": "Posición en la lista",
        "risk_score": "Probabilidad de hallazgo",
        "predicted_amount": "Valor estimado si hay hallazgo (COP)",
        "expected_recovery": "Recaudo esperado (COP)", "statute_expires_on": "Vence la firmeza",
        "model_version": "Versión del modelo", "as_of": "Fecha de corte de los datos",
        "all_reasons": "Motivos (texto completo)",
        "not_ranked": (
            "El caso no está en la lista (auditado, en curso, vencido o sin datos): se muestra "
            "la evidencia sin puntaje."
        ),
        "status": "Estado",
        "family": "Motivo", "text": "Texto del motivo", "figure": "Cifra",
        "shown": "Como aparece en el motivo", "raw": "Valor exacto", "source": "De dónde sale",
        "source_feature": "Indicadores: {name}", "source_derived": "calculado: {how}",
        "source_summary": "Resumen: {name}", "source_model": "modelo de declaración tardía",
        "current": "vigente", "superseded": "reemplazada por una corrección",
        "total": "Total",
        "indicator": "Indicador", "code": "Código", "quoted": "Citado en los motivos",
        "yes": "sí", "no": "no",
        "agent_name": "Razón social del agente",
        "secrecy": (
            "Información amparada por la reserva tributaria (ET art. 583): solo para uso de la "
            "fiscalización."
        ),
    },
    "en": {
        "summary": "Summary", "reasons": "Reasons", "rit": "RIT", "rues": "Chamber of commerce",
        "returns": "Returns", "payments": "Payments", "withholdings": "Withholdings",
        "features": "Features",
        "title": "Case file {program} {nit} – tax year {year}",
        "item": "Item", "value": "Value",
        "nit": "NIT", "legal_name": "Legal name", "program": "Program", "tax_year": "Tax year",
        "rank": "Rank in the list", "risk_score": "Probability of a finding",
        "predicted_amount": "Amount if adjusted (COP)",
        "expected_recovery": "Expected recovery (COP)",
        "statute_expires_on": "Statute expires on", "model_version": "Model version",
        "as_of": "Data as of", "all_reasons": "Reasons (full text)",
        "not_ranked": (
            "The case is not in the list (audited, in progress, expired or no data): evidence "
            "shown without a score."
        ),
        "status": "Status",
        "family": "Reason", "text": "Reason text", "figure": "Figure",
        "shown": "As written in the reason", "raw": "Exact value", "source": "Where it comes from",
        "source_feature": "Features: {name}", "source_derived": "derived: {how}",
        "source_summary": "Summary: {name}", "source_model": "late-filing model",
        "current": "current", "superseded": "superseded by a correction",
        "total": "Total",
        "indicator": "Feature", "code": "Code", "quoted": "Quoted in the reasons",
        "yes": "yes", "no": "no",
        "agent_name": "Agent legal name",
        "secrecy": "Taxpayer data under tax secrecy (ET art. 583): for audit staff only.",
    },
}  # fmt: skip

# Column headers of the evidence sheets (the landing contract's columns).
COLUMN_LABELS = {
    "es": {
        "nit": "NIT", "dv": "DV", "taxpayer_type": "Tipo de contribuyente",
        "legal_name": "Razón social", "ciiu": "CIIU", "comuna": "Comuna",
        "registered_on": "Fecha de inscripción", "status": "Estado", "regime": "Régimen",
        "source_file": "Archivo de origen", "source_row": "Fila en el archivo",
        "matricula": "Matrícula", "nit_source": "Origen del NIT",
        "organization_type": "Tipo de organización", "ciiu_secondary": "CIIU secundario",
        "municipality_code": "Municipio (DANE)", "is_local": "En el municipio",
        "last_renewal_year": "Último año renovado", "cancelled_on": "Fecha de cancelación",
        "total_assets": "Activos totales (COP)", "employees": "Empleados",
        "tax_year": "Año gravable", "declaration_id": "Declaración", "filed_on": "Presentada el",
        "gross_income": "Ingresos brutos (renglón 8)",
        "income_outside": "Ingresos fuera del municipio (renglón 9)",
        "deductions": "Deducciones (renglones 11–15)",
        "taxable_income": "Ingresos gravables (renglón 16)", "rate_per_mil": "Tarifa (por mil)",
        "ica_tax": "Impuesto de ICA (renglón 20)", "avisos_tableros": "Avisos y tableros (21)",
        "sobretasa_bomberil": "Sobretasa bomberil (23)", "total_tax": "Total impuesto (25)",
        "withholdings_credited": "Retenciones descontadas (27)", "penalties": "Sanciones (31)",
        "balance_due": "Saldo a pagar (33)", "payment_id": "Recibo", "paid_on": "Pagado el",
        "amount": "Valor (COP)", "agent_nit": "NIT del agente retenedor", "bimester": "Bimestre",
        "base_amount": "Base de retención (COP)", "withheld_amount": "Valor retenido (COP)",
        "reports": "Reportes",
    },
    "en": {
        "nit": "NIT", "dv": "DV", "taxpayer_type": "Taxpayer type", "legal_name": "Legal name",
        "ciiu": "CIIU", "comuna": "District", "registered_on": "Registered on",
        "status": "Status", "regime": "Regime", "source_file": "Source file",
        "source_row": "Row in file", "matricula": "Registration no.", "nit_source": "NIT source",
        "organization_type": "Organization type", "ciiu_secondary": "Secondary CIIU",
        "municipality_code": "Municipality (DANE)", "is_local": "In the municipality",
        "last_renewal_year": "Last renewal year", "cancelled_on": "Cancelled on",
        "total_assets": "Total assets (COP)", "employees": "Employees",
        "tax_year": "Tax year", "declaration_id": "Return", "filed_on": "Filed on",
        "gross_income": "Gross income (line 8)", "income_outside": "Income outside (line 9)",
        "deductions": "Deductions (lines 11-15)", "taxable_income": "Taxable income (line 16)",
        "rate_per_mil": "Rate (per mil)", "ica_tax": "ICA tax (line 20)",
        "avisos_tableros": "Signboard surcharge (21)", "sobretasa_bomberil": "Fire surcharge (23)",
        "total_tax": "Total tax (25)", "withholdings_credited": "Withholdings credited (27)",
        "penalties": "Penalties (31)", "balance_due": "Balance due (33)",
        "payment_id": "Receipt", "paid_on": "Paid on", "amount": "Amount (COP)",
        "agent_nit": "Withholding agent NIT", "bimester": "Bimester",
        "base_amount": "Withholding base (COP)", "withheld_amount": "Withheld (COP)",
        "reports": "Reports",
    },
}  # fmt: skip


# The action chosen for the case (fiscal_intel.actions) and its expected net yield.
ACTION_WORDS = {
    "es": {"action": "Acción recomendada",
           "expected_net": "Rendimiento neto esperado de la acción (COP)"},
    "en": {"action": "Recommended action",
           "expected_net": "Expected net yield of the action (COP)"},
}  # fmt: skip


def _columns(names: list[str], kinds: list[str] | None, lang: str, w: dict) -> list:
    labels = {**COLUMN_LABELS[lang], "agent_name": w["agent_name"], "status": w["status"]}
    kinds = kinds or ["auto"] * len(names)
    return [(n, labels.get(n, n), k) for n, k in zip(names, kinds, strict=True)]


def _words(rows: list[tuple], w: dict) -> list[tuple]:
    """Booleans as the reader's yes / no."""
    return [
        tuple(w["yes"] if v is True else w["no"] if v is False else v for v in row)
        for row in rows
    ]


# Evidence tables: (sheet word, query, columns as (key, kind)); headers are the column keys in
# the contract's names (the landing contract documents them), so they match the office's exports.
RETURNS_SQL = """
select d.tax_year, d.declaration_id, d.filed_on,
    case when s.declaration_id is not null then $current else $superseded end as status,
    d.gross_income, d.income_outside, d.deductions, d.taxable_income, d.ciiu, d.rate_per_mil,
    d.ica_tax, d.avisos_tableros, d.sobretasa_bomberil, d.total_tax, d.withholdings_credited,
    d.penalties, d.balance_due, d._file as source_file, d._row_number as source_row
from (select distinct on (declaration_id) * from raw.declarations where nit = $nit
      order by declaration_id, _batch_id) as d
left join staging.stg_declarations as s on d.declaration_id = s.declaration_id
order by d.tax_year, d.filed_on, d.declaration_id
"""
RETURN_KINDS = ["year", "text", "date", "text", *["money"] * 4, "text", "number",
                *["money"] * 7, "text", "int"]  # fmt: skip


@dataclass(frozen=True)
class Case:
    nit: str
    tax_year: int
    program: str | None
    ranking: dict | None
    features: dict | None
    reasons: list[Reason]


def canonical_nit(text: str) -> str:
    """``900.123.456-7`` → ``900123456``: digits only, DV checked, no leading zeros."""
    raw = text.strip().replace(".", "").replace(" ", "").replace(",", "")
    nit, _, dv = raw.partition("-")
    if not nit.isdigit() or (dv and not dv.isdigit()):
        raise ValueError(f"--nit {text!r} is not a NIT")
    nit = nit.lstrip("0") or "0"
    if dv and int(dv) != check_digit(nit):
        raise ValueError(f"--nit {text!r}: verification digit {dv} does not match")
    return nit


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> tuple[list[str], list[tuple]]:
    cursor = con.execute(sql, params)
    return [d[0] for d in cursor.description], cursor.fetchall()


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> dict | None:
    names, rows = _rows(con, sql, params)
    return dict(zip(names, rows[0], strict=True)) if rows else None


def find_case(con: duckdb.DuckDBPyConnection, nit: str, year: int, program: str | None) -> Case:
    """The case as ranked (when it is) and its feature row; ``program`` defaults to the one the
    ranking has for that NIT and year, else to the one whose features hold it."""
    params = {"nit": nit, "year": year}
    filter_program = "" if program is None else " and program = $program"
    if program is not None:
        params["program"] = program
    ranking = _one(
        con,
        f"select * from marts.audit_ranking where nit = $nit and tax_year = $year{filter_program}"
        " order by rank limit 1",
        params,
    )
    if ranking is not None:
        program = ranking["program"]
    features = None
    for p in [program] if program else ["inexacto", "omiso"]:
        features = _one(
            con, f"select * from features.{p}_features where nit = $nit and tax_year = $year",
            {"nit": nit, "year": year},
        )
        if features is not None:
            program = p
            break
    if ranking is None and features is None:
        known = con.execute(
            "select count(*) from staging.stg_entities where nit = ?", [nit]
        ).fetchall()[0][0]
        if not known:
            raise ValueError(f"NIT {nit} is not in the warehouse")
    reasons = loads(ranking.get("reason_codes")) if ranking else []
    return Case(nit, year, program, ranking, features, reasons)


def _figure_source(name: str, case: Case, w: dict) -> str:
    if case.features is not None and name in case.features:
        return w["source_feature"].format(name=name)
    how = DERIVED.get(name)
    if how == "late_filing_model":
        return w["source_model"]
    if how in ("predicted_amount",):
        return w["source_summary"].format(name=w["predicted_amount"])
    if name == "statute_expires_on":
        return w["source_summary"].format(name=w["statute_expires_on"])
    if how and case.features is not None and how in case.features:
        return w["source_feature"].format(name=how)
    return w["source_derived"].format(how=how or name)


def case_sheets(con: duckdb.DuckDBPyConnection, case: Case, lang: str) -> list[Sheet]:
    """The case file's sections, in the order an inspector reads them."""
    w = WORDS[lang]
    r = case.ranking or {}
    as_of = con.execute("select as_of from staging.as_of_date").fetchall()[0][0]
    entity = _one(con, "select * from staging.stg_entities where nit = $nit", {"nit": case.nit})
    entity = entity or {}
    item = [("item", w["item"], "text")]
    summary: list[tuple[str, object]] = [
        (w["nit"], case.nit),
        (w["legal_name"], entity.get("legal_name")),
        (w["program"], case.program),
        (w["tax_year"], case.tax_year),
        (w["as_of"], as_of),
    ]
    summary_kinds = ["text", "text", "text", "year", "date"]
    if case.ranking is None:
        summary.append((w["status"], w["not_ranked"]))
        summary_kinds.append("long")
    else:
        summary += [
            (w["rank"], r["rank"]),
            (w["risk_score"], r["risk_score"]),
            (w["predicted_amount"], r["predicted_amount"]),
            (w["expected_recovery"], r["expected_recovery"]),
            (w["statute_expires_on"], r["statute_expires_on"]),
            (w["model_version"], r.get("model_version")),
            (w["all_reasons"], render(case.reasons, lang) if case.reasons else r["reasons"]),
        ]
        summary_kinds += ["int", "prob", "money", "money", "date", "text", "long"]
        if r.get("action"):
            from fiscal_intel.actions.texts import NAMES

            summary += [
                (ACTION_WORDS[lang]["action"], NAMES[lang].get(r["action"], r["action"])),
                (ACTION_WORDS[lang]["expected_net"], r.get("expected_net")),
            ]
            summary_kinds += ["text", "money"]
    sheets = [
        Sheet(
            w["summary"],
            [*item, ("value", w["value"], "auto")],
            [(k, Typed(v, kind)) for (k, v), kind in zip(summary, summary_kinds, strict=True)],
        )
    ]
    # Every figure a reason quotes, as written and exactly, with where the file shows it.
    figures = []
    for reason in case.reasons:
        text = render([reason], lang)
        for _, name, raw, shown in figure_texts([reason], lang):
            family = FAMILY_NAMES[lang].get(reason.family, reason.family)
            figures.append((family, text, name, shown, raw, _figure_source(name, case, w)))
    sheets.append(
        Sheet(
            w["reasons"],
            [("family", w["family"], "text"), ("text", w["text"], "wrap"),
             ("figure", w["figure"], "text"), ("shown", w["shown"], "text"),
             ("raw", w["raw"], "auto"), ("source", w["source"], "text")],
            figures,
        )
    )  # fmt: skip
    params = {"nit": case.nit}
    for word, sql in (
        ("rit", "select * exclude (source_file, source_row), source_file, source_row "
                "from staging.stg_taxpayers where nit = $nit"),
        ("rues", "select * exclude (source_file, source_row), source_file, source_row "
                 "from staging.stg_commerce_registry where nit = $nit "
                 "order by is_local desc, registered_on"),
    ):  # fmt: skip
        names, rows = _rows(con, sql, params)
        sheets.append(Sheet(w[word], _columns(names, None, lang, w), _words(rows, w)))
    names, rows = _rows(
        con, RETURNS_SQL, {**params, "current": w["current"], "superseded": w["superseded"]}
    )
    sheets.append(Sheet(w["returns"], _columns(names, RETURN_KINDS, lang, w), rows))
    names, rows = _rows(
        con,
        "select tax_year, payment_id, paid_on, amount, source_file, source_row "
        "from staging.stg_payments where nit = $nit order by tax_year, paid_on, payment_id",
        params,
    )
    kinds = ["year", "text", "date", "money", "text", "int"]
    sheets.append(Sheet(w["payments"], _columns(names, kinds, lang, w), rows))
    names, rows = _rows(
        con,
        "select w.agent_nit, any_value(e.legal_name) as agent_name, w.period as bimester, "
        "sum(w.base_amount) as base_amount, sum(w.withheld_amount) as withheld_amount, "
        "count(*) as reports "
        "from staging.stg_withholdings as w left join staging.stg_entities as e "
        "on w.agent_nit = e.nit where w.nit = $nit and w.tax_year = $year "
        "group by w.agent_nit, w.period order by w.agent_nit, w.period",
        {**params, "year": case.tax_year},
    )
    kinds = ["text", "text", "int", "money", "money", "int"]
    if rows:
        rows.append((w["total"], None, None, sum(float(x[3] or 0) for x in rows),
                     sum(float(x[4] or 0) for x in rows), sum(x[5] for x in rows)))  # fmt: skip
    sheets.append(Sheet(w["withholdings"], _columns(names, kinds, lang, w), rows))
    quoted = {name for _, name, _, _ in figure_texts(case.reasons, lang)}
    quoted |= {DERIVED[n] for n in quoted if n in DERIVED}
    feature_rows = [
        (label(k, lang), k, Typed(v, "auto"), w["yes"] if k in quoted else w["no"])
        for k, v in (case.features or {}).items()
        if k not in HIDDEN_FEATURES
    ]
    sheets.append(
        Sheet(w["features"], [("indicator", w["indicator"], "long"),
                              ("code", w["code"], "text"), ("value", w["value"], "auto"),
                              ("quoted", w["quoted"], "text")],
              feature_rows)
    )  # fmt: skip
    return sheets


def _html_value(value: object, kind: str, lang: str) -> str:
    if isinstance(value, Typed):
        value, kind = value.value, value.kind
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if kind == "auto":
        kind = auto_kind(value)
    if kind == "date":
        return day(value, lang)
    if kind == "money":
        return number(float(value), 0, lang)  # type: ignore[arg-type]
    if kind == "prob":
        return number(float(value) * 100, 1, lang) + " %"  # type: ignore[arg-type]
    if kind == "number":
        return number(float(value), 4, lang).rstrip("0").rstrip(",.")  # type: ignore[arg-type]
    if kind in ("int", "year"):
        whole = float(value)  # type: ignore[arg-type]
        return str(int(whole)) if kind == "year" else number(whole, 0, lang)
    return str(value)


def write_html(out: Path, title: str, sheets: list[Sheet], lang: str, note: str) -> None:
    """One offline page, every value escaped, scripts forbidden by its own policy."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{e(lang)}"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin-bottom:2em}th,td{border:1px solid #bbb;padding:.25em .5em;vertical-align:top;"
        "text-align:left}th{background:#ddebf7}td.n{text-align:right}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{e(note)}</p>",
    ]
    for sheet in sheets:
        parts.append(f"<h2>{e(sheet.name)}</h2><table><thead><tr>")
        parts += [f"<th>{e(title_)}</th>" for _, title_, _ in sheet.columns]
        parts.append("</tr></thead><tbody>")
        kinds = [k for _, _, k in sheet.columns]
        for row in sheet.rows:
            cells = []
            for v, k in zip(row, kinds, strict=True):
                kind = v.kind if isinstance(v, Typed) else k
                numeric = kind in ("money", "int", "prob", "number") or (
                    kind == "auto" and auto_kind(getattr(v, "value", v)) in ("int", "number")
                )
                cls = ' class="n"' if numeric else ""
                cells.append(f"<td{cls}>{e(_html_value(v, k, lang))}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    out.write_text("\n".join(parts), encoding="utf-8")


def write_case_file(
    warehouse: Path, nit: str, year: int, out: Path, *, program: str | None = None,
    lang: str = "es", municipality: str | None = None,
) -> Case:
    """Write the case file to ``out`` (.xlsx or .html); returns the case it describes."""
    from fiscal_intel.inspector_files import about_sheet, check_lang

    check_lang(lang)
    suffix = out.suffix.lower()
    if suffix not in (".xlsx", ".html"):
        raise ValueError(f"{out}: use a .xlsx or .html file name")
    if program is not None and program not in ("omiso", "inexacto"):
        raise ValueError(f"--program {program}: use omiso or inexacto")
    canonical = canonical_nit(nit)
    with connect(warehouse) as con:
        case = find_case(con, canonical, year, program)
        sheets = case_sheets(con, case, lang)
    w = WORDS[lang]
    title = w["title"].format(program=case.program or "", nit=case.nit, year=year)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".html":
        write_html(out, title, sheets, lang, w["secrecy"])
    else:
        about = [
            (LIST_WORDS[lang]["municipality"], municipality or LIST_WORDS[lang]["unknown"]),
            (w["item"], title),
            (LIST_WORDS[lang]["reading"], LIST_WORDS[lang]["reading_value"]),
            (LIST_WORDS[lang]["secrecy"], w["secrecy"]),
        ]
        write_workbook(out, [*sheets, about_sheet(about, lang)], lang)
    return case


__all__ = ["Case", "canonical_nit", "case_sheets", "find_case", "money", "write_case_file"]
