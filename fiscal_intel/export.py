"""Audit lists as files inspectors open: CSV for any tool, XLSX for Excel."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

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


def audit_list(warehouse: Path, program: str, top: int) -> pl.DataFrame:
    """The top ``top`` cases of a program from ``marts.audit_ranking``."""
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist: run fiscal-intel first")
    if top < 1:
        raise ValueError("--top must be at least 1")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return frame(
            con,
            f"select {', '.join(COLUMNS)} from marts.audit_ranking "
            "where program = $program and rank <= $top order by rank",
            {"program": program, "top": top},
        )


def export_audit_list(warehouse: Path, program: str, top: int, out: Path) -> int:
    """Write the list to ``out`` (.csv or .xlsx); returns the number of cases written."""
    cases = audit_list(warehouse, program, top)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".csv":
        cases.write_csv(out)
    elif suffix == ".xlsx":
        cases.write_excel(
            out,
            worksheet=program,
            autofit=True,
            float_precision=2,
            column_formats={"expected_recovery": "#,##0", "risk_score": "0.000"},
        )
    else:
        raise ValueError(f"{out}: use a .csv or .xlsx file name")
    return cases.height
