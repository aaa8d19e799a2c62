"""Audit lists as files inspectors open: CSV for any tool, XLSX for Excel.

With a capacity (``inspectors`` × ``cases_per_inspector``) the top cases are split across the
inspectors: every case of one taxpayer goes to the same inspector (one visit covers all its open
years), and each new taxpayer goes to the inspector with the least expected recovery so far, so
workloads are equal in cases and close in money. The XLSX then has one sheet per inspector with
Spanish headers, as the fiscalización team reads it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fiscal_intel.published import reading
from fiscal_intel.sqlfiles import frame

COLUMNS = [
    "program",
    "rank",
    "nit",
    "legal_name",
    "tax_year",
    "risk_score",
    "expected_recovery",
    "reasons",
    "statute_expires_on",
]

# Column headers of the per-inspector workbook.
SPANISH_HEADERS = {
    "inspector": "Inspector",
    "program": "Programa",
    "rank": "Posición",
    "nit": "NIT",
    "legal_name": "Razón social",
    "tax_year": "Año gravable",
    "risk_score": "Probabilidad de hallazgo",
    "expected_recovery": "Recaudo esperado (COP)",
    "predicted_amount": "Valor estimado si hay hallazgo (COP)",
    "statute_expires_on": "Vence la firmeza",
    "reasons": "Motivos",
}


def audit_list(warehouse: Path, program: str, top: int) -> pl.DataFrame:
    """The top ``top`` cases of a program from ``marts.audit_ranking``."""
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist: run fiscal-intel first")
    if top < 1:
        raise ValueError("--top must be at least 1")
    with reading(warehouse) as con:  # the published copy: never in a run's way
        return frame(
            con,
            f"select {', '.join(COLUMNS)}, predicted_amount from marts.audit_ranking "
            "where program = $program and rank <= $top order by rank",
            {"program": program, "top": top},
        )


def assign_inspectors(cases: pl.DataFrame, inspectors: int, per_inspector: int) -> pl.DataFrame:
    """``cases`` (in rank order) with an ``inspector`` column 1..``inspectors``; at most
    ``per_inspector`` cases each, the cases beyond the total capacity dropped."""
    if inspectors < 1 or per_inspector < 1:
        raise ValueError("--inspectors and --cases-per-inspector must be at least 1")
    cases = cases.sort("rank").head(inspectors * per_inspector)
    expected = [float(e or 0.0) for e in cases["expected_recovery"]]
    groups: dict[str, list[int]] = {}
    for k, nit in enumerate(cases["nit"]):
        groups.setdefault(nit, []).append(k)
    load = [0] * inspectors
    money = [0.0] * inspectors
    assigned = [0] * cases.height
    # A taxpayer's cases are placed together, in the order of its best case, with the inspector
    # of least expected money that has room for all of them: placing them one by one let an
    # inspector fill up with others' cases before a taxpayer's later year arrived.
    for rows in groups.values():
        whole = [i for i in range(inspectors) if load[i] + len(rows) <= per_inspector]
        for k in rows:
            free = whole or [i for i in range(inspectors) if load[i] < per_inspector]
            i = min(free, key=lambda j: (money[j], j))
            whole = [i] if whole else []
            load[i] += 1
            money[i] += expected[k]
            assigned[k] = i + 1
    return cases.with_columns(pl.Series("inspector", assigned, dtype=pl.Int32))


def _write_workbook(cases: pl.DataFrame, out: Path, program: str) -> None:
    from xlsxwriter import Workbook

    columns = [c for c in SPANISH_HEADERS if c in cases.columns and c != "inspector"]
    with Workbook(str(out)) as workbook:
        for inspector, sheet in cases.group_by("inspector", maintain_order=True):
            headers = {c: SPANISH_HEADERS[c] for c in columns}
            sheet.sort("rank").select(columns).rename(headers).write_excel(
                workbook=workbook,
                worksheet=f"Inspector {inspector[0]}",
                autofit=True,
                float_precision=2,
                column_formats={
                    SPANISH_HEADERS["expected_recovery"]: "#,##0",
                    SPANISH_HEADERS["predicted_amount"]: "#,##0",
                    SPANISH_HEADERS["risk_score"]: "0.000",
                },
                header_format={"bold": True},
            )


def export_audit_list(
    warehouse: Path,
    program: str,
    top: int,
    out: Path,
    *,
    inspectors: int | None = None,
    cases_per_inspector: int | None = None,
) -> int:
    """Write the list to ``out`` (.csv or .xlsx); returns the number of cases written.

    With ``inspectors`` and ``cases_per_inspector`` the list is the top inspectors ×
    cases_per_inspector cases split across the inspectors (``top`` is then ignored).
    """
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ValueError(f"{out}: use a .csv or .xlsx file name")
    split = inspectors is not None or cases_per_inspector is not None
    if split:
        if inspectors is None or cases_per_inspector is None:
            raise ValueError("--inspectors and --cases-per-inspector go together")
        capacity = inspectors * cases_per_inspector
        cases = assign_inspectors(
            audit_list(warehouse, program, max(capacity, 1)), inspectors, cases_per_inspector
        )
    else:
        cases = audit_list(warehouse, program, top).drop("predicted_amount")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        cases.write_csv(out)
    elif split:
        _write_workbook(cases, out, program)
    else:
        cases.write_excel(
            out,
            worksheet=program,
            autofit=True,
            float_precision=2,
            column_formats={"expected_recovery": "#,##0", "risk_score": "0.000"},
        )
    return cases.height
