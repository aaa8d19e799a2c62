"""The short summary printed after a run: what loaded, what the lists say, where to look.

The list lines (the part an inspector or the head of office reads) are in the run's language,
``settings.report_language`` (Spanish by default; ``--lang en``), with the reasons rendered
from ``reason_codes`` in that language.
"""

from __future__ import annotations

import duckdb

from fiscal_intel.published import published_path, reading
from fiscal_intel.scoring.programs import PROGRAMS
from fiscal_intel.scoring.reason_texts import money, number, stored
from fiscal_intel.settings import Settings

# The list lines of the summary, per language.
LIST_LINES = {
    "es": {
        "header": "\n{program}: {cases} casos abiertos, recaudo esperado {total} en total; "
        "primeros {top}:",
        "case": "  {rank:>3}. {nit} {name:<34} {year}  p={p}  {expected}",
        "command": "Listas: .venv/bin/fiscal-intel audit-list --program inexacto --top 100 "
        "--out inexacto.xlsx\n"
        "Expediente de un caso: .venv/bin/fiscal-intel case --nit NIT --year AÑO --out caso.xlsx",
    },
    "en": {
        "header": "\n{program}: {cases} open cases, expected recovery {total} in all; top {top}:",
        "case": "  {rank:>3}. {nit} {name:<34} {year}  p={p}  {expected}",
        "command": "Lists:  .venv/bin/fiscal-intel audit-list --program inexacto --top 100 "
        "--out inexacto.xlsx --lang en\n"
        "Case file: .venv/bin/fiscal-intel case --nit NIT --year YEAR --out case.xlsx --lang en",
    },
}


def list_lines(con: duckdb.DuckDBPyConnection, lang: str = "es", top: int = 10) -> list[str]:
    """The summary's lines about the audit lists, in ``lang``."""
    words = LIST_LINES[lang]
    codes = con.execute(
        "select count(*) from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'audit_ranking' and column_name = 'reason_codes'"
    ).fetchall()[0][0]
    lines = []
    for program in PROGRAMS:
        total, cases = con.execute(
            "select sum(expected_recovery), count(*) from marts.audit_ranking where program = ?",
            [program],
        ).fetchall()[0]
        lines.append(
            words["header"].format(
                program=program, cases=number(cases, 0, lang), total=money(total or 0, lang),
                top=top,
            )
        )  # fmt: skip
        for rank, nit, name, year, p, expected, reasons, structured in con.execute(
            "select rank, nit, legal_name, tax_year, risk_score, expected_recovery, reasons, "
            f"{'reason_codes' if codes else 'null'} "
            "from marts.audit_ranking where program = ? and rank <= ? order by rank",
            [program, top],
        ).fetchall():
            lines.append(
                words["case"].format(
                    rank=rank, nit=nit, name=str(name)[:34], year=year,
                    p=number(p, 2, lang), expected=money(expected, lang),
                )
            )  # fmt: skip
            lines.append(f"       {stored(reasons, structured, lang)}")
    return lines


def print_summary(settings: Settings, top: int = 10) -> None:
    lang = settings.report_language if settings.report_language in LIST_LINES else "es"
    with reading(settings.warehouse) as con:  # the published copy, as every reader
        as_of, source = con.execute(
            "select as_of, as_of_source from staging.as_of_date"
        ).fetchall()[0]
        print(f"\nAs of {as_of} ({source}).")
        print("\nRows per source (all loads in this warehouse):")
        print(f"  {'source':<18}{'files':>6}{'loaded':>12}{'quarantined':>13}")
        for source_name, files, loaded, quarantined in con.execute(
            "select source, count(*), sum(rows_loaded), sum(rows_quarantined) from ops.load_log "
            "where status = 'loaded' group by source order by source"
        ).fetchall():
            print(f"  {source_name:<18}{files:>6}{loaded:>12,}{quarantined:>13,}")
        failed = con.execute(
            "select count(*) from ops.load_log where status = 'failed'"
        ).fetchall()[0][0]
        if failed:
            print(f"  ({failed} failed file loads recorded in ops.load_log)")
        for line in list_lines(con, lang, top):
            print(line)
    print(
        "\nMarts (BI tools open the published copy, never the warehouse a run writes):\n"
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect("
        f"'{published_path(settings.warehouse)}', "
        "read_only=True).sql('from marts.revenue_monthly'))\"\n"
        f"{LIST_LINES[lang]['command']}\n"
        "Dagster UI: .venv/bin/dagster dev -w workspace.yaml"
    )
