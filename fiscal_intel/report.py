"""The short summary printed after a run: what loaded, what the lists say, where to look."""

from __future__ import annotations

from fiscal_intel.published import published_path, reading
from fiscal_intel.scoring.reasons import cop
from fiscal_intel.settings import Settings


def print_summary(settings: Settings, top: int = 10) -> None:
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

        for program in ("omiso", "inexacto"):
            total, cases = con.execute(
                "select sum(expected_recovery), count(*) from marts.audit_ranking "
                "where program = ?",
                [program],
            ).fetchall()[0]
            print(
                f"\n{program}: {cases:,} open cases, expected recovery {cop(total or 0)} in all; "
                f"top {top}:"
            )
            for rank, nit, name, year, p, expected, reasons in con.execute(
                "select rank, nit, legal_name, tax_year, risk_score, expected_recovery, reasons "
                "from marts.audit_ranking where program = ? and rank <= ? order by rank",
                [program, top],
            ).fetchall():
                print(f"  {rank:>3}. {nit} {str(name)[:34]:<34} {year}  p={p:.2f}  {cop(expected)}")
                print(f"       {reasons}")
    print(
        "\nMarts (BI tools open the published copy, never the warehouse a run writes):\n"
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect("
        f"'{published_path(settings.warehouse)}', "
        "read_only=True).sql('from marts.revenue_monthly'))\"\n"
        "Lists:  .venv/bin/fiscal-intel audit-list --program inexacto --top 100 "
        "--out inexacto.xlsx\n"
        "Dagster UI: .venv/bin/dagster dev -w workspace.yaml"
    )
