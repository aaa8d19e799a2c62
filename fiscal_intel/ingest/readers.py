"""Read one landing file into a frame of text columns, whatever its format.

Everything is read as text: typing happens in the loader's SQL, where a value that cannot be
read becomes a quarantine reason instead of an exception that would lose the whole file.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

ROW_NUMBER = "_row_number"
RAW = "_raw"
TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
SUFFIXES = TEXT_SUFFIXES | {".parquet", ".xlsx"}


class UnreadableFile(Exception):
    """A file that cannot be read as a table: the whole file fails, naming the problem."""


@dataclass(frozen=True)
class FileFrame:
    frame: pl.DataFrame  # text columns with normalised headers, plus _row_number and _raw
    encoding: str
    delimiter: str | None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalise_header(name: str) -> str:
    """` Nit ` -> `nit`, `Tax Year` -> `tax_year`."""
    name = name.replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s\-]+", "_", name)


def decode(data: bytes) -> tuple[str, str]:
    """Text and encoding name: UTF-8 (with or without BOM), else Windows-1252, else Latin-1."""
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def sniff_delimiter(text: str) -> str:
    """The delimiter of the header line: the candidate that splits it most."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _finish(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    names = [normalise_header(c) for c in frame.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UnreadableFile(f"{path.name}: repeated column(s) {', '.join(dupes)}")
    frame = frame.rename(dict(zip(frame.columns, names, strict=True)))
    raw = pl.concat_str([pl.col(c).fill_null("") for c in names], separator="|")
    return frame.with_columns(raw.alias(RAW)).with_row_index(ROW_NUMBER, offset=1)


def _all_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Typed columns (parquet, xlsx) to text the parsers understand."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype.is_float():
            # Whole numbers stored as floats must not become "900123456.0" (a NIT with a dot).
            col = (
                pl.when(col == col.round(0))
                .then(col.cast(pl.Int64, strict=False).cast(pl.Utf8))
                .otherwise(col.cast(pl.Utf8))
            )
        elif dtype == pl.Datetime or dtype == pl.Date:
            col = col.dt.strftime("%Y-%m-%d")
        else:
            col = col.cast(pl.Utf8)
        exprs.append(col.alias(name))
    return frame.select(exprs)


def read_table(path: Path, data: bytes) -> FileFrame:
    """Read ``data`` (the bytes of ``path``) into text columns."""
    suffix = path.suffix.lower()
    if not data.strip():
        raise UnreadableFile(f"{path.name}: the file is empty")
    try:
        if suffix in TEXT_SUFFIXES:
            text, encoding = decode(data)
            delimiter = sniff_delimiter(text)
            payload = data if encoding == "utf-8-sig" else text.encode("utf-8")
            frame = pl.read_csv(
                io.BytesIO(payload),
                separator=delimiter,
                infer_schema=False,
                encoding="utf8",
                truncate_ragged_lines=False,
            )
            return FileFrame(_finish(frame, path), encoding, delimiter)
        if suffix == ".parquet":
            frame = _all_text(pl.read_parquet(io.BytesIO(data)))
            return FileFrame(_finish(frame, path), "binary", None)
        if suffix == ".xlsx":
            frame = _all_text(pl.read_excel(io.BytesIO(data), engine="openpyxl"))
            return FileFrame(_finish(frame, path), "binary", None)
    except UnreadableFile:
        raise
    except Exception as exc:  # polars and openpyxl raise many kinds; all mean "not a table"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnreadableFile(f"{path.name}: not a readable {suffix[1:]} table ({first})") from exc
    raise UnreadableFile(f"{path.name}: unsupported file type '{suffix}'")
