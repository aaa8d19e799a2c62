"""The leadership report: one self-contained file, charts before tables, Spanish by default and
English on request, the same from the CLI, the Dagster asset and the shareable export."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from fiscal_intel.cli import main
from fiscal_intel.leadership.report import render_report

SECTIONS = ["trend", "sectors", "compliance", "arrears", "audit_yield", "gap", "forecast"]


@pytest.fixture(scope="module")
def html_es(demo_run) -> str:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        return render_report(con)


def external_references(html: str) -> list[str]:
    """Anything the browser could fetch: src/href attributes, url(), @import, scripts."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", html, flags=re.I)
    found += re.findall(r"url\(([^)]*)\)", html, flags=re.I)
    found += re.findall(r"@import[^;]*", html, flags=re.I)
    found += re.findall(r"<script|<link|<iframe|<object|<embed", html, flags=re.I)
    return found


def test_report_is_self_contained(html_es: str) -> None:
    assert external_references(html_es) == []
    # The only URL is SVG's namespace name, which is never fetched.
    assert set(re.findall(r"https?://[^\s\"'<>]+", html_es)) <= {"http://www.w3.org/2000/svg"}
    assert "Content-Security-Policy" in html_es and "default-src 'none'" in html_es


def test_charts_first_tables_second_every_section_present(html_es: str) -> None:
    charts, tables = html_es.index('id="charts"'), html_es.index('id="tables"')
    assert charts < tables
    positions = [html_es.index(f'<h3 id="{s}"') for s in SECTIONS]
    assert positions == sorted(positions) and positions[-1] < tables
    between = html_es[charts:tables]
    assert between.count("<svg") >= 9
    assert "<table" not in between and html_es[tables:].count("<table") >= 8


def test_spanish_by_default_english_on_request(demo_run, html_es: str) -> None:
    assert '<html lang="es">' in html_es
    assert "Tendencia del recaudo" in html_es and "Pronóstico" in html_es
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        html_en = render_report(con, language="en")
        with pytest.raises(ValueError):
            render_report(con, language="fr")
    assert '<html lang="en">' in html_en
    assert "Revenue trend" in html_en and "Tendencia" not in html_en
    # Spanish writes 1.234,5; English 1,234.5.
    assert re.search(r"\$ \d+,\d mil M", html_es) and re.search(r"COP \d+\.\d bn", html_en)


def test_same_marts_same_bytes(demo_run, html_es: str) -> None:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        assert render_report(con) == html_es
    # The Dagster asset wrote the same report beside the warehouse during the run.
    written = demo_run["warehouse"].parent / "leadership" / "report.html"
    assert written.read_text(encoding="utf-8") == html_es


def test_cli_report_and_export_give_the_same_report(demo_run, html_es: str,
                                                     tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "report.html"
    warehouse = str(demo_run["warehouse"])
    assert main(["report", "--warehouse", warehouse, "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == html_es
    assert main(["report", "--warehouse", warehouse, "--out", str(tmp_path / "en.html"),
                 "--lang", "en"]) == 0  # fmt: skip
    assert 'lang="en"' in (tmp_path / "en.html").read_text(encoding="utf-8")
    # From the shareable export alone (no staging): the same figures.
    share = tmp_path / "leadership.duckdb"
    assert main(["export-leadership", "--warehouse", warehouse, "--out", str(share)]) == 0
    assert main(["report", "--warehouse", str(share), "--out", str(tmp_path / "s.html")]) == 0
    from_share = (tmp_path / "s.html").read_text(encoding="utf-8")
    strip = re.compile(r"\d{4}-\d{2}-\d{2}</p>|\d{4}-\d{2}-\d{2}</footer>")  # as-of date lines
    assert strip.sub("", from_share) == strip.sub("", html_es)


def test_cli_report_fails_with_one_line_on_a_missing_warehouse(tmp_path: Path, capsys) -> None:
    code = main(["report", "--warehouse", str(tmp_path / "none.duckdb"), "--out",
                 str(tmp_path / "r.html")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "does not exist" in err and len(err.strip().splitlines()) == 1


def test_figures_that_need_a_note_have_one(demo_run, html_es: str) -> None:
    notes = re.findall(r'class="note fig-note">([^<]*)<', html_es)
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        as_of = con.execute("select as_of from staging.as_of_date").fetchall()[0][0]
        open_years = [
            y for (y,) in con.execute(
                "select tax_year from marts.compliance_yearly "
                "where ? - filing_deadline between 0 and 364", [as_of]
            ).fetchall()
        ]  # fmt: skip
        partial = [
            y for (y,) in con.execute(
                "select year from marts.audit_yield where program = 'total' and not complete_year"
            ).fetchall()
        ]  # fmt: skip
        months = con.execute("select count(*) from marts.revenue_forecast_monthly").fetchall()[0][0]
        gap_shown = con.execute("select count(estimate) from marts.tax_gap").fetchall()[0][0]
    # The demo ends 2025-06-30: tax year 2024's returns were due two months before.
    assert open_years == [2024] and partial == [2025] and months == 12
    assert any(n.startswith("Año gravable 2024") and "llegan tarde" in n for n in notes), notes
    assert "2025 (parcial)" in html_es and any(n.startswith("2025 está en curso") for n in notes)
    # The gap chart (when the sample allows one) says its figures are accumulated over years.
    assert any("acumulada" in n for n in notes) == (gap_shown > 0)
    assert "pronóstico de los 12 siguientes (intervalo 80 %)" in html_es
    assert any("suman el pronóstico anual" in n for n in notes)
