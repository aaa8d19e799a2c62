"""Load landing files into ``raw.<source>``, one file per transaction.

Each file is read as text (``readers``, headers named through the source's column mapping,
``mappings``), typed by the parsing macros, and split: rows that parse go to the raw table, rows
that do not go to ``ops.quarantine`` with every reason found. The file's rows, its quarantine and
its ``ops.load_log`` entry commit together, so a crash leaves none of them; a file already loaded
(same sha256) is skipped, so a re-run with no new files changes nothing.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from fiscal_intel.ingest.mappings import ColumnMapping, load_mapping
from fiscal_intel.ingest.places import resolve_municipality
from fiscal_intel.ingest.readers import (
    RAW,
    ROW_NUMBER,
    SHAPE,
    SUFFIXES,
    CsvPlan,
    UnreadableFile,
    csv_plan,
    read_table,
    sha256_of,
)
from fiscal_intel.ingest.sources import Column, Source
from fiscal_intel.sqlfiles import install_macros, run_sql, scalar

# Text files DuckDB can read itself go through its CSV reader (see readers.CsvPlan); tests
# switch it off to prove both readers load the same rows.
FAST_CSV = True
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
    format: str = ""  # how the file was read: "csv cp1252 ';'", "xlsx sheet 'Pagos'", ...


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
    """Create ``raw.<source>``; a column the contract gained since is added to an old table."""
    cols = ", ".join(f"{c.name} {c.sql_type}" for c in source.columns)
    con.execute(f"create table if not exists raw.{source.name} ({cols}, {LINEAGE_COLUMNS})")
    for c in source.columns:
        con.execute(f"alter table raw.{source.name} add column if not exists {c.name} {c.sql_type}")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _enum_expr(ref: str, spellings: dict[str, str]) -> str:
    """The canonical value of an enum column: its spelling looked up, else the spelling itself."""
    key = f"fi_enum_key({ref})"
    whens = " ".join(f"when {_quote(k)} then {_quote(v)}" for k, v in sorted(spellings.items()))
    return f"(case {key} {whens} else {key} end)"


def _parse_expr(col: Column, ref: str, mapping: ColumnMapping | None = None) -> str:
    """SQL that types the text column ``ref`` as ``col`` says, NULL when unreadable."""
    if col.kind == "text":
        return f"fi_text({ref})"
    if col.kind == "enum":
        if mapping is not None:
            return _enum_expr(ref, mapping.value_map(col.name))
        return _enum_expr(ref, {c.replace("_", " "): c for c in col.choices})
    if col.kind == "nit":
        if mapping is not None and mapping.dv_suffix:
            return f"fi_nit_suffix_body({ref})"
        return f"fi_nit_body({ref})"
    if col.kind == "ciiu":
        return f"fi_ciiu({ref})"
    if col.kind == "dane":
        return _place_lookup(ref, "code", DEPARTMENT_REF)
    if col.kind == "money" and mapping is not None and col.name in mapping.units:
        # [units] in the mapping: the export writes thousands (or another unit) of pesos.
        # An amount too large once multiplied is not an amount (quarantined), not a crash.
        factor = mapping.units[col.name]
        literal = str(int(factor)) if factor.is_integer() else repr(factor)
        return f"try_cast(fi_money({ref})::decimal(38, 2) * {literal} as decimal(18, 2))"
    return f"fi_{col.kind}({ref})"


PLACES = "_places"  # per file: each distinct (municipality, department) resolved in Python


DEPARTMENT = "department"  # the optional column that says a municipality's department
# The typed query reads the department through this name (NULL when the file has none).
DEPARTMENT_REF = '"__department"'


def _place_lookup(ref: str, what: str, department: str) -> str:
    return (
        f"(select p.{what} from {PLACES} as p where p.value is not distinct from {ref} "
        f"and p.department is not distinct from {department})"
    )


def _prepare_places(
    con: duckdb.DuckDBPyConnection, source: Source, present: set[str], mapping: ColumnMapping
) -> None:
    """Resolve each distinct municipality of ``_batch`` (with its department column, else the
    mapping's department) to its DIVIPOLA code or the reason it has none, into ``_places``."""
    con.execute(
        f"create or replace temp table {PLACES} (value varchar, department varchar, "
        "code varchar, why varchar)"
    )
    dept = f'"{DEPARTMENT}"' if DEPARTMENT in present else "null::varchar"
    for col in source.columns:
        if col.kind != "dane" or col.name not in present:
            continue
        rows = []
        for value, department in con.execute(
            f'select distinct "{col.name}", {dept} from _batch'
        ).fetchall():
            hint = department if department and department.strip() else mapping.department
            code, why = resolve_municipality(value, hint or None)
            rows.append((value, department, code, why))
        if rows:
            con.executemany(f"insert into {PLACES} values (?, ?, ?, ?)", rows)


_KIND_WORDS = {
    "nit": "a NIT",
    "int": "a whole number",
    "money": "an amount of money",
    "number": "a number",
    "date": "a date",
    "ciiu": "a 4-digit CIIU code",
    "dane": "a 5-digit DANE code",
}


def _reasons(col: Column, ref: str, parsed: str) -> list[tuple[str, str]]:
    """(condition, reason text) pairs, in SQL, for one column: the row is quarantined with that
    reason when the condition is true.

    ``ref`` is the column as read (text), ``parsed`` the column holding its typed value; for a
    NIT column, ``"__dvg_<name>"`` holds the DV written after the dash and ``"__dv_<name>"`` the
    DV the NIT should have.
    """
    name = col.name
    shown = f"'{name} ''' || {ref} || ''''"
    out = []
    if not col.nullable:
        out.append((f"fi_text({ref}) is null", f"'{name} is empty'"))
    if col.kind == "dane":
        out.append(
            (
                f"fi_text({ref}) is not null and {parsed} is null",
                f"'{name} ' || \"__why_{name}\"",
            )
        )
    elif col.kind in _KIND_WORDS:
        out.append(
            (
                f"fi_text({ref}) is not null and {parsed} is null",
                f"{shown} || ' is not {_KIND_WORDS[col.kind]}'",
            )
        )
    if col.kind == "nit":
        given, should = f'"__dvg_{name}"', f'"__dv_{name}"'
        out.append((f"{given} <> {should}", f"{shown} || ': check digit should be ' || {should}"))
    if col.kind == "enum":
        allowed = ", ".join(col.choices)
        values = ", ".join(_quote(c) for c in col.choices)
        out.append(
            (
                f"fi_text({ref}) is not null and {parsed} not in ({values})",
                f"{shown} || ' is not one of: {allowed}'",
            )
        )
    if col.min_value is not None:
        out.append((f"{parsed} < {col.min_value}", f"{shown} || ' is below {col.min_value:g}'"))
    if col.max_value is not None:
        out.append((f"{parsed} > {col.max_value}", f"{shown} || ' is above {col.max_value:g}'"))
    return out


def _clean_terms(col: Column, ref: str, parsed: str) -> list[str]:
    """SQL conditions, all true exactly when :func:`_reasons` gives the column no reason.

    They read the parsed value first and look at the text only where it is NULL, so a clean
    row costs a comparison per column instead of re-trimming every field (OR and CASE evaluate
    their later terms only for the rows still undecided). Every parser returns NULL for blank
    text, so "parsed is not null" covers both "empty" and "not a number".
    """
    name = col.name
    terms = []
    if col.kind == "enum":
        values = ", ".join(_quote(c) for c in col.choices)
        ok = f"coalesce({parsed} in ({values}), false)"
        terms.append(ok if not col.nullable else f"({ok} or fi_text({ref}) is null)")
    elif col.kind in _KIND_WORDS or col.kind == "text":
        if not col.nullable:
            terms.append(f"{parsed} is not null")
        elif col.kind != "text":
            terms.append(f"({parsed} is not null or fi_text({ref}) is null)")
    if col.kind == "nit":
        terms.append(f'coalesce("__dvg_{name}" = "__dv_{name}", true)')
    if col.min_value is not None:
        terms.append(f"coalesce({parsed} >= {col.min_value}, true)")
    if col.max_value is not None:
        terms.append(f"coalesce({parsed} <= {col.max_value}, true)")
    return terms


_DV_COLUMN_REASON = (
    '"__p_dv" <> "__dv_nit"',
    "'dv ' || fi_trim(dv) || ' does not match nit ' || \"__p_nit\" || ' (should be ' "
    "|| \"__dv_nit\" || ')'",
)


def typed_select(
    source: Source,
    present: set[str],
    mapping: ColumnMapping | None = None,
    *,
    raw_expr: str = RAW,
) -> str:
    """The query that types ``_batch`` and lists each row's reasons for quarantine.

    ``_batch`` holds the file's fields as text plus ``_row_number``, ``_shape`` (why a row's
    fields do not line up with the header, else null) and ``_blank`` (a row of empty fields,
    skipped). ``raw_expr`` gives a row's text as read, for the quarantine.

    Values are parsed once (first CTE), NIT check digits computed once from them (second), and
    reasons read those columns: macros are inlined, so repeating a parse inside every reason
    multiplied the cost of a row several times over. Whether a row is clean is one boolean;
    the list of reasons, and the raw text, are built only for the rows that are not (CASE
    evaluates a branch only for its rows). A row with a ``_shape`` problem has that one
    reason: its values sit in the wrong columns, so what they would fail is noise.
    """
    parses, digits, checks, selects, reasons, clean = [], [], [], [], [], []
    for col in source.columns:
        if col.name not in present:
            selects.append(f"cast(null as {col.sql_type}) as {col.name}")
            continue
        ref, parsed = f'"{col.name}"', f'"__p_{col.name}"'
        parses.append(f"{_parse_expr(col, ref, mapping)} as {parsed}")
        if col.kind == "dane":
            parses.append(f'{_place_lookup(ref, "why", DEPARTMENT_REF)} as "__why_{col.name}"')
        if col.kind == "nit":
            given = "fi_nit_suffix_dv" if mapping is not None and mapping.dv_suffix else (
                "fi_nit_dv_given"
            )
            parses.append(f'{given}({ref}) as "__dvg_{col.name}"')
            # The digits as a number once: the DV macro reads them 30 times.
            digits.append(f'cast({parsed} as bigint) as "__n_{col.name}"')
            checks.append(f'fi_nit_dv("__n_{col.name}") as "__dv_{col.name}"')
        selects.append(f"cast({parsed} as {col.sql_type}) as {col.name}")
        reasons.extend(_reasons(col, ref, parsed))
        clean.extend(_clean_terms(col, ref, parsed))
    if {"dv", "nit"} <= present and any(c.name == "dv" for c in source.columns):
        # The RIT and the RUES carry the DV in its own column: it must match the NIT beside it.
        reasons.append(_DV_COLUMN_REASON)
        clean.append('coalesce("__p_dv" = "__dv_nit", true)')
    for rule in source.rules:
        # Rules across columns (sources.RowRule), over the text as read and the typed values.
        refs = {"text": {c: f'"{c}"' for c in present}, "value": {c: f'"__p_{c}"' for c in present}}
        broken = f"coalesce({rule.broken.format(**refs)}, false)"
        reasons.append((broken, rule.reason.format(**refs)))
        clean.append(f"not {broken}")
    department = f'"{DEPARTMENT}"' if DEPARTMENT in present else "null::varchar"
    reason_list = ",\n        ".join(f"case when {c} then {m} end" for c, m in reasons) or "null"
    clean_list = "\n            and ".join(clean) or "true"
    parse_list = "".join(f",\n        {p}" for p in parses)
    digit_list = "".join(f",\n        {d}" for d in digits)
    check_list = "".join(f",\n        {c}" for c in checks)
    return (
        f"with parsed as (\n    select *{parse_list}\n    from (select *, {department} as "
        f"{DEPARTMENT_REF} from _batch)\n),\n"
        f"numbered as (\n    select *{digit_list}\n    from parsed\n),\n"
        f"checked as (\n    select *{check_list}\n    from numbered\n),\n"
        f"judged as (\n    select *,\n"
        f"        _blank or ({SHAPE} is null\n            and {clean_list}) as _clean\n"
        f"    from checked\n)\n"
        f"select\n    {', '.join(selects)},\n    {ROW_NUMBER}, _blank, _clean,\n"
        f"    case when not _clean then {raw_expr} end as {RAW},\n"
        f"    case when _clean then []::varchar[] when {SHAPE} is not null then [{SHAPE}]\n"
        f"    else list_filter([\n        {reason_list}\n    ], lambda r: r is not null) end"
        f" as _reasons\nfrom judged"
    )


def _next_batch_id(con: duckdb.DuckDBPyConnection) -> int:
    return scalar(con, "select coalesce(max(batch_id), 0) + 1 from ops.load_log")


LOG_COLUMNS = (
    "batch_id, source, file, sha256, rows_read, rows_loaded, rows_quarantined, loaded_at, "
    "status, message, format"
)


def _log(con: duckdb.DuckDBPyConnection, batch_id: int, load: FileLoad, at: datetime) -> None:
    con.execute(
        f"insert into ops.load_log ({LOG_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            load.format or None,
        ],
    )


def _log_failure(con: duckdb.DuckDBPyConnection, load: FileLoad, at: datetime) -> None:
    """Record a failed file, once: the same bytes failing the same way again add no entry, so a
    re-run with no new files leaves the log as it was."""
    last = con.execute(
        "select status, message from ops.load_log where source = ? and file = ? and sha256 = ? "
        "order by batch_id desc limit 1",
        [load.source, load.file, load.sha256],
    ).fetchall()
    if last and last[0] == ("failed", load.message):
        return
    _log(con, _next_batch_id(con), load, at)


def _describe(notes: tuple[str, ...], renamed: dict[str, str]) -> str:
    parts = list(notes)
    if renamed:
        parts.append("columns " + ", ".join(f"{h} -> {c}" for c, h in renamed.items()))
    return "; ".join(parts)


def load_file(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    path: Path,
    *,
    file_name: str | None = None,
    mapping: ColumnMapping | None = None,
) -> FileLoad:
    """Load one file atomically; returns what happened. Never raises for bad data."""
    file_name = file_name or path.name
    mapping = mapping or load_mapping(source)
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

    name = path.with_name(file_name)
    plan = csv_plan(name, data, mapping) if FAST_CSV else None
    if plan is not None:
        try:
            return _load_planned(con, source, mapping, path, plan, file_name, digest, now)
        except duckdb.InvalidInputException as exc:
            # DuckDB met something the careful reader handles row by row (a row with the wrong
            # number of fields, an unclosed quote): read the file again that way.
            if "CSV" not in str(exc):
                raise
    try:
        table = read_table(name, data, mapping)
    except UnreadableFile as exc:
        load = FileLoad(source.name, file_name, digest, "failed", message=str(exc))
        _log_failure(con, load, now)
        return load
    frame = table.frame.with_columns(pl.lit(False).alias("_blank"))
    con.register("_batch_arrow", frame.to_arrow())
    try:
        con.execute("create or replace temp view _batch as select * from _batch_arrow")
        return _commit(
            con,
            source,
            mapping,
            set(frame.columns),
            FileLoad(
                source.name,
                file_name,
                digest,
                "loaded",
                message=_describe(table.notes + mapping.applied(), table.renamed),
                format=table.format,
            ),
            RAW,
            now,
            blank_noted=True,
        )
    finally:
        con.execute("drop view if exists _batch")
        con.unregister("_batch_arrow")


def _load_planned(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    mapping: ColumnMapping,
    path: Path,
    plan: CsvPlan,
    file_name: str,
    digest: str,
    now: datetime,
) -> FileLoad:
    """Load a file DuckDB reads itself (see :class:`CsvPlan`)."""
    with tempfile.TemporaryDirectory(prefix="fiscal-intel-") as tmp:
        read_path = path
        if plan.text is not None:  # another code page: DuckDB reads UTF-8
            read_path = Path(tmp) / "utf8.csv"
            read_path.write_text(plan.text, encoding="utf-8", newline="")
        # Read first, then type: numbering rows with a window over the CSV scan would make
        # everything after it single-threaded (2x slower on 2 cores). A table keeps the file's
        # order (insertion order is preserved), so rowid + 1 is the record number.
        con.execute(
            f"create or replace temp table _text as select * from {plan.read_csv(str(read_path))}"
        )
        con.execute(
            f"create or replace temp view _batch as select *, "
            f"rowid + 1 as {ROW_NUMBER}, null::varchar as {SHAPE}, "
            f"{plan.blank_expr()} as _blank from _text"
        )
        try:
            return _commit(
                con,
                source,
                mapping,
                set(plan.names),
                FileLoad(
                    source.name,
                    file_name,
                    digest,
                    "loaded",
                    message=_describe(plan.notes + mapping.applied(), plan.renamed),
                    format=plan.format,
                ),
                plan.raw_expr(),
                now,
            )
        finally:
            con.execute("drop view if exists _batch")
            con.execute("drop table if exists _text")


def _commit(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    mapping: ColumnMapping,
    present: set[str],
    load: FileLoad,
    raw_expr: str,
    now: datetime,
    *,
    blank_noted: bool = False,
) -> FileLoad:
    """Type the view ``_batch`` and commit its rows, quarantine and log entry as one."""
    cols = ", ".join(c.name for c in source.columns)
    _prepare_places(con, source, present, mapping)
    con.begin()
    try:
        batch_id = _next_batch_id(con)
        con.execute(
            "create or replace temp table _typed as "
            + typed_select(source, present, mapping, raw_expr=raw_expr)
        )
        con.execute(
            f"insert into raw.{source.name} ({cols}, _file, _sha256, _row_number, _batch_id) "
            f"select {cols}, ?, ?, {ROW_NUMBER}, ? from _typed "
            "where _clean and not _blank",
            [load.file, load.sha256, batch_id],
        )
        names = {c.name for c in source.columns}
        nit = "nit" if "nit" in names else "null"
        year = "tax_year" if "tax_year" in names else "null"
        con.execute(
            "insert into ops.quarantine "
            "(source, file, row_number, reason, raw, sha256, batch_id, nit, tax_year) "
            f"select ?, ?, {ROW_NUMBER}, array_to_string(_reasons, '; '), {RAW}, ?, ?, "
            f"{nit}, {year} from _typed where not _clean",
            [source.name, load.file, load.sha256, batch_id],
        )
        read, loaded, quarantined, blank, unexplained = con.execute(
            "select count(*) filter (not _blank), count(*) filter (_clean and not _blank), "
            "count(*) filter (not _clean), count(*) filter (_blank), "
            "count(*) filter (not _clean and len(_reasons) = 0) from _typed"
        ).fetchall()[0]
        if loaded + quarantined != read or unexplained:
            raise AssertionError(
                f"{load.file}: read {read} rows but accounted for {loaded + quarantined}, "
                f"{unexplained} quarantined without a reason"
            )
        if not blank_noted and blank:
            # As the careful reader notes it (fast-path files never have title rows above).
            notes = (f"{blank} blank row(s) skipped", load.message)
            load.message = "; ".join(m for m in notes if m)
        load.rows_read, load.rows_loaded, load.rows_quarantined = read, loaded, quarantined
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


def load_source(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    folder: Path,
    *,
    mapping: ColumnMapping | None = None,
) -> SourceLoad:
    """Load every new file of one source; a bad file is recorded and the others still load.

    ``mapping`` names the source's columns as the tax office writes them (default: the shipped
    mapping alone; the raw assets pass the one the ``mappings`` setting extends).
    """
    ensure_ops(con)
    ensure_raw_table(con, source)
    mapping = mapping or load_mapping(source)
    result = SourceLoad(source.name)
    for path in landing_files(folder):
        if path.suffix.lower() not in SUFFIXES:
            hint = " (save it as .xlsx or .csv)" if path.suffix.lower() in (".xls", ".ods") else ""
            load = FileLoad(
                source.name,
                path.name,
                sha256_of(path.read_bytes()),
                "failed",
                message=f"{path.name}: unsupported file type '{path.suffix}'{hint}",
            )
            _log_failure(con, load, datetime.now())
        else:
            load = load_file(con, source, path, mapping=mapping)
        result.files.append(load)
    return result
