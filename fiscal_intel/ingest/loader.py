"""Load landing files into ``raw.<source>``, one file per transaction.

Each file is read as text, typed by the parsing macros, and split: rows that parse go to the raw
table, rows that do not go to ``ops.quarantine`` with every reason found. The file's rows, its
quarantine and its ``ops.load_log`` entry commit together, so a crash leaves none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from fiscal_intel.ingest.readers import (
    RAW,
    ROW_NUMBER,
    SUFFIXES,
    UnreadableFile,
    read_table,
    sha256_of,
)
from fiscal_intel.ingest.sources import Column, Source
from fiscal_intel.sqlfiles import install_macros, run_sql, scalar

LINEAGE_COLUMNS = "_file varchar, _sha256 varchar, _row_number bigint, _batch_id bigint"


@dataclass
class FileLoad:
    source: str
    file: str
    sha256: str
    status: str  # loaded | duplicate | skipped | failed
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str = ""


@dataclass
class SourceLoad:
    source: str
    files: list[FileLoad] = field(default_factory=list)

    @property
    def failures(self) -> list[FileLoad]:
        return [f for f in self.files if f.status == "failed"]

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)


def ensure_ops(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists ops")
    con.execute("create schema if not exists raw")
    run_sql(con, "ops/load_log")
    run_sql(con, "ops/quarantine")
    install_macros(con)


def ensure_raw_table(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    cols = ", ".join(f"{c.name} {c.sql_type}" for c in source.columns)
    con.execute(f"create table if not exists raw.{source.name} ({cols}, {LINEAGE_COLUMNS})")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parse_expr(col: Column, ref: str) -> str:
    """SQL that types the text column ``ref`` as ``col`` says, NULL when unreadable."""
    if col.kind == "text":
        return f"fi_text({ref})"
    if col.kind == "enum":
        return f"lower(fi_text({ref}))"
    if col.kind == "nit":
        return f"fi_nit_body({ref})"
    if col.kind == "ciiu":
        return f"fi_code({ref}, 4)"
    if col.kind == "dane":
        return f"fi_code({ref}, 5)"
    return f"fi_{col.kind}({ref})"


_KIND_WORDS = {
    "nit": "a NIT",
    "int": "a whole number",
    "money": "an amount of money",
    "number": "a number",
    "date": "a date",
    "ciiu": "a 4-digit CIIU code",
    "dane": "a 5-digit DANE code",
}


def _reason_exprs(col: Column, ref: str, parsed: str) -> list[str]:
    """SQL expressions, each a reason text or NULL, for one column."""
    name = col.name
    shown = f"'{name} ''' || {ref} || ''''"
    out = []
    if not col.nullable:
        out.append(f"case when fi_text({ref}) is null then '{name} is empty' end")
    if col.kind in _KIND_WORDS:
        out.append(
            f"case when fi_text({ref}) is not null and {parsed} is null "
            f"then {shown} || ' is not {_KIND_WORDS[col.kind]}' end"
        )
    if col.kind == "nit":
        out.append(
            f"case when {parsed} is not null and fi_nit_dv_given({ref}) is not null "
            f"and fi_nit_dv_given({ref}) <> fi_nit_dv({parsed}) "
            f"then {shown} || ': check digit should be ' || fi_nit_dv({parsed}) end"
        )
    if col.kind == "enum":
        allowed = ", ".join(col.choices)
        values = ", ".join(_quote(c) for c in col.choices)
        out.append(
            f"case when fi_text({ref}) is not null and {parsed} not in ({values}) "
            f"then {shown} || ' is not one of: {allowed}' end"
        )
    if col.min_value is not None:
        out.append(
            f"case when {parsed} < {col.min_value} "
            f"then {shown} || ' is below {col.min_value:g}' end"
        )
    if col.max_value is not None:
        out.append(
            f"case when {parsed} > {col.max_value} "
            f"then {shown} || ' is above {col.max_value:g}' end"
        )
    return out


def typed_select(source: Source, present: set[str]) -> str:
    """The query that types ``_batch`` and lists each row's reasons for quarantine."""
    selects, reasons = [], []
    for col in source.columns:
        if col.name not in present:
            selects.append(f"cast(null as {col.sql_type}) as {col.name}")
            continue
        ref = f'"{col.name}"'
        parsed = _parse_expr(col, ref)
        selects.append(f"cast({parsed} as {col.sql_type}) as {col.name}")
        reasons.extend(_reason_exprs(col, ref, parsed))
    if source.name == "taxpayers" and "dv" in present:
        # The RIT carries the DV in its own column: it must match the NIT it sits beside.
        reasons.append(
            "case when fi_nit_body(nit) is not null and fi_int(dv) is not null "
            "and fi_int(dv) <> fi_nit_dv(fi_nit_body(nit)) then 'dv ' || trim(dv) || "
            "' does not match nit ' || fi_nit_body(nit) || ' (should be ' || "
            "fi_nit_dv(fi_nit_body(nit)) || ')' end"
        )
    reason_list = ",\n        ".join(reasons) or "null"
    return (
        f"select\n    {', '.join(selects)},\n    {ROW_NUMBER}, {RAW},\n"
        f"    list_filter([\n        {reason_list}\n    ], lambda r: r is not null) as _reasons\n"
        f"from _batch"
    )


def _next_batch_id(con: duckdb.DuckDBPyConnection) -> int:
    return scalar(con, "select coalesce(max(batch_id), 0) + 1 from ops.load_log")


def _log(con: duckdb.DuckDBPyConnection, batch_id: int, load: FileLoad, at: datetime) -> None:
    con.execute(
        "insert into ops.load_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            batch_id,
            load.source,
            load.file,
            load.sha256,
            load.rows_read,
            load.rows_loaded,
            load.rows_quarantined,
            at,
            load.status,
            load.message or None,
        ],
    )


def load_file(
    con: duckdb.DuckDBPyConnection, source: Source, path: Path, *, file_name: str | None = None
) -> FileLoad:
    """Load one file atomically; returns what happened. Never raises for bad data."""
    file_name = file_name or path.name
    data = path.read_bytes()
    digest = sha256_of(data)
    now = datetime.now()  # bookkeeping only: never feeds a result
    seen = con.execute(
        "select file, status from ops.load_log where sha256 = ? and status = 'loaded'",
        [digest],
    ).fetchall()
    if seen:
        load = FileLoad(source.name, file_name, digest, "skipped")
        if file_name not in {f for f, _ in seen}:
            already = scalar(
                con,
                "select count(*) from ops.load_log where file = ? and sha256 = ?",
                [file_name, digest],
            )
            if not already:
                load.status = "duplicate"
                load.message = f"same bytes as {seen[0][0]}, not loaded again"
                _log(con, _next_batch_id(con), load, now)
        return load

    try:
        table = read_table(path, data)
        present = set(table.frame.columns)
        missing = [c for c in source.required_columns if c not in present]
        if missing:
            raise UnreadableFile(
                f"{file_name}: missing required column(s) {', '.join(missing)}"
                f" (found: {', '.join(c for c in table.frame.columns if not c.startswith('_'))})"
            )
    except UnreadableFile as exc:
        load = FileLoad(source.name, file_name, digest, "failed", message=str(exc))
        _log(con, _next_batch_id(con), load, now)
        return load

    frame = table.frame
    cols = ", ".join(c.name for c in source.columns)
    con.begin()
    try:
        batch_id = _next_batch_id(con)
        con.register("_batch", frame.to_arrow())
        con.execute(f"create or replace temp table _typed as {typed_select(source, present)}")
        con.unregister("_batch")
        con.execute(
            f"insert into raw.{source.name} select {cols}, ?, ?, {ROW_NUMBER}, ? "
            f"from _typed where len(_reasons) = 0",
            [file_name, digest, batch_id],
        )
        con.execute(
            f"insert into ops.quarantine select ?, ?, {ROW_NUMBER}, "
            f"array_to_string(_reasons, '; '), {RAW}, ?, ? from _typed where len(_reasons) > 0",
            [source.name, file_name, digest, batch_id],
        )
        loaded, quarantined = con.execute(
            "select count(*) filter (len(_reasons) = 0), count(*) filter (len(_reasons) > 0) "
            "from _typed"
        ).fetchall()[0]
        if loaded + quarantined != frame.height:
            raise AssertionError(
                f"{file_name}: read {frame.height} rows but accounted for {loaded + quarantined}"
            )
        load = FileLoad(source.name, file_name, digest, "loaded", frame.height, loaded, quarantined)
        _log(con, batch_id, load, now)
        con.execute("drop table _typed")
        con.commit()
    except Exception:
        con.rollback()
        raise
    return load


def landing_files(folder: Path) -> list[Path]:
    """The batch files of one landing subfolder, in a stable order; hidden files are ignored."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "~$")))


def load_source(con: duckdb.DuckDBPyConnection, source: Source, folder: Path) -> SourceLoad:
    """Load every new file of one source; a bad file is recorded and the others still load."""
    ensure_ops(con)
    ensure_raw_table(con, source)
    result = SourceLoad(source.name)
    for path in landing_files(folder):
        if path.suffix.lower() not in SUFFIXES:
            load = FileLoad(
                source.name,
                path.name,
                sha256_of(path.read_bytes()),
                "failed",
                message=f"{path.name}: unsupported file type '{path.suffix}'",
            )
            _log(con, _next_batch_id(con), load, datetime.now())
        else:
            load = load_file(con, source, path)
        result.files.append(load)
    return result
