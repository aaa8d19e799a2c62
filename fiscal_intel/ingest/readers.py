"""Read one landing file into a frame of text columns, whatever its format.

Everything is read as text: typing happens in the loader's SQL, where a value that cannot be
read becomes a quarantine reason instead of an exception that would lose the whole file. What
cannot be decided per row is decided per file, and a file that is not a table fails alone with a
message naming the problem:

- CSV: the encoding is detected (UTF-8 with or without BOM, UTF-16/32 with BOM, else the
  Western single-byte code page charset-normalizer finds most plausible: Windows-1252, Latin-1,
  Latin-9 or the DOS code page 850), and so is the delimiter (``,`` ``;`` tab ``|``: the one
  that splits the most rows into the same number of fields). Python's ``csv`` module splits
  records, so quoted fields may hold delimiters, quotes and line breaks, and a row with the wrong
  number of fields is a quarantined row, not a failed file.
- XLSX: every sheet is looked at; the one whose header carries the required columns is read
  (covers, notes and pivot sheets are skipped); two such sheets fail the file.
- The header is the first of the first rows that carries every required column (title lines
  above it are skipped), after the source's column mapping (``fiscal_intel.ingest.mappings``).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Protocol

import polars as pl

from fiscal_intel.ingest.mappings import Resolution, normalise_header

ROW_NUMBER = "_row_number"
RAW = "_raw"
SHAPE = "_shape"  # why a row's fields do not line up with the header, else null
TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
SUFFIXES = TEXT_SUFFIXES | {".parquet", ".xlsx"}
DELIMITERS = (",", ";", "\t", "|")
HEADER_SEARCH_ROWS = 20  # non-blank rows looked at for the header
SNIFF_CHARS = 1 << 16
CHUNK_ROWS = 50_000  # rows turned into a polars frame at a time, so memory stays flat
# Code pages a Colombian export is written in when it is not Unicode. Restricting the detector
# to them matters: unrestricted, it reads Latin-1 Spanish as Central European (Ñ becomes Ń).
WESTERN_CODE_PAGES = ("cp1252", "latin_1", "iso8859_15", "cp850")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

csv.field_size_limit(1 << 20)  # one field over 1 MB is an unclosed quote, not a value


class UnreadableFile(Exception):
    """A file that cannot be read as a table: the whole file fails, naming the problem."""


class HeaderResolver(Protocol):
    def resolve(self, headers: Sequence[object]) -> Resolution: ...


class _AsIs:
    """No mapping, nothing required: each header normalised (used when no source is given)."""

    def resolve(self, headers: Sequence[object]) -> Resolution:
        names: list[str] = []
        for i, h in enumerate(headers):
            base = normalise_header("" if h is None else str(h)) or f"column_{i + 1}"
            name, k = base, 2
            while name in names:
                name, k = f"{base}_{k}", k + 1
            names.append(name)
        return Resolution(names, [], {})


@dataclass(frozen=True)
class FileFrame:
    frame: pl.DataFrame  # text columns named by the resolver, plus _row_number, _raw, _shape
    format: str  # how the file was read, for ops.load_log ("csv cp1252 ';'", "xlsx sheet 'X'")
    renamed: dict[str, str] = field(default_factory=dict)  # canonical -> header as written
    notes: tuple[str, ...] = ()  # what else the reader did (title rows, blank rows skipped)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------------------------
# Text files
# ----------------------------------------------------------------------------------------------
# A UTF-8 encoded non-ASCII character: a lead byte and its continuation bytes. In a Western code
# page the same bytes are two or three unlikely characters in a row (``Ã\x8d`` for ``Í``).
_UTF8_CHAR = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _mixed_encoding(data: bytes, name: str) -> str | None:
    """Why ``data`` (which is not valid UTF-8) mixes UTF-8 lines with code-page lines, or None.

    Decoding such a file in either encoding garbles the other's lines (``FERRETERÃ\x8dA``), so
    the file is refused rather than loaded with mojibake, naming a line of each kind.
    """
    utf8_line = other_line = 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            if _UTF8_CHAR.search(line):
                utf8_line = utf8_line or number
        except UnicodeDecodeError:
            other_line = other_line or number
        if utf8_line and other_line:
            return (
                f"{name}: mixes UTF-8 (line {utf8_line}) and Latin-1/Windows-1252 "
                f"(line {other_line}) text; re-export it in one encoding"
            )
    return None


def detect_encoding(data: bytes, name: str = "the file") -> str:
    """The codec to read ``data`` with: a BOM's, else UTF-8 if it decodes, else a code page.

    Raises UnreadableFile for a file mixing UTF-8 and code-page lines (see _mixed_encoding).
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if mixed := _mixed_encoding(data, name):
        raise UnreadableFile(mixed)
    from charset_normalizer import from_bytes  # imported here: only non-UTF-8 files need it

    best = from_bytes(data, cp_isolation=list(WESTERN_CODE_PAGES)).best()
    candidates = ([best.encoding] if best is not None else []) + ["cp1252"]
    for codec in candidates:
        try:
            data.decode(codec)
            return codec
        except UnicodeDecodeError:
            continue
    return "latin_1"  # decodes any bytes


def decode(data: bytes) -> tuple[str, str]:
    """Text and encoding name (see :func:`detect_encoding`)."""
    codec = detect_encoding(data)
    return data.decode(codec), codec


def _binary_hint(data: bytes) -> str:
    head = data[:8]
    if head.startswith(b"PK\x03\x04"):
        return "it looks like an Excel workbook (.xlsx) with another name"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "it looks like an old Excel workbook (.xls): save it as .xlsx or .csv"
    if head.startswith(b"PAR1"):
        return "it looks like a parquet file with another name"
    if head.startswith(b"%PDF"):
        return "it is a PDF"
    return "binary content"


def _not_a_table_hint(text: str) -> str | None:
    start = text.lstrip()[:200].lower()
    if start.startswith(("<!doctype html", "<html", "<table", "<?xml")):
        return (
            "it is an HTML or XML page, not a table file "
            "(open it in a spreadsheet and save it as .xlsx or .csv)"
        )
    return None


def _records(text: str, delimiter: str) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)


def _blank(record: Sequence[str]) -> bool:
    return all(not f.strip() for f in record)


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the most rows of the sample into the same number of fields.

    Quotes are respected (a ``;`` file whose amounts are ``1.234,00`` splits evenly on commas
    too, but into fewer fields), and title lines above the header do not count.
    """
    sample = text[:SNIFF_CHARS]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            rows = list(_records(sample, delimiter))
        except csv.Error:
            continue
        if len(sample) < len(text) and len(rows) > 1:
            rows = rows[:-1]  # the sample may cut the last record
        widths = Counter(len(r) for r in rows if not _blank(r) and len(r) > 1)
        if not widths:
            continue
        width, count = max(widths.items(), key=lambda wc: (wc[1] * wc[0], wc[0]))
        score = (count * width, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# ----------------------------------------------------------------------------------------------
# Records -> frame (shared by CSV and XLSX)
# ----------------------------------------------------------------------------------------------
@dataclass
class _Table:
    names: list[str]
    resolution: Resolution
    header_row: int  # 1-based record number of the header in the file or sheet
    frames: list[pl.DataFrame] = field(default_factory=list)
    blank_rows: int = 0


def _find_header(
    records: Iterator[Sequence[str]], resolver: HeaderResolver, label: str
) -> tuple[Resolution, int, int]:
    """Read records until the header: (resolution, width, the header's 1-based record number).

    Raises UnreadableFile when none of the first rows carries the required columns.
    """
    best: tuple[int, int, Resolution, Sequence[str]] | None = None
    seen = 0
    for number, record in enumerate(records, start=1):
        if _blank(record):
            continue
        seen += 1
        # Trailing empty header cells are not columns (an export's trailing delimiter).
        width = len(record)
        while width > 1 and not str(record[width - 1]).strip():
            width -= 1
        resolution = resolver.resolve(record[:width])
        if resolution.problem and not resolution.missing:
            raise UnreadableFile(f"{label}: {resolution.problem}")
        if not resolution.missing and not resolution.problem:
            return resolution, width, number
        rank = (len(resolution.missing), seen)
        if best is None or rank < best[:2]:
            best = (*rank, resolution, record[:width])
        if seen >= HEADER_SEARCH_ROWS:
            break
    if best is None:
        raise UnreadableFile(f"{label}: no rows (only blank lines)")
    _, _, resolution, record = best
    found = ", ".join(str(h).strip() for h in record if str(h).strip())
    raise UnreadableFile(
        f"{label}: missing required column(s) {', '.join(resolution.missing)} (found: {found})"
    )


def _frame(
    names: list[str], rows: list[Sequence[str | None]], meta: list[tuple[int, str, str | None]]
) -> pl.DataFrame:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    data = {
        name: pl.Series(name, col, dtype=pl.String)
        for name, col in zip(names, columns, strict=True)
    }
    numbers, raws, shapes = zip(*meta, strict=True) if meta else ((), (), ())
    data[ROW_NUMBER] = pl.Series(ROW_NUMBER, numbers, dtype=pl.Int64)
    data[RAW] = pl.Series(RAW, raws, dtype=pl.String)
    data[SHAPE] = pl.Series(SHAPE, shapes, dtype=pl.String)
    return pl.DataFrame(data)


def _table(
    records: Iterable[Sequence[str]],
    resolver: HeaderResolver,
    label: str,
    joiner: str,
    *,
    pad: bool = False,
) -> _Table:
    """Find the header, then turn every later record into a row of the frame.

    ``pad``: a spreadsheet does not store trailing empty cells, so a short row is complete; in a
    text file a short row has lost a delimiter and its values sit in the wrong columns.
    """
    iterator = iter(records)
    resolution, width, header_row = _find_header(iterator, resolver, label)
    table = _Table(resolution.names, resolution, header_row)
    empty = [None] * width
    rows: list[Sequence[str | None]] = []
    meta: list[tuple[int, str, str | None]] = []
    for number, record in enumerate(iterator, start=1):
        if _blank(record):
            table.blank_rows += 1
            continue
        raw = joiner.join(record)
        if pad and len(record) < width:
            record = [*record, *[""] * (width - len(record))]
        n = len(record)
        if n == width or (n > width and _blank(record[width:])):
            rows.append(record[:width] if n > width else record)
            meta.append((number, raw, None))
        else:
            rows.append(empty)
            if pad:
                shape = f"row has values beyond the header's {width} columns"
            else:
                shape = f"row has {n} field{'s' if n != 1 else ''} where the header has {width}"
            if n > width and not pad and joiner.strip():
                shape += f" (an unquoted '{joiner}' inside a value?)"
            lines = sum(str(f).count("\n") for f in record)
            if lines:
                shape += f" (a quoted value spans {lines + 1} lines: an unclosed quote?)"
            meta.append((number, raw, shape))
        if len(rows) >= CHUNK_ROWS:
            table.frames.append(_frame(table.names, rows, meta))
            rows, meta = [], []
    table.frames.append(_frame(table.names, rows, meta))
    return table


def _notes(table: _Table) -> tuple[str, ...]:
    notes = list(table.resolution.notes)
    if table.header_row > 1:
        notes.append(f"header on row {table.header_row}")
    if table.blank_rows:
        notes.append(f"{table.blank_rows} blank row(s) skipped")
    return tuple(notes)


def _file_frame(table: _Table, fmt: str) -> FileFrame:
    frame = pl.concat(table.frames, how="vertical") if len(table.frames) > 1 else table.frames[0]
    return FileFrame(frame, fmt, dict(table.resolution.renamed), _notes(table))


def _text_format(codec: str, delimiter: str) -> str:
    shown = {"\t": "tab", "|": "|"}.get(delimiter, delimiter)
    return f"csv {codecs.lookup(codec).name} '{shown}'"


def _nul_problem(name: str, data: bytes, text: str) -> str | None:
    """One rule for NUL characters wherever they are: a text file holding one is refused (a
    binary file, or a damaged export whose values cannot be trusted), naming the line."""
    at = text.find("\x00")
    if at < 0:
        return None
    if at < SNIFF_CHARS and text[:SNIFF_CHARS].count("\x00") > 1:
        return f"{name}: not a text table ({_binary_hint(data)})"
    line = text.count("\n", 0, at) + 1
    return f"{name}: a NUL character on line {line}: a damaged export, re-export it"


def _read_text(name: str, data: bytes, resolver: HeaderResolver) -> FileFrame:
    codec = detect_encoding(data, name)
    text = data.decode(codec)
    if problem := _nul_problem(name, data, text):
        raise UnreadableFile(problem)
    if hint := _not_a_table_hint(text):
        raise UnreadableFile(f"{name}: {hint}")
    delimiter = sniff_delimiter(text)
    try:
        table = _table(_records(text, delimiter), resolver, name, delimiter)
    except csv.Error as exc:
        raise UnreadableFile(f"{name}: not a readable csv table ({exc})") from exc
    return _file_frame(table, _text_format(codec, delimiter))


# ----------------------------------------------------------------------------------------------
# The fast path: DuckDB's own CSV reader
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CsvPlan:
    """How DuckDB's parallel CSV reader can read a text file in place of Python's csv module.

    Only for files where both readers must agree record for record: UTF-8 text (other code
    pages are transcoded first, ``text`` holding the decoded file), the header on the first
    line, no empty line (DuckDB skips those, which would shift row numbers), no lone carriage
    return. Anything else the sample cannot rule out (a row with the wrong number of fields, an
    unclosed quote) makes DuckDB stop with an error, and the loader reads the file again the
    careful way: the fast path only ever decides *how* a file is read, never what is loaded.
    """

    delimiter: str
    names: list[str]  # one per field of the header
    format: str
    renamed: dict[str, str]
    text: str | None = None  # the decoded file when it is not UTF-8 on disk
    notes: tuple[str, ...] = ()  # headers that competed for a column (Resolution.notes)

    def raw_expr(self) -> str:
        """SQL rebuilding a row's text as the careful reader keeps it: fields joined by the
        delimiter, quotes removed."""
        fields = ", ".join(f"coalesce({_ident(n)}, '')" for n in self.names)
        return f"concat_ws({_sql_text(self.delimiter)}, {fields})"

    def blank_expr(self) -> str:
        """SQL true for a row whose fields are all blank (skipped, as the careful reader does).

        ``fi_trim(x)`` is empty exactly when ``x`` is made only of the characters it strips, so
        the fields joined (NULL as empty) are checked with one regular expression: one per query
        rather than a ``fi_trim`` per field, each bound and compiled again for every file.
        """
        fields = ", ".join(f"coalesce({_ident(n)}, '')" for n in self.names)
        return f"regexp_full_match(concat({fields}), '[ \\t\\n\\v\\f\\r\\x{{A0}}]*')"

    def read_csv(self, path: str) -> str:
        """``read_csv``: every field as text, nothing guessed, any irregularity an error."""
        columns = ", ".join(f"{_sql_text(n)}: 'VARCHAR'" for n in self.names)
        return (
            f"read_csv({_sql_text(path)}, delim = {_sql_text(self.delimiter)}, quote = '\"', "
            f"escape = '\"', header = false, skip = 1, auto_detect = false, "
            f"columns = {{{columns}}}, strict_mode = true, null_padding = false, "
            f"parallel = true)"
        )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_UTF8 = ("utf-8", "utf-8-sig")


def csv_plan(path: Path, data: bytes, resolver: HeaderResolver) -> CsvPlan | None:
    """A plan for DuckDB to read ``data`` (the bytes of ``path``), or None to read it in Python.

    None also for every file that cannot be read at all: the careful reader then says why.
    """
    if path.suffix.lower() not in TEXT_SUFFIXES or not data.strip():
        return None
    try:
        codec = detect_encoding(data, path.name)
    except UnreadableFile:
        return None
    if codec not in _UTF8 and codec not in WESTERN_CODE_PAGES:
        return None  # UTF-16/32: rare, and small when they occur
    if b"\x00" in data or b"\n\n" in data or b"\n\r\n" in data:
        return None
    if data.count(b"\r") != data.count(b"\r\n"):
        return None
    # A UTF-8 file is read by DuckDB as it is: only a prefix is needed, to sniff it.
    text = data[: 4 * SNIFF_CHARS].decode(codec, "ignore") if codec in _UTF8 else data.decode(codec)
    sample = text[:SNIFF_CHARS]
    if _not_a_table_hint(sample):
        return None
    delimiter = sniff_delimiter(text)
    try:
        records = _records(sample, delimiter)
        first = next(records, None)
        if first is None:
            return None
        resolution, width, header_row = _find_header(iter([first]), resolver, path.name)
    except (csv.Error, UnreadableFile):
        return None
    if header_row != 1 or width != len(first) or any("\n" in f or "\r" in f for f in first):
        return None  # DuckDB skips the header as one line, and every field of it is a column
    return CsvPlan(
        delimiter,
        list(resolution.names),
        _text_format(codec, delimiter),
        dict(resolution.renamed),
        text=None if codec in _UTF8 else text,
        notes=resolution.notes,
    )


# ----------------------------------------------------------------------------------------------
# Spreadsheets and parquet
# ----------------------------------------------------------------------------------------------
def cell_text(value: object) -> str:
    """A spreadsheet cell as the text the parsers read (dates ISO, whole floats without .0)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # A NIT or an amount stored as a float must not become "900123456.0".
        return str(int(value)) if value.is_integer() and abs(value) < 1e18 else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _sheet_records(sheet, limit: int | None = None) -> Iterator[list[str]]:
    for row in sheet.iter_rows(values_only=True, max_row=limit):
        yield [cell_text(v) for v in row]


def _read_xlsx(name: str, data: bytes, resolver: HeaderResolver) -> FileFrame:
    import openpyxl  # imported here: only workbooks need it

    if hint := _not_a_table_hint(data[:200].decode("latin-1")):
        raise UnreadableFile(f"{name}: {hint}")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl errors all mean "not a workbook"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnreadableFile(f"{name}: not a readable xlsx workbook ({first})") from exc
    try:
        tables, others = [], []
        for sheet in book.worksheets:
            label = f"{name} sheet '{sheet.title}'"
            try:
                _find_header(_sheet_records(sheet, 200), resolver, label)
                tables.append(sheet)
            except UnreadableFile as exc:
                others.append(str(exc).removeprefix(f"{name} ").removeprefix("sheet "))
        if not tables:
            raise UnreadableFile(f"{name}: no sheet holds the table ({'; '.join(others)})")
        if len(tables) > 1:
            titles = " and ".join(f"'{s.title}'" for s in tables)
            raise UnreadableFile(
                f"{name}: sheets {titles} both hold a table; export one sheet per file"
            )
        sheet = tables[0]
        label = f"{name} sheet '{sheet.title}'"
        table = _table(_sheet_records(sheet), resolver, label, "|", pad=True)
    finally:
        book.close()
    result = _file_frame(table, f"xlsx sheet '{sheet.title}'")
    skipped = [s.title for s in book.worksheets if s is not sheet]
    if skipped:
        result = FileFrame(
            result.frame,
            result.format,
            result.renamed,
            (*result.notes, "other sheets skipped: " + ", ".join(skipped)),
        )
    return result


def _all_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Typed parquet columns to text the parsers understand."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype.is_float():
            # Whole numbers stored as floats must not become "900123456.0" (a NIT with a dot).
            # A value no integer holds (NaN, inf, 1e20) keeps its own text, so a quarantined
            # row shows what the file held, not an empty field.
            col = (
                pl.when(col == col.round(0))
                .then(
                    pl.coalesce(
                        col.cast(pl.Int64, strict=False).cast(pl.String), col.cast(pl.String)
                    )
                )
                .otherwise(col.cast(pl.String))
            )
        elif dtype == pl.Date:
            col = col.dt.strftime("%Y-%m-%d")
        elif dtype == pl.Datetime:
            col = col.dt.strftime("%Y-%m-%d %H:%M:%S")
        else:
            col = col.cast(pl.String)
        exprs.append(col.alias(name))
    return frame.select(exprs)


def _read_parquet(name: str, data: bytes, resolver: HeaderResolver) -> FileFrame:
    try:
        frame = _all_text(pl.read_parquet(io.BytesIO(data)))
    except Exception as exc:  # polars and arrow raise many kinds; all mean "not a table"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnreadableFile(f"{name}: not a readable parquet table ({first})") from exc
    resolution = resolver.resolve(frame.columns)
    if resolution.problem:
        raise UnreadableFile(f"{name}: {resolution.problem}")
    if resolution.missing:
        raise UnreadableFile(
            f"{name}: missing required column(s) {', '.join(resolution.missing)} "
            f"(found: {', '.join(frame.columns)})"
        )
    frame = frame.rename(dict(zip(frame.columns, resolution.names, strict=True)))
    raw = pl.concat_str([pl.col(c).fill_null("") for c in frame.columns], separator="|")
    frame = frame.with_columns(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(ROW_NUMBER),
        raw.alias(RAW),
        pl.lit(None, dtype=pl.String).alias(SHAPE),
    )
    return FileFrame(frame, "parquet", dict(resolution.renamed), resolution.notes)


def read_table(path: Path, data: bytes, resolver: HeaderResolver | None = None) -> FileFrame:
    """Read ``data`` (the bytes of ``path``) into text columns named by ``resolver``."""
    resolver = resolver or _AsIs()
    suffix = path.suffix.lower()
    if not data.strip():
        raise UnreadableFile(f"{path.name}: the file is empty")
    if suffix in TEXT_SUFFIXES:
        return _read_text(path.name, data, resolver)
    if suffix == ".parquet":
        return _read_parquet(path.name, data, resolver)
    if suffix == ".xlsx":
        return _read_xlsx(path.name, data, resolver)
    raise UnreadableFile(f"{path.name}: unsupported file type '{suffix}'")
