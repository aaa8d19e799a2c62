"""The department edition of the leadership report: one offline HTML table comparing the
municipalities, read from ``department.duckdb`` only (aggregates under tax secrecy)."""

from __future__ import annotations

import html
from pathlib import Path

import duckdb

from fiscal_intel.leadership.i18n import Formats
from fiscal_intel.leadership.report import write_report

# Wording of this report, Spanish first (English on request).
TEXT = {
    "es": {
        "title": "Impuesto de industria y comercio: municipios del departamento",
        "note": "Solo agregados por municipio bajo reserva tributaria (ET art. 583): una cifra de "
        "menos contribuyentes que el umbral no se muestra (—). Sin total departamental: restado "
        "de los municipios revelaría una cifra oculta.",
        "status": {"success": "completo", "incomplete": "incompleto", "failed": "falló"},
        "columns": (
            "Municipio", "Estado", "Año", "Recaudo", "Contribuyentes que pagan",
            "Tasa de declaración", "Cartera", "Fiscalizaciones cerradas", "Liquidado",
            "Brecha anual estimada", "Pronóstico", "Año pronosticado",
        ),
    },
    "en": {
        "title": "Industry and commerce tax: the department's municipalities",
        "note": "Aggregates per municipality only, under tax secrecy (ET art. 583): a figure of "
        "fewer taxpayers than the threshold is not shown (—). No department total: subtracted "
        "from the municipalities it would reveal a hidden figure.",
        "status": {"success": "complete", "incomplete": "incomplete", "failed": "failed"},
        "columns": (
            "Municipality", "Status", "Year", "Collected", "Payers", "Filing rate", "Arrears",
            "Audits closed", "Assessed", "Estimated annual gap", "Forecast", "Forecast year",
        ),
    },
}  # fmt: skip

_SELECT = """
select municipality_code, municipality_name, status, last_year, collected, payers, filing_rate,
    arrears_outstanding, audits_closed, audit_assessed, tax_gap_annual, forecast_collected,
    forecast_year
from marts.municipality_summary order by municipality_code
"""


def department_report(department: Path, out: Path, language: str = "es") -> int:
    """Write the department report from ``department.duckdb``; returns the bytes written."""
    words, f = TEXT[language], Formats(language)
    with duckdb.connect(str(department), read_only=True) as con:
        rows = con.execute(_SELECT).fetchall()

    def dash(text: str) -> str:
        return "—" if text == f.number(None) else text

    body = []
    for code, name, status, year, collected, payers, rate, arrears, closed, assessed, gap, fc, fy in rows:  # noqa: E501
        cells = [
            f"{name} ({code})" if name != code else code,
            words["status"].get(status, status),
            "" if year is None else str(year),
            dash(f.money(collected)),
            dash(f.number(payers)),
            "—" if rate is None else f"{f.number(100 * rate, 1)} %",
            dash(f.money(arrears)),
            dash(f.number(closed)),
            dash(f.money(assessed)),
            dash(f.money(gap)),
            dash(f.money(fc)),
            "" if fy is None else str(fy),
        ]
        body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in words["columns"])
    page = (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(words['title'])}</title><style>"
        "body{font-family:system-ui,sans-serif;margin:1rem}table{border-collapse:collapse}"
        "th,td{border-bottom:1px solid #ccc;padding:.3rem .5rem;text-align:right}"
        "td:first-child,th:first-child{text-align:left}div{overflow-x:auto}"
        f"</style></head><body><h1>{html.escape(words['title'])}</h1>"
        f"<p>{html.escape(words['note'])}</p><div><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div></body></html>\n"
    )
    return write_report(page, out)
