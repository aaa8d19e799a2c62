"""The demo municipality written the way a real tax office exports it.

:func:`generate_messy` writes the *same* municipality as :func:`fiscal_intel.demo.generate` (same
arguments, same entities, same truth), then rewrites every landing file as the office's systems
would: Spanish headers (mapped by the shipped column mappings), Latin-1, Windows-1252, UTF-16 and
UTF-8 with BOM, ``;`` ``,`` tab and ``|`` delimiters, Spanish thousands and decimals, ``$``
signs, NITs with dots and check digits, day-first dates, CIIU and DANE codes that lost their
leading zeros, Spanish enum values, addresses whose quoted values hold delimiters and line
breaks, report titles above the header, blank lines, workbooks with a cover sheet, a parquet
extract, a byte-identical copy of a file under another name and overlapping payment exports.

On top of that it plants ~``bad_share`` of bad rows of several kinds (wrong check digits,
impossible dates, unreadable amounts, missing values, out-of-range values, unknown enum values,
unquoted delimiters, repeated header lines, total rows) and one unreadable file, and records
each planted row in ``truth_dir/messy_manifest.json``: its file, 1-based data row, kind and the
reason the loader must give. Nothing else in the files may be quarantined, so the manifest is the
answer key for quarantine precision and recall, and the cases its corrupted rows touch are the
only ones whose audit ranking may legitimately differ from the clean municipality's.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from fiscal_intel.demo.generator import generate
from fiscal_intel.ingest.loader import LoadBounds
from fiscal_intel.ingest.nit import check_digit
from fiscal_intel.ingest.sources import SOURCES

MANIFEST = "messy_manifest.json"

# The headers each export uses (canonical column -> header as written); "address" is a column
# the contract does not know, carried only so quoted values hold delimiters and line breaks.
HEADERS: dict[str, dict[str, str]] = {
    "taxpayers": {
        "nit": "NIT",
        "dv": "DV",
        "taxpayer_type": "TIPO PERSONA",
        "legal_name": "RAZÓN SOCIAL",
        "ciiu": "CIIU",
        "address": "DIRECCIÓN",
        "comuna": "COMUNA",
        "registered_on": "FECHA INSCRIPCIÓN",
        "status": "ESTADO",
        "regime": "RÉGIMEN",
    },
    "declarations": {
        "declaration_id": "No. FORMULARIO",
        "nit": "NIT",
        "tax_year": "AÑO GRAVABLE",
        "filed_on": "FECHA PRESENTACIÓN",
        "gross_income": "TOTAL INGRESOS ORDINARIOS Y EXTRAORDINARIOS",
        "income_outside": "INGRESOS FUERA DEL MUNICIPIO",
        "deductions": "TOTAL DEDUCCIONES",
        "taxable_income": "TOTAL INGRESOS GRAVABLES",
        "ciiu": "CÓDIGO ACTIVIDAD",
        "rate_per_mil": "TARIFA",
        "ica_tax": "IMPUESTO DE INDUSTRIA Y COMERCIO",
        "avisos_tableros": "AVISOS Y TABLEROS",
        "sobretasa_bomberil": "SOBRETASA BOMBERIL",
        "total_tax": "TOTAL IMPUESTO A CARGO",
        "withholdings_credited": "TOTAL RETENCIONES",
        "penalties": "SANCIONES",
        "balance_due": "TOTAL A PAGAR",
    },
    "payments": {
        "payment_id": "RECIBO",
        "nit": "NIT",
        "tax_year": "VIGENCIA",
        "paid_on": "FECHA PAGO",
        "amount": "VALOR PAGADO",
    },
    "withholdings": {
        "agent_nit": "NIT AGENTE RETENEDOR",
        "nit": "NIT RETENIDO",
        "tax_year": "AÑO GRAVABLE",
        "period": "BIMESTRE",
        "base_amount": "BASE RETENCIÓN",
        "withheld_amount": "VALOR RETENIDO",
    },
    "commerce_registry": {
        "matricula": "MATRICULA",
        "nit": "NIT",
        "dv": "DV",
        "legal_name": "RAZON_SOCIAL",
        "organization_type": "ORGANIZACION_JURIDICA",
        "ciiu": "CIIU",
        "ciiu_secondary": "CIIU_SECUNDARIO",
        "municipality_code": "COD_MUNICIPIO",
        "registered_on": "FECHA_MATRICULA",
        "last_renewal_year": "ULTIMO_ANO_RENOVADO",
        "status": "ESTADO_MATRICULA",
        "cancelled_on": "FECHA_CANCELACION",
        "total_assets": "ACTIVOS_TOTALES",
        "employees": "EMPLEADOS",
    },
    "audits": {
        "case_id": "EXPEDIENTE",
        "nit": "NIT",
        "tax_year": "VIGENCIA",
        "program": "PROGRAMA",
        "selection": "TIPO SELECCIÓN",
        "opened_on": "FECHA APERTURA",
        "closed_on": "FECHA CIERRE",
        "outcome": "RESULTADO",
        "assessed_amount": "VALOR LIQUIDADO",
    },
}

# How the office's systems spell enum values (all in the shipped mappings).
SPANISH_VALUES: dict[str, dict[str, str]] = {
    "taxpayer_type": {"natural": "PERSONA NATURAL", "juridica": "PERSONA JURÍDICA"},
    "status": {"active": "ACTIVO", "inactive": "INACTIVO", "cancelled": "CANCELADO"},
    "regime": {"ordinario": "ORDINARIO", "simple": "RÉGIMEN SIMPLE"},
    "program": {"omiso": "OMISOS", "inexacto": "INEXACTOS"},
    "selection": {"risk": "RIESGO", "random": "ALEATORIA"},
    "outcome": {"adjusted": "CON AJUSTE", "no_finding": "SIN HALLAZGO"},
}

# Kinds of bad row planted per source: (kind, column). Each corrupts one value of a real row so
# that the row has exactly one reason to be quarantined.
CORRUPTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "taxpayers": (
        ("dv_mismatch", "dv"),
        ("impossible_date", "registered_on"),
        ("wrong_field_count", "address"),
        ("unknown_value", "status"),
    ),
    "declarations": (
        ("check_digit", "nit"),
        ("impossible_date", "filed_on"),
        ("unreadable_amount", "gross_income"),
        ("missing_value", "nit"),
        ("negative_amount", "total_tax"),
        ("year_out_of_range", "tax_year"),
    ),
    "payments": (
        ("check_digit", "nit"),
        ("impossible_date", "paid_on"),
        ("unreadable_amount", "amount"),
        ("missing_value", "nit"),
    ),
    "withholdings": (
        ("check_digit", "agent_nit"),
        ("unreadable_amount", "base_amount"),
        ("value_out_of_range", "period"),
        ("missing_value", "nit"),
    ),
    "commerce_registry": (
        ("dv_mismatch", "dv"),
        ("impossible_date", "registered_on"),
        ("missing_value", "legal_name"),
    ),
    "audits": (
        ("impossible_date", "closed_on"),
        ("unknown_value", "outcome"),
    ),
}
UNKNOWN_VALUES = {"status": "EN TRÁMITE", "outcome": "EN FIRME"}
JUNK_KINDS = ("repeated_header", "total_row")


@dataclass
class _File:
    """One messy file being written: its rows as cells, and what was planted in it."""

    source: str
    name: str
    columns: list[str]  # canonical names (or "address") in output order
    rows: list[list[object]] = field(default_factory=list)
    planted: dict[int, dict] = field(default_factory=dict)  # index in rows -> manifest entry
    extra_fields: dict[int, int] = field(default_factory=dict)  # index -> split position

    def header(self) -> list[str]:
        return [HEADERS[self.source][c] for c in self.columns]


@dataclass(frozen=True)
class MessySummary:
    landing: Path
    truth_dir: Path
    taxpayers: int
    seed: int
    files: int
    rows: dict[str, int]  # data rows written per source (junk included, unreadable excluded)
    planted: dict[str, int]  # bad rows planted per kind

    def describe(self) -> str:
        bad = sum(self.planted.values())
        total = sum(self.rows.values())
        return (
            f"wrote {self.files} files, {total:,} data rows, {bad:,} planted bad rows "
            f"({bad / max(total, 1):.2%}) and 1 unreadable file"
        )


# ----------------------------------------------------------------------------------------------
# Value formatting: how each kind of column is written
# ----------------------------------------------------------------------------------------------
def spanish_thousands(n: int) -> str:
    """1234567 -> 1.234.567"""
    return f"{n:,}".replace(",", ".")


def _money(text: str, style: str) -> str:
    if text == "":
        return ""
    n = int(float(text))
    if style == "es":
        return spanish_thousands(n)
    if style == "es_cents":
        return spanish_thousands(n) + ",00"
    if style == "peso":
        return "$ " + spanish_thousands(n)
    return str(n)


def _date(text: str, style: str) -> str:
    if text == "":
        return ""
    y, m, d = text.split("-")
    if style == "dmy":
        return f"{d}/{m}/{y}"
    if style == "dmy_dash":
        return f"{d}-{m}-{y}"
    return text


def _nit(text: str, form: int) -> str:
    """One of the ways exports write a NIT (all read to the same canonical NIT)."""
    if text == "":
        return ""
    dotted = spanish_thousands(int(text))
    dv = check_digit(text)
    return (text, dotted, f"{dotted}-{dv}", f" {text} ", f"{text}-{dv}")[form % 5]


def _cell_text(source: str, column: str, text: str, style: dict[str, str], form: int) -> str:
    """The clean canonical text of one value, written as this export writes it."""
    if column == "address":
        return text
    kind = next(c.kind for c in SOURCES[source].columns if c.name == column)
    if kind == "money":
        return _money(text, style["money"])
    if kind == "date":
        return _date(text, style["date"])
    if kind == "nit":
        return _nit(text, form)
    if kind in ("ciiu", "dane"):
        return text.lstrip("0") or text  # exported as a number: leading zeros lost
    if kind == "number":
        return text.replace(".", ",") if style["decimal"] == "," else text
    if kind == "enum":
        return SPANISH_VALUES.get(column, {}).get(text, text)
    return text


def _typed(source: str, column: str, text: str) -> object:
    """The value a spreadsheet or a typed extract holds (numbers as numbers, dates as dates)."""
    if text == "" or column == "address":
        return text or None
    kind = next(c.kind for c in SOURCES[source].columns if c.name == column)
    if kind in ("money", "int", "nit", "ciiu", "dane"):
        return int(float(text))
    if kind == "number":
        return float(text)
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "enum":
        return SPANISH_VALUES.get(column, {}).get(text, text)
    return text


def _addresses(rng: np.random.Generator, n: int) -> list[str]:
    """Street addresses; some hold a ';' or a line break inside (quoted in the CSV)."""
    vias = np.array(["CL", "CRA", "KR", "DG", "TV", "VDA"])
    via = vias[rng.integers(0, vias.size, n)]
    a, b, c = rng.integers(1, 120, n), rng.integers(1, 99, n), rng.integers(1, 99, n)
    u = rng.random(n)
    out = []
    for i in range(n):
        base = f"{via[i]} {a[i]} # {b[i]}-{c[i]}"
        if u[i] < 0.05:
            base += f"; LOCAL {c[i]}"
        elif u[i] < 0.07:
            base += f"\nBARRIO {('CENTRO', 'SAN ANTONIO', 'EL PORVENIR')[int(b[i]) % 3]}"
        out.append(base)
    return out


# ----------------------------------------------------------------------------------------------
# Planting bad rows
# ----------------------------------------------------------------------------------------------
def _impossible(text: str, style: str) -> str:
    """A day that does not exist in the row's month (30 February, 31 April, ...)."""
    y, m, _ = text.split("-")
    day, month = {"02": ("30", "02"), "04": ("31", "04"), "06": ("31", "06")}.get(m, ("31", "09"))
    return _date(f"{y}-{month}-{day}", style if style != "iso" else "dmy")


def _plant(
    f: _File,
    index: int,
    kind: str,
    column: str,
    clean: dict[str, str],
    typed: bool,
    style: dict[str, str],
) -> str | None:
    """Corrupt one value of row ``index`` of ``f``; returns the loader's expected reason, or
    None when this kind does not apply to the row (the caller tries another row)."""
    row = f.rows[index]
    pos = f.columns.index(column) if column in f.columns else -1
    original = clean.get(column, "")
    if kind == "check_digit":
        if not original:
            return None
        dv = check_digit(original)
        text = f"{spanish_thousands(int(original))}-{(dv + 3) % 10}"
        row[pos] = text
        return f"{column} '{text}': check digit should be {dv}"
    if kind == "dv_mismatch":
        if not clean.get("nit"):
            return None
        dv = check_digit(clean["nit"])
        wrong = (dv + 4) % 10
        row[pos] = wrong if typed else str(wrong)
        return f"dv {wrong} does not match nit {clean['nit']} (should be {dv})"
    if kind == "impossible_date":
        if not original:
            return None
        text = _impossible(original, style["date"])
        row[pos] = text
        return f"{column} '{text}' is not a date"
    if kind == "unreadable_amount":
        if not original:
            return None
        # A letter O typed for a zero, the classic keying error.
        text = _money(original, "es")[:-1] + "O"
        row[pos] = text
        return f"{column} '{text}' is not an amount of money"
    if kind == "missing_value":
        row[pos] = None if typed else ""
        return f"{column} is empty"
    if kind == "negative_amount":
        if not original or int(float(original)) <= 0:
            return None
        text = "-" + _money(original, "es")
        row[pos] = text
        spec = next(c for c in SOURCES[f.source].columns if c.name == column)
        note = f" ({spec.range_note})" if spec.range_note else ""
        return f"{column} '{text}' is below 0{note}"
    if kind == "year_out_of_range":
        text = original + "3"  # a key pressed twice: 20233
        row[pos] = text
        bounds = LoadBounds()
        return (
            f"{column} '{text}' is above {bounds.last_tax_year} (tax years "
            f"{bounds.first_tax_year}-{bounds.last_tax_year}: settings first_tax_year, "
            "last_tax_year)"
        )
    if kind == "value_out_of_range":
        row[pos] = "7"  # a seventh bimester
        return f"{column} '7' is above 6"
    if kind == "unknown_value":
        text = UNKNOWN_VALUES[column]
        row[pos] = text
        col = next(c for c in SOURCES[f.source].columns if c.name == column)
        return f"{column} '{text}' is not one of: {', '.join(col.choices)}"
    if kind == "wrong_field_count":
        address = str(row[pos])
        if ";" in address or "\n" in address:
            return None
        # The address written unquoted with a ';' inside: the row gains a field.
        row[pos] = address
        f.extra_fields[index] = pos
        width = len(f.columns)
        return (
            f"row has {width + 1} fields where the header has {width} "
            f"(an unquoted ';' inside a value?)"
        )
    raise ValueError(kind)


def _plant_rows(
    rng: np.random.Generator,
    f: _File,
    clean_rows: list[dict[str, str]],
    share: float,
    typed: bool,
    style: dict[str, str],
    eligible: Callable[[dict[str, str]], bool] = lambda row: True,
) -> None:
    """Corrupt ~``share`` of the rows of ``f``, cycling through the source's kinds."""
    kinds = CORRUPTIONS[f.source]
    target = max(1, round(share * len(clean_rows))) if share > 0 else 0
    order = rng.permutation(len(clean_rows))
    k = int(rng.integers(0, len(kinds)))
    for index in order:
        if len(f.planted) >= target:
            break
        index = int(index)
        if not eligible(clean_rows[index]):
            continue
        for attempt in range(len(kinds)):
            kind, column = kinds[(k + attempt) % len(kinds)]
            reason = _plant(f, index, kind, column, clean_rows[index], typed, style)
            if reason is not None:
                k += attempt + 1
                clean = clean_rows[index]
                f.planted[index] = {
                    "kind": kind,
                    "reason": reason,
                    "nit": clean.get("nit") or None,
                    "tax_year": int(clean["tax_year"]) if clean.get("tax_year") else None,
                }
                break


# ----------------------------------------------------------------------------------------------
# Writers
# ----------------------------------------------------------------------------------------------
def _csv_bytes(
    f: _File,
    delimiter: str,
    encoding: str,
    *,
    title: list[str] = (),
    junk: dict[int, list[str]] | None = None,
) -> tuple[bytes, dict[int, dict]]:
    """The file's bytes and its planted rows keyed by 1-based data row number.

    ``junk``: rows inserted before the data row with that index (repeated headers, totals).
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for line in title:
        writer.writerow([line])
    writer.writerow(f.header())
    junk = junk or {}
    planted: dict[int, dict] = {}
    number = 0

    def write_junk(index: int) -> None:
        nonlocal number
        for fields, entry in junk.get(index, []):
            number += 1
            writer.writerow(fields)
            planted[number] = entry

    for index, row in enumerate(f.rows):
        write_junk(index)
        number += 1
        cells = ["" if v is None else str(v) for v in row]
        if index in f.extra_fields:
            # The value written unquoted with a ';' inside: the row gains a field.
            pos = f.extra_fields[index]
            cells = [*cells[:pos], cells[pos], "LOCAL 1", *cells[pos + 1 :]]
        writer.writerow(cells)
        if index in f.planted:
            planted[number] = f.planted[index]
    write_junk(len(f.rows))
    return buffer.getvalue().encode(encoding), planted


def _xlsx_bytes(
    f: _File, *, cover: bool, title_rows: int, sheet: str
) -> tuple[bytes, dict[int, dict]]:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    if cover:
        front = book.create_sheet("Resumen")
        front.append(["ALCALDÍA DE RIONEGRO - SECRETARÍA DE HACIENDA"])
        front.append([f"Reporte generado para {f.source}", None, "Registros:", len(f.rows)])
    data = book.create_sheet(sheet)
    for i in range(title_rows):
        data.append([("SECRETARÍA DE HACIENDA - RIONEGRO", "Fecha de corte: 30/06/2025")[i % 2]])
    data.append(f.header())
    for row in f.rows:
        data.append(row)
    out = io.BytesIO()
    book.save(out)
    planted = {index + 1: entry for index, entry in f.planted.items()}
    return out.getvalue(), planted


def _html_table(f: _File) -> bytes:
    """What a web system saves as "Excel": an HTML page with a table, named .xlsx."""
    head = "".join(f"<th>{h}</th>" for h in f.header())
    body = "".join(
        "<tr>" + "".join(f"<td>{'' if v is None else v}</td>" for v in row) + "</tr>"
        for row in f.rows
    )
    page = f"<html><head><meta charset='utf-8'></head><body><table><tr>{head}</tr>{body}</table>"
    return (page + "</body></html>").encode("utf-8")


# ----------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------
def _clean_rows(path: Path) -> list[dict[str, str]]:
    frame = pl.read_csv(path, infer_schema=False)
    return [{k: ("" if v is None else v) for k, v in row.items()} for row in frame.iter_rows(
        named=True
    )]


def _styled(
    source: str, rows: list[dict[str, str]], columns: list[str], style: dict[str, str], seed: int
) -> list[list[object]]:
    forms = np.random.default_rng([seed, 7, len(rows)]).integers(0, 5, len(rows))
    return [
        [_cell_text(source, c, row.get(c, ""), style, int(forms[i])) for c in columns]
        for i, row in enumerate(rows)
    ]


def generate_messy(
    landing: Path,
    truth_dir: Path,
    *,
    taxpayers: int = 15_000,
    seed: int = 42,
    bad_share: float = 0.01,
    first_year: int = 2018,
    last_year: int = 2024,
    municipality: str = "05615",
) -> MessySummary:
    """Write the municipality :func:`generate` writes with these arguments, as a real office
    exports it, plus ``truth_dir/messy_manifest.json`` (see the module docstring)."""
    if not 0 <= bad_share < 0.2:
        raise ValueError("bad_share must be in [0, 0.2)")
    landing, truth_dir = Path(landing), Path(truth_dir)
    generate(
        landing,
        truth_dir,
        taxpayers=taxpayers,
        seed=seed,
        first_year=first_year,
        last_year=last_year,
        municipality=municipality,
        past_campaign=False,  # the messy export is the base world's six sources
    )
    rng = np.random.default_rng([seed, 1_000_003])
    written: list[dict] = []
    planted: list[dict] = []
    unreadable: list[dict] = []
    duplicates: list[dict] = []

    def record(f: _File, data: bytes, fmt: str, rows_planted: dict[int, dict], rows: int) -> None:
        path = landing / f.source / f.name
        path.write_bytes(data)
        written.append({"source": f.source, "file": f.name, "format": fmt, "rows": rows})
        for number, entry in sorted(rows_planted.items()):
            planted.append({"source": f.source, "file": f.name, "row_number": number, **entry})

    def clean_files(source: str) -> list[Path]:
        return sorted((landing / source).glob("*.csv"))

    # --- taxpayers: RIT export, Latin-1, ';', DV column, Spanish values, quoted addresses ------
    (path,) = clean_files("taxpayers")
    rows = _clean_rows(path)
    path.unlink()
    for row, address in zip(rows, _addresses(rng, len(rows)), strict=True):
        row["address"] = address
    style = {"money": "es", "date": "dmy", "decimal": ","}
    f = _File("taxpayers", "RIT_contribuyentes.csv", list(HEADERS["taxpayers"]))
    f.rows = _styled("taxpayers", rows, f.columns, style, seed)
    # The RIT writes the NIT without its DV (the DV has its own column).
    nit_pos = f.columns.index("nit")
    for cells, row in zip(f.rows, rows, strict=True):
        cells[nit_pos] = spanish_thousands(int(row["nit"])) if int(row["nit"]) % 2 else row["nit"]
    _plant_rows(rng, f, rows, bad_share, False, style)
    title = ["MUNICIPIO DE RIONEGRO - REGISTRO DE INFORMACIÓN TRIBUTARIA", "Corte: 30/06/2025", ""]
    data, rows_planted = _csv_bytes(f, ";", "latin-1", title=title)
    record(f, data, "csv latin-1 ';' (3 title lines)", rows_planted, len(f.rows))

    # --- declarations: one export per year, each year from a different system or period -----
    paths = clean_files("declarations")
    for i, path in enumerate(paths):
        year = path.stem.rsplit("_", 1)[-1]
        rows = _clean_rows(path)
        path.unlink()
        columns = list(HEADERS["declarations"])
        from_end = len(paths) - 1 - i
        if from_end == 0:
            # The newest year comes from the new system's database: a typed parquet extract.
            name = f"ica_{year}.parquet"
            frame = pl.DataFrame(
                {
                    HEADERS["declarations"][c]: [_typed("declarations", c, r[c]) for r in rows]
                    for c in columns
                }
            )
            out = io.BytesIO()
            frame.write_parquet(out)
            f = _File("declarations", name, columns)
            record(f, out.getvalue(), "parquet (typed)", {}, len(rows))
            continue
        if from_end == 1:
            style = {"money": "es_cents", "date": "dmy", "decimal": "."}
            f = _File("declarations", f"ica_{year}.csv", columns)
            f.rows = _styled("declarations", rows, columns, style, seed + i)
            _plant_rows(rng, f, rows, bad_share, False, style)
            data, rows_planted = _csv_bytes(f, ",", "utf-8-sig")
            record(f, data, "csv utf-8 BOM ',' (quoted amounts)", rows_planted, len(f.rows))
            continue
        if from_end == 2:
            style = {"money": "plain", "date": "dmy", "decimal": "."}
            f = _File("declarations", f"declaraciones_{year}.xlsx", columns)
            f.rows = [[_typed("declarations", c, r[c]) for c in columns] for r in rows]
            _plant_rows(rng, f, rows, bad_share, True, style)
            data, rows_planted = _xlsx_bytes(f, cover=True, title_rows=2, sheet=f"ICA {year}")
            record(f, data, "xlsx (cover sheet, 2 title rows)", rows_planted, len(f.rows))
            continue
        style = {"money": "es", "date": "dmy" if i % 2 else "dmy_dash", "decimal": ","}
        f = _File("declarations", f"declaraciones_{year}.csv", columns)
        f.rows = _styled("declarations", rows, columns, style, seed + i)
        _plant_rows(rng, f, rows, bad_share, False, style)
        # A paginated report: the header repeats in the middle of the file.
        header_again = f.header()
        junk = {
            len(f.rows) // 2: [
                (header_again, {
                    "kind": "repeated_header",
                    "reason_starts": "nit 'NIT' is not a NIT",
                    "nit": None,
                    "tax_year": None,
                })
            ]
        }
        if i == 0:
            # The same year exported by a web system as "Excel": an HTML page, unreadable.
            html = _File("declarations", f"declaraciones_{year}_reporte.xlsx", columns)
            html.rows = f.rows
            (landing / "declarations" / html.name).write_bytes(_html_table(html))
            unreadable.append(
                {
                    "source": "declarations",
                    "file": html.name,
                    "problem": "an HTML page saved with an .xlsx name (a copy of "
                    f"{f.name}: nothing in it is lost)",
                }
            )
        data, rows_planted = _csv_bytes(f, ";", "latin-1", junk=junk)
        fmt = f"csv latin-1 ';' ({style['date']} dates, repeated header)"
        record(f, data, fmt, rows_planted, len(f.rows) + 1)

    # --- payments: treasury report, Windows-1252, '$' amounts, titles and a total row --------
    paths = clean_files("payments")
    previous_tail: list[dict[str, str]] = []
    for i, path in enumerate(paths):
        year = path.stem.rsplit("_", 1)[-1]
        rows = _clean_rows(path)
        path.unlink()
        overlap = len(previous_tail)
        # Each export repeats the last receipts of the one before (a date-window overlap).
        rows_out = previous_tail + rows
        previous_tail = rows[-20:]
        style = {"money": "peso", "date": "dmy", "decimal": ","}
        columns = list(HEADERS["payments"])
        f = _File("payments", f"recaudo_ica_{year}.csv", columns)
        f.rows = _styled("payments", rows_out, columns, style, seed + 100 + i)
        eligible = set(range(overlap, len(rows_out) - 20))  # never a row exported twice
        indexed = [dict(r, _i=str(j)) for j, r in enumerate(rows_out)]
        _plant_rows(
            rng, f, indexed, bad_share, False, style, lambda r, ok=eligible: int(r["_i"]) in ok
        )
        total = sum(int(r["amount"]) for r in rows_out)
        junk = {
            len(f.rows): [
                (
                    ["TOTAL RECAUDADO", "", "", "", _money(str(total), "peso")],
                    {
                        "kind": "total_row",
                        "reason_starts": "nit is empty",
                        "nit": None,
                        "tax_year": None,
                    },
                )
            ]
        }
        title = [f"REPORTE DE RECAUDO ICA - VIGENCIA {year}", "Generado: 30/06/2025", ""]
        data, rows_planted = _csv_bytes(f, ";", "cp1252", title=title, junk=junk)
        record(f, data, "csv cp1252 ';' ($ amounts, titles, total row)", rows_planted,
               len(f.rows) + 1)  # fmt: skip
        if i == 1:
            # The same export saved twice: byte-identical, another name, must load once.
            copy = f"recaudo_ica_{year}_copia.csv"
            (landing / "payments" / copy).write_bytes(data)
            duplicates.append({"source": "payments", "file": copy, "same_as": f.name})

    # --- withholdings: exógena files from agents' own spreadsheets --------------------------
    paths = clean_files("withholdings")
    for i, path in enumerate(paths):
        year = path.stem.rsplit("_", 1)[-1]
        rows = _clean_rows(path)
        path.unlink()
        columns = list(HEADERS["withholdings"])
        if i == 0:
            style, delimiter, encoding = {"money": "plain", "date": "dmy", "decimal": "."}, "\t", \
                "utf-16"  # fmt: skip
            name, fmt = f"exogena_{year}.txt", "text utf-16 tab (Excel 'Unicode text')"
        elif i == 1:
            style, delimiter, encoding = {"money": "es", "date": "dmy", "decimal": ","}, "|", \
                "cp1252"  # fmt: skip
            name, fmt = f"exogena_{year}.csv", "csv cp1252 '|'"
        else:
            style, delimiter, encoding = {"money": "es", "date": "dmy", "decimal": ","}, ";", \
                "latin-1"  # fmt: skip
            name, fmt = f"exogena_{year}.csv", "csv latin-1 ';' (blank lines)"
        f = _File("withholdings", name, columns)
        f.rows = _styled("withholdings", rows, columns, style, seed + 200 + i)
        _plant_rows(rng, f, rows, bad_share, False, style)
        data, rows_planted = _csv_bytes(f, delimiter, encoding)
        if i > 1:
            # Blank separator lines between agents' blocks: not rows, skipped and counted.
            text = data.decode(encoding)
            data = text.replace("\r\n", "\r\n\r\n", 2).encode(encoding)
            rows_planted = {
                (n + 2 if n >= 2 else n + 1 if n >= 1 else n): e for n, e in rows_planted.items()
            }
        record(f, data, fmt, rows_planted, len(f.rows))

    # --- commerce registry: the chamber's RUES workbook ---------------------------------------
    (path,) = clean_files("commerce_registry")
    rows = _clean_rows(path)
    path.unlink()
    for row in rows:
        row["dv"] = str(check_digit(row["nit"])) if row["nit"] else ""
    columns = list(HEADERS["commerce_registry"])
    f = _File("commerce_registry", "RUES_Rionegro.xlsx", columns)
    f.rows = [[_typed("commerce_registry", c, r[c]) for c in columns] for r in rows]
    # A registration without NIT is matched to the RIT by name; corrupting one would touch a
    # case the manifest could not name, so bad rows are planted among the others only.
    style = {"money": "plain", "date": "dmy", "decimal": "."}
    _plant_rows(rng, f, rows, bad_share, True, style, lambda r: bool(r["nit"]))
    data, rows_planted = _xlsx_bytes(f, cover=True, title_rows=0, sheet="Matriculados")
    record(f, data, "xlsx (cover sheet, typed cells)", rows_planted, len(f.rows))

    # --- audits: the case-management system's workbook ---------------------------------------
    (path,) = clean_files("audits")
    rows = _clean_rows(path)
    path.unlink()
    columns = list(HEADERS["audits"])
    f = _File("audits", "fiscalizacion_casos_cerrados.xlsx", columns)
    f.rows = [[_typed("audits", c, r[c]) for c in columns] for r in rows]
    style = {"money": "plain", "date": "dmy", "decimal": "."}
    _plant_rows(rng, f, rows, bad_share, True, style)
    data, rows_planted = _xlsx_bytes(f, cover=False, title_rows=1, sheet="Casos")
    record(f, data, "xlsx (1 title row)", rows_planted, len(f.rows))

    by_kind = Counter(p["kind"] for p in planted)
    rows_by_source = Counter()
    for w in written:
        rows_by_source[w["source"]] += w["rows"]
    touched = sorted(
        {
            (p["nit"], p["tax_year"] if p["source"] not in ("taxpayers", "commerce_registry")
             else None)  # fmt: skip
            for p in planted
            if p["kind"] not in JUNK_KINDS and p["nit"]
        },
        key=lambda t: (t[0], t[1] or 0),
    )
    manifest = {
        "generator": "fiscal_intel.demo.messy",
        "args": {
            "taxpayers": taxpayers,
            "seed": seed,
            "bad_share": bad_share,
            "first_year": first_year,
            "last_year": last_year,
            "municipality": municipality,
        },
        "files": written,
        "unreadable": unreadable,
        "duplicates": duplicates,
        "rows_by_source": dict(rows_by_source),
        "planted_by_kind": dict(sorted(by_kind.items())),
        "planted_by_source": dict(sorted(Counter(p["source"] for p in planted).items())),
        "touched_cases": [{"nit": n, "tax_year": y} for n, y in touched],
        "planted": planted,
    }
    (truth_dir / MANIFEST).write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return MessySummary(
        landing=landing,
        truth_dir=truth_dir,
        taxpayers=taxpayers,
        seed=seed,
        files=len(written) + len(unreadable) + len(duplicates),
        rows=dict(rows_by_source),
        planted=dict(by_kind),
    )
