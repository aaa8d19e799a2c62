"""What inspectors receive: reasons in Spanish (English on request) from one catalogue, workbooks
they can work in, files that never run a formula or a script, and the case file whose figures
back every reason."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb
import numpy as np
import openpyxl
import pytest

from fiscal_intel.cli import main
from fiscal_intel.scoring import phrases as phrases_module
from fiscal_intel.scoring import reasons as reasons_module
from fiscal_intel.scoring.programs import PROGRAMS
from fiscal_intel.scoring.reason_texts import (
    FAMILY_NAMES,
    TEXT,
    fields,
    figure_texts,
    money,
    render,
    stored,
)
from fiscal_intel.scoring.reasons import (
    closing,
    late_filing,
    loads,
    no_model,
    not_explained,
)

# --- reasons: one logic, a catalogue per language ----------------------------------------------

# Rows that walk every branch of the family functions (nothing, small, large, negative).
ROWS = [
    {},
    {"tax_year": 2023, "third_party_base": 410e6, "third_party_agents": 2,
     "third_party_excess": 290e6, "local_income": 120e6, "peer_percentile": 0.1,
     "outside_share_vs_own": 0.2, "branches_elsewhere": 2, "rate_gap_tax": 1e6,
     "income_change_yoy": -0.3, "gross_income": 100e6, "days_late": 40, "corrections": 2,
     "paid_share": 0.5, "credited_to_tax": 0.2, "past_adjusted_audits": 1,
     "income_vs_adjusted_years": 0.5, "outside_share": 0.6,
     "outside_share_vs_adjusted_years": 0.3, "is_juridica": True, "prior_filings": 2,
     "later_filings": 1, "in_rues_local": True, "rues_active": True,
     "renewals_after_last_filing": 2, "in_rit": True, "rit_active": True, "employees": 3,
     "total_assets": 5e8, "asset_implied_income": 9e8, "nearest_declared_income": 3e8,
     "size_band": "small", "peer_group": "class 4711", "asset_peer_group": "division 47",
     "registry_percentile": 0.04, "registry_evidence_tax": 3e6, "linked_nits": 2,
     "group_shortfall_tax": 5e6, "contractor_tax": 2e6},
    {"tax_year": 2022, "third_party_base_adjacent": 5e6, "outside_share_vs_own": -0.2,
     "income_change_yoy": 0.5, "gross_income": 10e6, "past_clean_audits": 1,
     "prior_filings": 1, "in_rues_local": True, "in_rit": True, "employees": 1},
    {"later_filings": 3, "income_vs_own": 0.4, "income_change_yoy": None, "gross_income": 1.0},
]  # fmt: skip


def _used_keys() -> set[str]:
    """Every catalogue key the reason logic can emit, read from its source."""
    source = "".join(
        Path(m.__file__).read_text(encoding="utf-8") for m in (reasons_module, phrases_module)
    )
    keys = set(re.findall(r'"((?:inexacto|omiso|general)\.[a-z_.]+)"', source))
    # family codes (Reason("general.expected", ...)) are not phrases, unless also used as one
    keys -= set(re.findall(r'Reason\(\s*"([^"]+)"', source))
    keys |= set(re.findall(r'phrase\(\s*"([^"]+)"', source))
    keys |= {f"{p}.{k}" for p in ("omiso", "inexacto") for k in ("expected", "statute")}
    return keys


def test_every_reason_family_has_spanish_and_english_text() -> None:
    used = _used_keys()
    emitted = set()
    for program, families in ((p, s.families) for p, s in PROGRAMS.items()):
        for name, (function, _) in families.items():
            for row in ROWS:
                for key, figures in function(row):
                    emitted.add(key)
                    for lang in ("es", "en"):
                        assert key in TEXT[lang], (lang, program, name, key)
                        assert fields(TEXT[lang][key]) <= set(figures), (lang, key)
            assert any(k in used for k, _ in function({})), (program, name)
            assert all(f"{program}.{name}" in FAMILY_NAMES[lang] for lang in ("es", "en"))
    emitted |= {k for r in [*closing("omiso", 1e6, "2025-04-30"),
                            *closing("inexacto", 1e6, "2025-04-30"),
                            late_filing({"tax_year": 2024}, 0.5), *no_model("omiso", 3, 1)]
                for k, _ in r.phrases}  # fmt: skip
    for lang in ("es", "en"):
        assert used <= set(TEXT[lang]), (lang, used - set(TEXT[lang]))
        # both languages say the same things with the same figures
        for key in TEXT["es"]:
            assert fields(TEXT["es"][key]) == fields(TEXT[lang][key]), (lang, key)
    assert set(TEXT["es"]) == set(TEXT["en"])
    assert set(FAMILY_NAMES["es"]) == set(FAMILY_NAMES["en"])
    assert used - emitted <= {"general.not_explained", "general.no_factor"}, used - emitted


def test_colombian_number_formats_and_legal_references() -> None:
    assert money(1.4e9) == "COP 1,4 mil M"
    assert money(16.2e9) == "COP 16 mil M"
    assert money(1.25e12) == "COP 1.250 mil M"
    assert money(410e6) == "COP 410 M"
    assert money(3.14e6) == "COP 3,1 M"
    assert money(85_000) == "COP 85.000"
    assert money(1.4e9, "en") == "COP 1.4 bn"
    text = render(closing("inexacto", 2.3e9, dt.date(2026, 4, 30)))
    assert text == (
        "impuesto adicional esperado si hay ajuste COP 2,3 mil M (más la sanción por "
        "inexactitud, ET art. 648); la declaración queda en firme el 30/04/2026 (ET art. 714)"
    )
    assert "ET art. 717" in render(closing("omiso", 1e6, dt.date(2030, 4, 30)))
    assert "ET art. 715" in render([late_filing({"tax_year": 2024}, 0.8)])
    late = PROGRAMS["inexacto"].families["late"][0]({"days_late": 40})
    assert "ET art. 641" in render([reasons_module.Reason("inexacto.late", late)])
    # below the explained top: no reason_codes, the fixed sentence still in either language
    tail = render(not_explained(1000))
    assert tail == "por debajo de los 1.000 primeros casos explicados"
    assert stored(tail, None, "en") == "ranked below the explained top 1,000"


def test_stored_reasons_are_spanish_and_render_in_english(demo_run) -> None:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        rows = con.execute(
            "select program, reasons, reason_codes from marts.audit_ranking where rank <= 20"
        ).fetchall()
    assert len(rows) == 40
    for program, text, codes in rows:
        assert render(loads(codes), "es") == text
        english = render(loads(codes), "en")
        assert english != text and "COP" in english
        assert ("ET art. 714" if program == "inexacto" else "ET art. 717") in text
        assert not re.search(r"\b(declared|filed|income|reported)\b", text), text


# --- workbooks and CSV ----------------------------------------------------------------------


def _audit_list(warehouse: Path, out: Path, *extra: str, program: str = "inexacto") -> None:
    args = ["audit-list", "--warehouse", str(warehouse), "--program", program, "--out", str(out)]
    assert main([*args, *extra]) == 0


def test_workbook_an_inspector_can_work_in(demo_run, tmp_path: Path) -> None:
    out = tmp_path / "inexactos.xlsx"
    _audit_list(demo_run["warehouse"], out, "--top", "30")
    wb = openpyxl.load_workbook(out)
    # the whole list, then one sheet per recommended action present, then "Acerca de"
    assert wb.sheetnames[0] == "Inexactos" and wb.sheetnames[-1] == "Acerca de"
    assert set(wb.sheetnames[1:-1]) <= {"Fiscalización", "Requerimiento", "Carta"}
    ws = wb["Inexactos"]
    headers = [c.value for c in ws[1]]
    assert headers[:4] == ["Posición", "NIT", "Razón social", "Año gravable"]
    col = {h: i for i, h in enumerate(headers)}
    last = ws.cell(1, len(headers)).column_letter
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:{last}31"
    row = ws[2]
    assert row[col["NIT"]].data_type == "s" and isinstance(row[col["NIT"]].value, str)
    year = row[col["Año gravable"]]
    assert isinstance(year.value, int) and year.number_format == "0"
    assert isinstance(row[col["Vence la firmeza"]].value, dt.datetime)
    assert row[col["Vence la firmeza"]].is_date
    assert row[col["Recaudo esperado (COP)"]].number_format == "#,##0"
    reasons = row[col["Motivos"]]
    assert reasons.alignment.wrap_text and "COP" in reasons.value
    letter = ws.cell(1, col["Motivos"] + 1).column_letter
    assert ws.column_dimensions[letter].width >= 60
    about = dict(wb["Acerca de"].iter_rows(min_row=2, values_only=True))
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        as_of = con.execute("select as_of from staging.as_of_date").fetchall()[0][0]
        versions = [
            v for (v,) in con.execute("select model_version from scoring.risk_models").fetchall()
        ]
        run_id = con.execute("select run_id from ops.run_log order by finished_at desc").fetchall()
    assert about["Fecha de corte de los datos"] == as_of.strftime("%d/%m/%Y")
    assert about["Municipio (código DANE)"] == "05615"
    assert all(v in about["Versiones de los modelos"] for v in versions)
    assert run_id[0][0] in about["Ejecución que produjo la lista"]
    assert "recaudo esperado" in about["Cómo se ordenó la lista"]
    assert "Cómo leer un motivo" in about

    english = tmp_path / "inexacto_en.xlsx"
    _audit_list(demo_run["warehouse"], english, "--top", "5", "--lang", "en")
    wb = openpyxl.load_workbook(english)
    assert wb.sheetnames[0] == "Under-reporters" and wb.sheetnames[-1] == "About"
    assert [c.value for c in wb.active[1]][:3] == ["Rank", "NIT", "Legal name"]
    assert "expected assessment if adjusted" in wb.active["I2"].value


def test_csv_opens_in_a_spanish_excel_and_comma_on_request(demo_run, tmp_path: Path) -> None:
    out = tmp_path / "omisos.csv"
    _audit_list(demo_run["warehouse"], out, "--top", "10", program="omiso")
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(data.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert rows[0][:4] == ["Posición", "NIT", "Razón social", "Año gravable"]
    assert len(rows) == 11 and all(len(r) == len(rows[0]) for r in rows)
    probability = rows[1][rows[0].index("Probabilidad de hallazgo")]
    assert re.fullmatch(r"\d,\d+|\d", probability), probability  # decimal comma
    assert re.fullmatch(r"\d{4}", rows[1][3])
    comma = tmp_path / "omisos_comma.csv"
    _audit_list(demo_run["warehouse"], comma, "--top", "10", "--csv-dialect", "comma",
                "--lang", "en", program="omiso")  # fmt: skip
    text = comma.read_text(encoding="utf-8")
    assert not text.startswith("\ufeff")
    rows = list(csv.reader(text.splitlines()))
    assert rows[0][:2] == ["Rank", "NIT"] and "." in rows[1][4]


# --- safe files: no formula, no script --------------------------------------------------------

PAYLOADS = [
    '=HYPERLINK("http://x.example/","Ver expediente")',
    "+573001234567",
    "-1+2",
    "@SUM(A1)",
    "\t=1+1",
    "<script>alert('x')</script> S.A.S.",
]


@pytest.fixture(scope="module")
def planted(demo_run, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo's landing with formula and script payloads as the legal names of top-ranked
    taxpayers (RIT and chamber of commerce), run into a fresh warehouse."""
    from fiscal_intel.runner import run_pipeline
    from fiscal_intel.settings import load_settings

    root = tmp_path_factory.mktemp("planted")
    landing = root / "landing"
    shutil.copytree(demo_run["landing"], landing)
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        nits = [
            n for (n,) in con.execute(
                "select nit from marts.audit_ranking where rank <= 5 order by rank, program"
            ).fetchall()
        ]  # fmt: skip
    names = dict(zip(dict.fromkeys(nits), PAYLOADS, strict=False))
    assert len(names) == len(PAYLOADS)
    for path in [*landing.glob("taxpayers/*.csv"), *landing.glob("commerce_registry/*.csv")]:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            if row["nit"] in names:
                row["legal_name"] = names[row["nit"]]
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    settings = load_settings(landing=str(landing), warehouse=str(root / "warehouse.duckdb"))
    run_pipeline(settings)
    return {"root": root, "warehouse": root / "warehouse.duckdb", "names": names}


def _no_formula(path: Path) -> list[str]:
    """Every text cell of the workbook; fails on any formula cell."""
    wb = openpyxl.load_workbook(path)
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (path.name, ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.append(cell.value)
                    if cell.value.startswith(("=", "+", "-", "@", "\t", "\r")):
                        assert cell.quotePrefix, (path.name, cell.coordinate, cell.value)
    return texts


def test_no_export_ever_holds_a_formula_or_a_script(planted, tmp_path: Path) -> None:
    warehouse, names = planted["warehouse"], planted["names"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = dict(con.execute("select nit, legal_name from staging.stg_entities").fetchall())
        ranked = con.execute(
            "select program, nit, tax_year from marts.audit_ranking where nit in "
            f"({', '.join(repr(n) for n in names)}) qualify row_number() over "
            "(partition by nit order by rank) = 1"
        ).fetchall()
    planted_names = {stored[n] for n in names}
    assert {p for p in PAYLOADS[:4]} <= planted_names  # the payloads reached the warehouse
    texts: list[str] = []
    for program in ("omiso", "inexacto"):
        for name, extra in (("top.xlsx", ["--top", "20"]),
                            ("split.xlsx", ["--inspectors", "2", "--cases-per-inspector", "10"])):
            out = tmp_path / f"{program}_{name}"
            _audit_list(warehouse, out, *extra, program=program)
            texts += _no_formula(out)
        for dialect in ("semicolon", "comma"):
            out = tmp_path / f"{program}_{dialect}.csv"
            _audit_list(warehouse, out, "--top", "20", "--csv-dialect", dialect, program=program)
            encoding, delimiter = ("utf-8-sig", ";") if dialect == "semicolon" else ("utf-8", ",")
            with out.open(encoding=encoding, newline="") as f:
                for row in csv.reader(f, delimiter=delimiter):
                    for value in row:
                        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
                        texts.append(value)
    escaped = 0
    assert len(ranked) == len(PAYLOADS)  # a case file for every planted name
    for program, nit, year in ranked:
        out = tmp_path / f"case_{nit}_{year}.xlsx"
        assert main(["case", "--warehouse", str(warehouse), "--nit", nit, "--year", str(year),
                     "--program", program, "--out", str(out)]) == 0  # fmt: skip
        texts += _no_formula(out)
        page = tmp_path / f"case_{nit}_{year}.html"
        assert main(["case", "--warehouse", str(warehouse), "--nit", nit, "--year", str(year),
                     "--out", str(page)]) == 0  # fmt: skip
        html = page.read_text(encoding="utf-8")
        assert "<script" not in html.lower() and "default-src 'none'" in html
        if stored[nit].startswith("<script"):
            assert "&lt;script&gt;alert" in html
            escaped += 1
    assert escaped == 1
    # every payload was written, shown as text: in the XLSX as itself, in CSV behind a quote
    for payload in PAYLOADS[:4]:
        assert payload in texts, payload
        assert "'" + payload in texts, payload
    # the leadership report names no taxpayer (aggregates only), so no payload reaches it
    report = tmp_path / "report.html"
    assert main(["report", "--warehouse", str(warehouse), "--out", str(report)]) == 0
    page = report.read_text(encoding="utf-8")
    assert "<script>alert" not in page and "HYPERLINK" not in page


# --- the case file -----------------------------------------------------------------------------


def _sheet(wb: openpyxl.Workbook, name: str) -> list[dict]:
    rows = list(wb[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def _close(a: object, b: object) -> bool:
    if isinstance(a, dt.datetime):
        a = a.date().isoformat()
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=0.5))
    return str(a) == str(b)


def test_every_figure_of_a_reason_is_in_the_case_file(demo_run, tmp_path: Path) -> None:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        top = con.execute(
            "select program, nit, tax_year, reasons, reason_codes, predicted_amount "
            "from marts.audit_ranking where rank <= 3 order by program, rank"
        ).fetchall()
    checked = 0
    for program, nit, year, text, codes, predicted in top:
        out = tmp_path / f"{program}_{nit}_{year}.xlsx"
        assert main(["case", "--warehouse", str(demo_run["warehouse"]), "--nit", nit,
                     "--year", str(year), "--out", str(out)]) == 0  # fmt: skip
        wb = openpyxl.load_workbook(out)
        assert wb.sheetnames == ["Resumen", "Motivos", "RIT", "Cámara de comercio",
                                 "Declaraciones", "Pagos", "Retenciones", "Indicadores",
                                 "Acerca de"]  # fmt: skip
        summary = {r["Dato"]: r["Valor"] for r in _sheet(wb, "Resumen")}
        assert summary["NIT"] == nit and summary["Motivos (texto completo)"] == text
        features = {r["Código"]: r["Valor"] for r in _sheet(wb, "Indicadores")}
        assert not [r for r in _sheet(wb, "Indicadores") if r["Indicador"] == r["Código"]]
        shown = {(r["Cifra"], r["Como aparece en el motivo"]) for r in _sheet(wb, "Motivos")}
        returns = _sheet(wb, "Declaraciones")
        current = {r["Año gravable"]: r for r in returns if r["Estado"] == "vigente"}
        withheld = [
            r for r in _sheet(wb, "Retenciones") if r["NIT del agente retenedor"] == "Total"
        ]
        for family, name, raw, as_written in figure_texts(loads(codes)):
            assert as_written in text, (family, name, as_written)
            assert (name, as_written) in shown, (family, name)
            if name in features and name not in ("tax_year",):
                assert _close(features[name], raw), (nit, name, features[name], raw)
            if name == "amount":
                assert _close(summary["Valor estimado si hay hallazgo (COP)"], predicted)
            if name == "third_party_base":
                assert withheld and _close(withheld[0]["Base de retención (COP)"], raw)
            if name == "gross_income" and program == "inexacto":
                assert _close(current[year]["Ingresos brutos (renglón 8)"], raw)
            if name == "nearest_declared_income":
                filed = int(features["nearest_filed_year"])
                assert _close(current[filed]["Ingresos brutos (renglón 8)"], raw)
            checked += 1
        if program == "inexacto":
            assert year in current  # the return under review is in the file
    assert checked > 30


def test_case_file_in_english_and_bad_input(demo_run, tmp_path: Path, capsys) -> None:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        nit, year = con.execute(
            "select nit, tax_year from marts.audit_ranking where program = 'omiso' and rank = 1"
        ).fetchall()[0]
    page = tmp_path / "case.html"
    args = ["case", "--warehouse", str(demo_run["warehouse"]), "--nit", nit, "--year", str(year)]
    assert main([*args, "--out", str(page), "--lang", "en"]) == 0
    html = page.read_text(encoding="utf-8")
    assert "<h2>Withholdings</h2>" in html and "can be assessed until" in html
    assert main([*args, "--out", str(tmp_path / "case.pdf")]) == 1
    assert main([*args[:3], "--nit", nit + "-0" if nit[-1] else nit, "--year", str(year),
                 "--out", str(page)]) in (0, 1)  # fmt: skip
    assert main([*args[:3], "--nit", "1", "--year", str(year), "--out", str(page)]) == 1
    assert "not in the warehouse" in capsys.readouterr().err


def test_a_taxpayers_cases_fit_with_one_inspector_when_singles_came_first() -> None:
    """Eight single cases ranked before a taxpayer's two (3 inspectors of 4): placed in rank
    order, the pair found only single free places and was split."""
    import polars as pl

    from fiscal_intel.inspector_files import assign_inspectors

    nits = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "I", "J", "B"]
    cases = pl.DataFrame({
        "rank": list(range(1, 13)), "nit": nits,
        "expected_recovery": [float(100 - k) for k in range(12)],
    })  # fmt: skip
    got = assign_inspectors(cases, 3, 4)
    per_nit = got.group_by("nit").agg(pl.col("inspector").n_unique())
    assert (per_nit["inspector"] == 1).all()
    assert got["inspector"].value_counts()["count"].to_list() == [4, 4, 4]
    assert got.sort("rank")["inspector"][0] == 1  # inspector 1 has the top case
