"""Audit lists as files inspectors open: CSV for any tool, XLSX for Excel. Spanish by default.

With a capacity (``inspectors`` × ``cases_per_inspector``) the top cases are split across the
inspectors: every case of one taxpayer goes to the same inspector (one visit covers all its open
years), and each new taxpayer goes to the inspector with the least expected recovery so far, so
workloads are equal in cases and close in money. The XLSX then has one sheet per inspector.

Every file is safe to open (OWASP CSV injection): a taxpayer writes its own legal name, so no
cell is ever a formula. Workbooks are written with ``strings_to_formulas`` off and every text
through ``write_string`` (text that starts like a formula also gets Excel's quote prefix, so
editing the cell keeps it text); CSV text that starts with ``=``, ``+``, ``-``, ``@``, tab or
carriage return is prefixed with an apostrophe. One workbook writer (:func:`write_workbook`)
serves ``--top``, ``--inspectors`` and the case file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from fiscal_intel.published import reading
from fiscal_intel.scoring.reason_texts import LANGUAGES, number, stored
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
# What the files show, in order (inspector first when the list is split).
SHOWN = [
    "inspector",
    "rank",
    "nit",
    "legal_name",
    "tax_year",
    "risk_score",
    "expected_recovery",
    "predicted_amount",
    "statute_expires_on",
    "reasons",
    "action",
    "expected_net",
    "program",
]

HEADERS = {
    "es": {
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
        "action": "Acción recomendada",
        "expected_net": "Rendimiento neto esperado de la acción (COP)",
    },
    "en": {
        "inspector": "Inspector",
        "program": "Program",
        "rank": "Rank",
        "nit": "NIT",
        "legal_name": "Legal name",
        "tax_year": "Tax year",
        "risk_score": "Probability of a finding",
        "expected_recovery": "Expected recovery (COP)",
        "predicted_amount": "Amount if adjusted (COP)",
        "statute_expires_on": "Statute expires on",
        "reasons": "Reasons",
        "action": "Recommended action",
        "expected_net": "Expected net yield of the action (COP)",
    },
}

# How each column is written: text (NIT included: a NIT is an id, never a number), integer,
# year (no thousands separator), money, probability, date, or long wrapped text.
KINDS = {
    "inspector": "int",
    "program": "text",
    "rank": "int",
    "nit": "text",
    "legal_name": "text",
    "tax_year": "year",
    "risk_score": "prob",
    "expected_recovery": "money",
    "predicted_amount": "money",
    "statute_expires_on": "date",
    "reasons": "wrap",
    "action": "text",
    "expected_net": "money",
}

WORDS = {
    "es": {
        "omiso": "Omisos",
        "inexacto": "Inexactos",
        "action_sheets": {"fiscalizacion": "Fiscalización", "requerimiento": "Requerimiento",
                          "emplazamiento": "Emplazamiento", "carta": "Carta"},
        "inspector_sheet": "Inspector {n}",
        "about": "Acerca de",
        "about_header": ("Dato", "Valor"),
        "municipality": "Municipio (código DANE)",
        "program": "Programa",
        "program_omiso": "omiso: obligados a declarar ICA que no declararon el año",
        "program_inexacto": "inexacto: declararon, pero probablemente por menos de lo debido",
        "as_of": "Fecha de corte de los datos",
        "run": "Ejecución que produjo la lista",
        "run_value": "{run_id} (terminó {finished_at})",
        "models": "Versiones de los modelos",
        "model_value": "{program} {version} (auditorías cerradas del {start} al {end})",
        "cases": "Casos en este archivo",
        "cases_value": "{n} de {total} casos abiertos del programa",
        "order": "Cómo se ordenó la lista",
        "order_value": (
            "Por recaudo esperado = probabilidad de hallazgo × valor estimado si hay hallazgo, "
            "de mayor a menor (redondeado a dos cifras significativas); entre casos iguales va "
            "primero el que vence antes. Solo casos dentro del término de firmeza (ET arts. 714 "
            "y 717) y sin auditoría abierta o cerrada."
        ),
        "split_value": (
            " Reparto: los casos de un mismo contribuyente van al mismo inspector; cada "
            "contribuyente nuevo va al inspector con menos recaudo esperado asignado."
        ),
        "reading": "Cómo leer un motivo",
        "reading_value": (
            "Cada motivo, separado por «;», es un factor que subió la probabilidad de este caso, "
            "con las cifras del propio contribuyente; todas se pueden verificar en el expediente "
            "del caso (fiscal-intel case --nit NIT --year AÑO). Cifras: COP 410 M = 410 millones "
            "de pesos; COP 2,3 mil M = 2.300 millones; porcentajes sobre los ingresos; tarifas "
            "en por mil. Al final: el impuesto esperado si hay ajuste (sanción por inexactitud, "
            "ET art. 648; liquidación de aforo, ET art. 717) y la fecha en que vence la firmeza."
        ),
        "secrecy": "Reserva",
        "secrecy_value": (
            "Información amparada por la reserva tributaria (ET art. 583): solo para uso de la "
            "fiscalización."
        ),
        "unknown": "sin dato",
    },
    "en": {
        "omiso": "Non-filers",
        "inexacto": "Under-reporters",
        "action_sheets": {"fiscalizacion": "Field audit", "requerimiento": "Request",
                          "emplazamiento": "Demand to file", "carta": "Letter"},
        "inspector_sheet": "Inspector {n}",
        "about": "About",
        "about_header": ("Item", "Value"),
        "municipality": "Municipality (DANE code)",
        "program": "Program",
        "program_omiso": "omiso: obliged to file ICA, did not file for the year",
        "program_inexacto": "inexacto: filed, likely under-reported",
        "as_of": "Data as of",
        "run": "Run that produced the list",
        "run_value": "{run_id} (finished {finished_at})",
        "models": "Model versions",
        "model_value": "{program} {version} (audits closed {start} to {end})",
        "cases": "Cases in this file",
        "cases_value": "{n} of the program's {total} open cases",
        "order": "How the list was ordered",
        "order_value": (
            "By expected recovery = probability of a finding × amount if adjusted, highest "
            "first (rounded to two significant figures); among equals the case whose statute "
            "expires sooner comes first. Only cases still open to assessment (ET arts. 714 and "
            "717) and never audited."
        ),
        "split_value": (
            " Split: a taxpayer's cases go to one inspector; each new taxpayer goes to the "
            "inspector with the least expected recovery so far."
        ),
        "reading": "How to read a reason",
        "reading_value": (
            "Each reason, separated by ';', is a factor that raised this case's probability, "
            "with the taxpayer's own figures; all of them are in the case file (fiscal-intel "
            "case --nit NIT --year YEAR). Figures: COP 410 M = 410 million pesos; COP 2.3 bn = "
            "2,300 million; percentages of income; rates per mil. Last come the tax expected if "
            "adjusted (ET art. 648 inaccuracy penalty; ET art. 717 non-filer assessment) and the "
            "date the statute expires."
        ),
        "secrecy": "Confidentiality",
        "secrecy_value": "Taxpayer data under tax secrecy (ET art. 583): for audit staff only.",
        "unknown": "unknown",
    },
}

CSV_DIALECTS = ("semicolon", "comma")
# Text that a spreadsheet would read as a formula (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_lang(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"--lang {lang}: use one of {', '.join(LANGUAGES)}")


def connect(warehouse: Path) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
    """The warehouse opened for reading, the one place the exports and the case file open it:
    the published copy a finished run left (fiscal_intel.published), never in a run's way."""
    return reading(warehouse)


def _has_column(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.columns "
            "where table_schema = ? and table_name = ? and column_name = ?",
            [schema, table, column],
        ).fetchall()[0][0]
    )


def audit_list(warehouse: Path, program: str, top: int) -> pl.DataFrame:
    """The top ``top`` cases of a program from ``marts.audit_ranking`` (with the structured
    ``reason_codes`` when the warehouse has them)."""
    if top < 1:
        raise ValueError("--top must be at least 1")
    with connect(warehouse) as con:
        codes = (
            "reason_codes"
            if _has_column(con, "marts", "audit_ranking", "reason_codes")
            else "null::varchar as reason_codes"
        )
        if _has_column(con, "marts", "audit_ranking", "action"):
            codes += ", action, expected_net"
        return frame(
            con,
            f"select {', '.join(COLUMNS)}, predicted_amount, {codes} from marts.audit_ranking "
            "where program = $program and rank <= $top order by rank",
            {"program": program, "top": top},
        )


def localized_reasons(cases: pl.DataFrame, lang: str) -> pl.DataFrame:
    """``reasons`` rendered in ``lang`` from ``reason_codes`` (the stored Spanish text when a
    row has no structured reasons, as in a warehouse built before they existed)."""
    if "reason_codes" not in cases.columns:
        return cases
    texts = [
        stored(text, codes, lang)
        for codes, text in zip(cases["reason_codes"], cases["reasons"], strict=True)
    ]
    return cases.with_columns(pl.Series("reasons", texts, dtype=pl.Utf8)).drop("reason_codes")


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
    # inspector fill up with others' cases before a taxpayer's later year arrived. Taxpayers
    # with more cases go first (then in rank order): placed last, two cases of one taxpayer
    # found only single free places (3 inspectors of 4, eight single cases placed first).
    for rows in sorted(groups.values(), key=len, reverse=True):
        whole = [i for i in range(inspectors) if load[i] + len(rows) <= per_inspector]
        for k in rows:
            free = whole or [i for i in range(inspectors) if load[i] < per_inspector]
            i = min(free, key=lambda j: (money[j], j))
            whole = [i] if whole else []
            load[i] += 1
            money[i] += expected[k]
            assigned[k] = i + 1
    # inspectors numbered in the order of their best case: inspector 1 has the top case
    number: dict[int, int] = {}
    for i in assigned:
        number.setdefault(i, len(number) + 1)
    assigned = [number[i] for i in assigned]
    return cases.with_columns(pl.Series("inspector", assigned, dtype=pl.Int32))


# --- safe writers -----------------------------------------------------------------------------


def safe_csv_text(value: str) -> str:
    """Text a spreadsheet shows as text: one that starts like a formula gets an apostrophe
    (OWASP's CSV-injection rule; the csv module quotes it when needed)."""
    return "'" + value if value.startswith(FORMULA_START) else value


@dataclass(frozen=True)
class Sheet:
    """One worksheet: a name, its columns (key, header, kind; see KINDS) and its rows."""

    name: str
    columns: Sequence[tuple[str, str, str]]
    rows: Iterable[Sequence[object]]


@dataclass(frozen=True)
class Typed:
    """A value with the kind to write it as, for a column that holds several kinds."""

    value: object
    kind: str


def auto_kind(value: object) -> str:
    """The kind of a value in an ``auto`` column (feature tables mix numbers, codes, dates)."""
    if isinstance(value, bool) or value is None:
        return "text"
    if isinstance(value, int):
        return "int"
    if isinstance(value, (float, Decimal)):
        return "number"
    if isinstance(value, date):
        return "date"
    return "text"


WIDTHS = {"text": 34, "auto": 20, "int": 10, "year": 9, "money": 18, "prob": 12, "date": 12,
          "wrap": 90, "number": 14, "long": 60}  # fmt: skip


def _as_date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value  # type: ignore[return-value]
    return date.fromisoformat(str(value)[:10])


def write_workbook(out: Path, sheets: Sequence[Sheet], lang: str = "es") -> None:
    """Write ``sheets`` to an XLSX an inspector can work in: bold wrapped header frozen on top,
    an autofilter, widths by kind, long text wrapped, years as plain integers, dates as dates,
    money with thousands separators, NIT as text, and never a formula."""
    from xlsxwriter import Workbook

    options = {"strings_to_formulas": False, "strings_to_urls": False,
               "strings_to_numbers": False}  # fmt: skip
    with Workbook(str(out), options) as workbook:
        header = workbook.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7",
             "border": 1}
        )  # fmt: skip
        date_format = "dd/mm/yyyy" if lang == "es" else "yyyy-mm-dd"
        formats = {
            "text": workbook.add_format({"valign": "top", "num_format": "@"}),
            "wrap": workbook.add_format({"valign": "top", "text_wrap": True, "num_format": "@"}),
            "long": workbook.add_format({"valign": "top", "text_wrap": True, "num_format": "@"}),
            "int": workbook.add_format({"valign": "top", "num_format": "0"}),
            "year": workbook.add_format({"valign": "top", "num_format": "0"}),
            "money": workbook.add_format({"valign": "top", "num_format": "#,##0"}),
            "number": workbook.add_format({"valign": "top", "num_format": "#,##0.00##"}),
            "prob": workbook.add_format({"valign": "top", "num_format": "0.0%"}),
            "date": workbook.add_format({"valign": "top", "num_format": date_format}),
        }
        # Text that starts like a formula: Excel's quote prefix keeps it text even when edited.
        quoted = {
            kind: workbook.add_format(
                {"valign": "top", "text_wrap": kind != "text", "num_format": "@",
                 "quote_prefix": True}
            )
            for kind in ("text", "wrap", "long")
        }  # fmt: skip
        for sheet in sheets:
            ws = workbook.add_worksheet(sheet.name[:31])
            kinds = [kind for _, _, kind in sheet.columns]
            for j, (_, title, kind) in enumerate(sheet.columns):
                ws.write_string(0, j, title, header)
                ws.set_column(j, j, max(WIDTHS.get(kind, 16), min(len(title) + 2, 40)))
            i = 0
            for i, row in enumerate(sheet.rows, start=1):
                for j, (value, kind) in enumerate(zip(row, kinds, strict=True)):
                    _write_cell(ws, i, j, value, kind, formats, quoted)
            ws.freeze_panes(1, 0)
            ws.autofilter(0, 0, max(i, 1), len(kinds) - 1)


def _write_cell(ws, i: int, j: int, value: object, kind: str, formats: dict, quoted: dict) -> None:
    if isinstance(value, Typed):
        value, kind = value.value, value.kind
    if kind == "auto":
        kind = auto_kind(value)
    fmt = formats.get(kind, formats["text"])
    if value is None or (isinstance(value, float) and value != value):
        ws.write_blank(i, j, None, fmt)
    elif kind == "date":
        d = _as_date(value)
        ws.write_datetime(i, j, datetime(d.year, d.month, d.day), fmt)  # type: ignore[union-attr]
    elif kind in ("int", "year", "money", "prob", "number") and isinstance(
        value, (int, float)
    ) and not isinstance(value, bool):
        ws.write_number(i, j, float(value), fmt)
    elif kind in ("int", "year", "money", "prob", "number"):
        try:
            ws.write_number(i, j, float(value), fmt)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            ws.write_string(i, j, str(value), formats["text"])
    else:
        text = str(value)
        if text.startswith(FORMULA_START):
            ws.write_string(i, j, text, quoted.get(kind, quoted["text"]))
        else:
            ws.write_string(i, j, text, fmt)


def write_csv(
    out: Path, columns: Sequence[tuple[str, str, str]], rows: Iterable[Sequence[object]],
    dialect: str = "semicolon",
) -> None:
    """A CSV that opens right: ``semicolon`` (default) is what a Spanish-locale Excel reads
    (``;``, UTF-8 with BOM, decimal comma); ``comma`` is ``,``, plain UTF-8 and decimal point.
    Text that starts like a formula gets an apostrophe; numbers are written without thousands
    separators, money in whole pesos, dates ISO."""
    if dialect not in CSV_DIALECTS:
        raise ValueError(f"--csv-dialect {dialect}: use one of {', '.join(CSV_DIALECTS)}")
    semicolon = dialect == "semicolon"

    def cell(value: object, kind: str) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        if kind == "date":
            return _as_date(value).isoformat()  # type: ignore[union-attr]
        if kind in ("int", "year", "money") and isinstance(value, (int, float)):
            return str(round(value))
        if kind in ("prob", "number") and isinstance(value, (int, float)):
            text = f"{float(value):.6g}"
            return text.replace(".", ",") if semicolon else text
        return safe_csv_text(str(value))

    kinds = [kind for _, _, kind in columns]
    with out.open("w", encoding="utf-8-sig" if semicolon else "utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";" if semicolon else ",", quoting=csv.QUOTE_MINIMAL)
        writer.writerow([safe_csv_text(title) for _, title, _ in columns])
        for row in rows:
            writer.writerow([cell(v, k) for v, k in zip(row, kinds, strict=True)])


# --- the audit list ---------------------------------------------------------------------------


def about_rows(
    con: duckdb.DuckDBPyConnection, program: str, lang: str, *, municipality: str | None,
    cases: int, split: bool,
) -> list[tuple[str, str]]:
    """What the "Acerca de" sheet says: where the list comes from and how to read it."""
    w = WORDS[lang]
    as_of = con.execute("select as_of from staging.as_of_date").fetchall()[0][0]
    run = w["unknown"]
    if con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'ops' and table_name = 'run_log'"
    ).fetchall()[0][0]:
        last = con.execute(
            "select run_id, finished_at from ops.run_log where status = 'success' "
            "order by finished_at desc limit 1"
        ).fetchall()
        if last:
            run = w["run_value"].format(
                run_id=last[0][0], finished_at=str(last[0][1])[:19]
            )
    models = "; ".join(
        w["model_value"].format(program=p, version=v, start=s, end=e)
        for p, v, s, e in con.execute(
            "select program, model_version, trained_from, trained_to from scoring.risk_models "
            "order by program"
        ).fetchall()
    )
    total = con.execute(
        "select count(*) from marts.audit_ranking where program = ?", [program]
    ).fetchall()[0][0]
    return [
        (w["municipality"], municipality or w["unknown"]),
        (w["program"], w[f"program_{program}"]),
        (w["as_of"], _as_date(as_of).strftime("%d/%m/%Y" if lang == "es" else "%Y-%m-%d")),  # type: ignore[union-attr]
        (w["run"], run),
        (w["models"], models or w["unknown"]),
        (w["cases"], w["cases_value"].format(n=cases, total=number(total, 0, lang))),
        (w["order"], w["order_value"] + (w["split_value"] if split else "")),
        (w["reading"], w["reading_value"]),
        (w["secrecy"], w["secrecy_value"]),
    ]


def action_sheets(
    cases: pl.DataFrame, keys: list[str], columns: list, lang: str
) -> list[Sheet]:
    """One sheet per recommended action present in ``cases`` (audits first, letters last), each
    in rank order, with the action's name shown in the inspector's language."""
    if "action_code" not in cases.columns:
        return []
    from fiscal_intel.actions.choice import ACTIONS

    return [
        Sheet(WORDS[lang]["action_sheets"][a], columns,
              cases.filter(pl.col("action_code") == a).select(keys).iter_rows())
        for a in ACTIONS
        if cases.filter(pl.col("action_code") == a).height
    ]  # fmt: skip


def about_sheet(rows: list[tuple[str, str]], lang: str) -> Sheet:
    a, b = WORDS[lang]["about_header"]
    return Sheet(WORDS[lang]["about"], [("item", a, "text"), ("value", b, "long")], rows)


def export_audit_list(
    warehouse: Path,
    program: str,
    top: int,
    out: Path,
    *,
    inspectors: int | None = None,
    cases_per_inspector: int | None = None,
    lang: str = "es",
    csv_dialect: str = "semicolon",
    municipality: str | None = None,
) -> int:
    """Write the list to ``out`` (.csv or .xlsx); returns the number of cases written.

    With ``inspectors`` and ``cases_per_inspector`` the list is the top inspectors ×
    cases_per_inspector cases split across the inspectors (``top`` is then ignored).
    """
    check_lang(lang)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ValueError(f"{out}: use a .csv or .xlsx file name")
    if csv_dialect not in CSV_DIALECTS:
        raise ValueError(f"--csv-dialect {csv_dialect}: use one of {', '.join(CSV_DIALECTS)}")
    split = inspectors is not None or cases_per_inspector is not None
    if split:
        if inspectors is None or cases_per_inspector is None:
            raise ValueError("--inspectors and --cases-per-inspector go together")
        capacity = inspectors * cases_per_inspector
        cases = assign_inspectors(
            audit_list(warehouse, program, max(capacity, 1)), inspectors, cases_per_inspector
        )
    else:
        cases = audit_list(warehouse, program, top)
    cases = localized_reasons(cases, lang)
    if "action" in cases.columns:
        from fiscal_intel.actions.texts import NAMES

        cases = cases.with_columns(
            action_code=pl.col("action"),
            action=pl.col("action").replace_strict(NAMES[lang], default=None),
        )
    keys = [c for c in SHOWN if c in cases.columns]
    columns = [(c, HEADERS[lang][c], KINDS[c]) for c in keys]
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        write_csv(out, columns, cases.select(keys).iter_rows(), csv_dialect)
        return cases.height
    if split:
        sheets = [
            Sheet(
                WORDS[lang]["inspector_sheet"].format(n=n[0]),
                columns,
                group.sort("rank").select(keys).iter_rows(),
            )
            for n, group in cases.group_by("inspector", maintain_order=True)
        ]
    else:
        sheets = [Sheet(WORDS[lang][program], columns, cases.select(keys).iter_rows())]
        sheets += action_sheets(cases, keys, columns, lang)
    with connect(warehouse) as con:
        about = about_rows(
            con, program, lang, municipality=municipality, cases=cases.height, split=split
        )
    write_workbook(out, [*sheets, about_sheet(about, lang)], lang)
    return cases.height
