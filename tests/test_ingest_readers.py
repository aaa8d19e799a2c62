"""Reading files as tax offices export them: encodings, delimiters, quotes, headers, sheets."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from fiscal_intel.ingest.mappings import load_mapping
from fiscal_intel.ingest.readers import (
    RAW,
    ROW_NUMBER,
    SHAPE,
    UnreadableFile,
    detect_encoding,
    read_table,
    sniff_delimiter,
)

PAYMENTS = load_mapping("payments")
NAMES = ["JOSÉ MUÑOZ CASTAÑO", "ANDRÉS GÓMEZ – PEÑA", "FERRETERÍA ÑANDÚ S.A.S."]


def _payments_csv(delimiter: str = ";", names: list[str] = NAMES) -> str:
    lines = [delimiter.join(["RECIBO", "NIT", "VIGENCIA", "FECHA PAGO", "VALOR PAGADO", "NOMBRE"])]
    for i, name in enumerate(names, start=1):
        lines.append(delimiter.join([f"R-{i}", "900111222", "2023", "15/03/2024", "1000", name]))
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "cp850"])
def test_encodings_are_detected_and_text_comes_back_exact(encoding: str) -> None:
    names = NAMES if encoding in ("utf-8", "utf-8-sig", "cp1252", "utf-16") else NAMES[::2]
    data = _payments_csv(names=names).encode(encoding)
    table = read_table(Path("p.csv"), data, PAYMENTS)
    assert table.frame["_x_nombre"].to_list() == names
    assert table.frame["payment_id"].to_list() == [f"R-{i}" for i in range(1, len(names) + 1)]


def test_latin_1_spanish_is_not_read_as_central_european() -> None:
    # Unrestricted detectors call this cp1250, where Ñ is Ń: the candidates are Western only.
    data = "nit;nombre\n1;PEÑA\n2;MUÑOZ\n".encode("latin-1")
    assert detect_encoding(data) in ("cp1252", "latin_1", "iso8859_15")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_quoted_fields_hold_delimiters_quotes_and_line_breaks(delimiter: str) -> None:
    tricky = [
        f"CL 50 # 45-12{delimiter} LOCAL 3",
        'SARA "LA MONA" LÓPEZ',
        "VDA LLANOGRANDE\r\nFINCA EL ROSAL",
        f'multi{delimiter}"line"\nvalue',
    ]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["RECIBO", "NIT", "VIGENCIA", "FECHA PAGO", "VALOR PAGADO", "NOTA"])
    for i, value in enumerate(tricky, start=1):
        writer.writerow([f"R-{i}", "900111222", "2023", "15/03/2024", "1.000,50", value])
    table = read_table(Path("p.csv"), buffer.getvalue().encode("utf-8"), PAYMENTS)
    assert table.frame["_x_nota"].to_list() == tricky
    # A row is a record: quoted line breaks do not shift the numbering.
    assert table.frame[ROW_NUMBER].to_list() == [1, 2, 3, 4]
    assert table.frame[SHAPE].null_count() == 4


def test_a_semicolon_file_with_spanish_decimals_is_not_split_on_commas() -> None:
    text = "RECIBO;NIT;VIGENCIA;FECHA PAGO;VALOR PAGADO\n" + "".join(
        f"R-{i};900111222;2023;15/03/2024;1.234,{i:02d}\n" for i in range(30)
    )
    assert sniff_delimiter(text) == ";"
    # ... and a comma file whose quoted amounts hold commas is not split on them.
    text = "RECIBO,NIT,VIGENCIA,FECHA PAGO,VALOR PAGADO\n" + "".join(
        f'R-{i},900111222,2023,15/03/2024,"1.234,{i:02d}"\n' for i in range(30)
    )
    assert sniff_delimiter(text) == ","


def test_title_lines_above_the_header_and_blank_rows_are_skipped() -> None:
    text = (
        "REPORTE DE RECAUDO ICA\r\nGenerado: 30/06/2025\r\n\r\n"
        "RECIBO;NIT;VIGENCIA;FECHA PAGO;VALOR PAGADO\r\n"
        "R-1;900111222;2023;15/03/2024;1000\r\n\r\n;;;;\r\nR-2;900111222;2023;15/03/2024;2000\r\n"
    )
    table = read_table(Path("p.csv"), text.encode("cp1252"), PAYMENTS)
    assert table.frame["payment_id"].to_list() == ["R-1", "R-2"]
    assert table.frame[ROW_NUMBER].to_list() == [1, 4]  # blank rows keep their numbers
    assert table.notes == ("header on row 4", "2 blank row(s) skipped")
    assert table.format == "csv utf-8 ';'"
    assert table.renamed["amount"] == "VALOR PAGADO"


def test_rows_with_the_wrong_number_of_fields_are_marked_not_fatal() -> None:
    text = (
        "RECIBO;NIT;VIGENCIA;FECHA PAGO;VALOR PAGADO;\r\n"  # a trailing delimiter on the header
        "R-1;900111222;2023;15/03/2024;1000\r\n"  # ... and not on this row: fine
        "R-2;900111222;2023;15/03/2024;1000;;\r\n"  # trailing empty fields: fine
        "R-3;900111222;2023;15/03/2024;1.000;00\r\n"  # an unquoted ';' in a value
        "R-4;900111222;2023\r\n"  # a short row lost its delimiters
    )
    frame = read_table(Path("p.csv"), text.encode(), PAYMENTS).frame
    assert frame[SHAPE].to_list() == [
        None,
        None,
        "row has 6 fields where the header has 5 (an unquoted ';' inside a value?)",
        "row has 3 fields where the header has 5",
    ]
    assert frame["payment_id"].to_list() == ["R-1", "R-2", None, None]
    assert frame[RAW].to_list()[2] == "R-3;900111222;2023;15/03/2024;1.000;00"


def _book(sheets: dict[str, list[list[object]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


HEADER = ["RECIBO", "NIT", "VIGENCIA", "FECHA PAGO", "VALOR PAGADO"]


def test_the_sheet_holding_the_table_is_found_behind_a_cover() -> None:
    from datetime import date, datetime

    data = _book(
        {
            "Portada": [["SECRETARÍA DE HACIENDA"], ["Reporte", None, "Fecha", date(2024, 6, 30)]],
            "Pagos": [
                ["RECAUDO ICA 2023"],
                HEADER,
                ["R-1", 900111222, 2023, datetime(2024, 3, 15), 6580000],
                ["R-2", 900111222.0, 2023.0, "15/03/2024", 1234567.5],
                ["R-3", "900.111.222-1", 2023, datetime(2024, 3, 15, 10, 30), None],
            ],
        }
    )
    table = read_table(Path("p.xlsx"), data, PAYMENTS)
    assert table.format == "xlsx sheet 'Pagos'"
    assert table.notes == ("header on row 2", "other sheets skipped: Portada")
    frame = table.frame
    assert frame["nit"].to_list() == ["900111222", "900111222", "900.111.222-1"]
    assert frame["paid_on"].to_list() == ["2024-03-15", "15/03/2024", "2024-03-15 10:30:00"]
    assert frame["amount"].to_list() == ["6580000", "1234567.5", ""]
    assert frame["tax_year"].to_list() == ["2023", "2023", "2023"]


def test_workbooks_without_exactly_one_table_fail_naming_the_sheets() -> None:
    cover_only = _book({"Portada": [["SECRETARÍA DE HACIENDA"]], "Notas": [["ver anexo"]]})
    with pytest.raises(UnreadableFile, match=r"^p\.xlsx: no sheet holds the table \('Portada'"):
        read_table(Path("p.xlsx"), cover_only, PAYMENTS)
    two = _book({"2022": [HEADER, ["R-1"]], "2023": [HEADER, ["R-2"]]})
    with pytest.raises(UnreadableFile, match="sheets '2022' and '2023' both hold a table"):
        read_table(Path("p.xlsx"), two, PAYMENTS)


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("p.csv", b"", "the file is empty"),
        ("p.csv", b"  \r\n\r\n", "the file is empty"),
        ("p.csv", b"PK\x03\x04\x14\x00\x00\x00binary", "not a text table (it looks like an Excel"),
        ("p.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "old Excel workbook (.xls)"),
        ("p.xlsx", b"<html><table><tr><td>1</td></tr></table></html>", "it is an HTML or XML page"),
        ("p.xlsx", b"PK\x03\x04 truncated", "not a readable xlsx workbook"),
        ("p.parquet", b"PAR1 truncated", "not a readable parquet table"),
        ("p.csv", b"hola mundo\nesto no es una tabla\n", "missing required column(s)"),
        ("p.xls", b"\xd0\xcf\x11\xe0", "unsupported file type '.xls'"),
    ],
)
def test_files_that_are_not_tables_fail_naming_the_problem(
    name: str, data: bytes, problem: str
) -> None:
    with pytest.raises(UnreadableFile) as info:
        read_table(Path(name), data, PAYMENTS)
    message = str(info.value)
    assert message.startswith(f"{name}: ")
    assert problem in message
    assert "\n" not in message


def test_a_column_that_appears_twice_fails_the_file() -> None:
    text = "RECIBO;NIT;Nit ;VIGENCIA;FECHA PAGO;VALOR PAGADO\r\nR-1;1;2;2023;15/03/2024;1\r\n"
    with pytest.raises(UnreadableFile, match="repeated column 'NIT', 'Nit'"):
        read_table(Path("p.csv"), text.encode(), PAYMENTS)


def test_parquet_with_the_offices_own_headers() -> None:
    from datetime import date

    frame = pl.DataFrame(
        {
            "RECIBO": ["R-1", "R-2"],
            "NIT": [900111222, 43987654],
            "VIGENCIA": [2023, 2023],
            "FECHA PAGO": [date(2024, 3, 15), date(2024, 4, 30)],
            "VALOR PAGADO": [6580000.0, 1234567.5],
        }
    )
    out = io.BytesIO()
    frame.write_parquet(out)
    table = read_table(Path("p.parquet"), out.getvalue(), PAYMENTS)
    assert table.frame.select("nit", "paid_on", "amount").rows() == [
        ("900111222", "2024-03-15", "6580000"),
        ("43987654", "2024-04-30", "1234567.5"),
    ]


def test_many_rows_are_read_in_chunks_with_their_numbers(monkeypatch) -> None:
    from fiscal_intel.ingest import readers

    monkeypatch.setattr(readers, "CHUNK_ROWS", 7)
    rows = "".join(f"R-{i};900111222;2023;15/03/2024;{i}\r\n" for i in range(1, 51))
    text = "RECIBO;NIT;VIGENCIA;FECHA PAGO;VALOR PAGADO\r\n" + rows
    frame = read_table(Path("p.csv"), text.encode(), PAYMENTS).frame
    assert frame[ROW_NUMBER].to_list() == list(range(1, 51))
    assert frame["amount"].to_list() == [str(i) for i in range(1, 51)]
