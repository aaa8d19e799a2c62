"""Load landing files into ``raw.<source>``, one file per transaction.

Each file is read as text (``readers``, headers named through the source's column mapping,
``mappings``), typed by the parsing macros, and split: rows that parse go to the raw table, rows
that do not go to ``ops.quarantine`` with every reason found. The file's rows, its quarantine and
its ``ops.load_log`` entry commit together, so a crash leaves none of them; a file already loaded
(same sha256) is skipped, so a re-run with no new files changes nothing.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
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


@dataclass(frozen=True)
class LoadBounds:
    """What a plausible row holds, from the settings.

    - ``tax_year`` within the configured tax years (``first_tax_year`` .. ``last_tax_year``): a
      year outside them could never be staged, so it is quarantined at load, not left in raw.
    - Dates from ``earliest_date`` to the end of ``last_tax_year`` + 2 (a return for the last
      tax year is filed, paid and audited after it): ``31/12/9999`` or a year typed ``2205``
      never loads.

    A bound from the data itself (a file's latest dates plus a margin) was tried and dropped: a
    file of one tax year's payments legitimately ends in a thin tail of arrears paid years
    later. Where the data ends is judged on all of it, by ``staging.as_of_date``; the bounds
    depend only on the settings, so a file loads the same whatever was loaded before it.
    """

    first_tax_year: int = 2010
    last_tax_year: int = 2035
    earliest_date: date = date(1900, 1, 1)

    @property
    def latest_date(self) -> date:
        return date(self.last_tax_year + 2, 12, 31)

    def apply(self, source: Source, mapping: ColumnMapping | None = None) -> Source:
        """``source`` with its tax-year range from these bounds and, when the mapping declares
        reversals, negative amounts allowed."""
        years = (
            f"tax years {self.first_tax_year}-{self.last_tax_year}: "
            "settings first_tax_year, last_tax_year"
        )
        columns = []
        for c in source.columns:
            if c.name == "tax_year":
                c = dataclasses.replace(
                    c, min_value=self.first_tax_year, max_value=self.last_tax_year, range_note=years
                )
            if c.reversible and mapping is not None and mapping.reversals:
                c = dataclasses.replace(c, min_value=None, range_note="")
            columns.append(c)
        return dataclasses.replace(source, columns=tuple(columns))


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
    # One look at the table's columns rather than an ALTER statement per column every time.
    have = {
        name
        for (name,) in con.execute(
            "select name from pragma_table_info(?)", [f"raw.{source.name}"]
        ).fetchall()
    }
    for c in source.columns:
        if c.name not in have:
            con.execute(f"alter table raw.{source.name} add column {c.name} {c.sql_type}")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _enum_expr(key: str, spellings: dict[str, str]) -> str:
    """The canonical value of an enum column from ``key``, the column holding its
    ``fi_enum_key``: its spelling looked up, else the spelling itself."""
    whens = " ".join(f"when {_quote(k)} then {_quote(v)}" for k, v in sorted(spellings.items()))
    return f"(case {key} {whens} else {key} end)"


# Kinds whose parser is written in parts (sql/macros/parsing.sql): fi_<kind>_is_plain,
# fi_<kind>_plain, fi_<kind>_clean and fi_<kind>_general.
_PARTED = ("money", "number", "int", "date", "ciiu")


@dataclass
class _Parse:
    """One column's typing as layers of the typed query: ``flags`` (read from the text as
    read), ``cleaned`` (may read the flags) and ``value`` (may read both), each an SQL
    expression ``... as "<name>"``, except ``value``, the parsed value's expression."""

    value: str
    flags: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)


def _plain_parse(col: Column, mapping: ColumnMapping | None) -> str | None:
    """The macro that says a value of ``col`` is written in its plain spelling, for the kinds
    whose parser has one (``None`` for the others)."""
    if col.kind == "nit":
        return None if mapping is not None and mapping.dv_suffix else "fi_nit_body_is_plain"
    return f"fi_{col.kind}_is_plain" if col.kind in _PARTED else None


# A batch of at most this many rows is looked at before it is typed (see look_at_batch).
PLAIN_SCAN_ROWS = 20_000
# A batch of at most this many rows computes NIT check digits with the shorter expression
# (fi_nit_dv_remainder_listed): ~2 ms less to plan per NIT column, ~0.3 µs more per row.
LISTED_DV_ROWS = 5_000


@dataclass(frozen=True)
class BatchLook:
    """What :func:`look_at_batch` saw of a small batch: its rows and its plain columns."""

    rows: int
    plain: frozenset[str]


def look_at_batch(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    present: set[str],
    mapping: ColumnMapping | None = None,
) -> BatchLook | None:
    """The columns of ``_batch`` whose every field is written in its kind's plain spelling
    (``2023-04-30``, ``1234567``, ``900123456``) or missing (NULL), when the batch is small.

    For such a column the typed query is the plain branch alone (``fi_money_plain(x)``, blank
    only where NULL): the value the whole parser gives those fields, in a query a fraction of
    the size.
    A small file's load was mostly DuckDB binding the typed query (every regular expression of
    the general branches compiled per query), not reading its rows. A batch of more than
    :data:`PLAIN_SCAN_ROWS` rows is typed in full without looking (there the rows cost more
    than the plan, and a second pass over them would not pay): ``None``. The look reads at
    most that many rows plus one.
    """
    checked = {
        c.name: macro
        for c in source.columns
        if c.name in present and (macro := _plain_parse(c, mapping)) is not None
    }
    counts = "".join(
        f', count(*) filter (where not coalesce({macro}("{name}"), "{name}" is null))'
        for name, macro in checked.items()
    )
    row = con.execute(
        f"select count(*){counts} from (select * from _batch limit {PLAIN_SCAN_ROWS + 1})"
    ).fetchone()
    if row is None or row[0] > PLAIN_SCAN_ROWS:
        return None
    plain = frozenset(name for name, odd in zip(checked, row[1:], strict=True) if odd == 0)
    return BatchLook(row[0], plain)


def _parse_parts(
    col: Column, ref: str, mapping: ColumnMapping | None = None, plain: bool = False
) -> _Parse:
    """SQL that types the text column ``ref`` as ``col`` says, NULL when unreadable.

    Each macro part is computed once as a column of its own and the value reads the columns:
    the same value as the whole parser macro (``fi_money(x)`` is ``case when
    fi_money_is_plain(x) then fi_money_plain(x) else fi_money_general(fi_money_clean(x)) end``),
    but a query DuckDB binds and optimizes in a fraction of the time, since an inlined macro
    copies its argument at every use. The cleaned text is computed only for the rows whose text
    is not plain, so a clean row costs what it did. ``plain``: every field of the column is in
    its plain spelling (:func:`look_at_batch`), so the plain branch alone gives the same value.
    """
    name = col.name
    if plain:
        value = f"{_plain_parse(col, mapping).removesuffix('_is_plain')}_plain({ref})"
        return _Parse(_in_units(col, mapping, value))
    flag, text = f'"__f_{name}"', f'"__c_{name}"'
    if col.kind == "text":
        return _Parse(f"fi_text({ref})")
    if col.kind == "enum":
        spellings = (
            mapping.value_map(name)
            if mapping is not None
            else {c.replace("_", " "): c for c in col.choices}
        )
        # The key once: a simple CASE compares a copy of it with every spelling.
        key = f'"__k_{name}"'
        return _Parse(_enum_expr(key, spellings), [f"fi_enum_key({ref}) as {key}"])
    if col.kind == "nit":
        if mapping is not None and mapping.dv_suffix:
            return _Parse(f"fi_nit_suffix_body({ref})")
        return _Parse(
            f"case when {flag} then fi_nit_body_plain({ref}) else fi_nit_body_general({text}) end",
            [
                f"fi_nit_body_is_plain({ref}) as {flag}",
                f'fi_nit_dv_given_is_plain({ref}) as "__g_{name}"',
            ],
            # A plain body is plain for the DV too: the text is needed only without it.
            [f"case when not {flag} then fi_nit_clean({ref}) end as {text}"],
        )
    if col.kind == "dane":
        return _Parse(_place_lookup(ref, "code", DEPARTMENT_REF))
    if col.kind not in _PARTED:
        raise ValueError(f"{name}: no parser for the kind {col.kind!r}")
    macro = f"fi_{col.kind}"
    value = f"case when {flag} then {macro}_plain({ref}) else {macro}_general({text}) end"
    return _Parse(
        _in_units(col, mapping, value),
        [f"{macro}_is_plain({ref}) as {flag}"],
        [f"case when not {flag} then {macro}_clean({ref}) end as {text}"],
    )


def _in_units(col: Column, mapping: ColumnMapping | None, value: str) -> str:
    if col.kind == "money" and mapping is not None and col.name in mapping.units:
        # [units] in the mapping: the export writes thousands (or another unit) of pesos.
        # An amount too large once multiplied is not an amount (quarantined), not a crash.
        factor = mapping.units[col.name]
        literal = str(int(factor)) if factor.is_integer() else repr(factor)
        return f"try_cast(({value})::decimal(38, 2) * {literal} as decimal(18, 2))"
    return value


def _empty_expr(col: Column, ref: str, parsed: str, plain: bool = False) -> str:
    """True exactly when ``fi_text(ref) is null`` (the field is blank), computed once.

    Every parser returns NULL for blank text, so a parsed value says the field is not blank and
    the text is looked at only where the value is NULL (``tests/test_loader_plan.py`` proves
    the premise for each kind). A DANE column's value comes from a lookup: its text is read.
    A ``plain`` column (:func:`look_at_batch`) is blank only where NULL: every plain spelling
    has a digit.
    """
    if plain:
        return f"{ref} is null"
    if col.kind == "text":
        return f"{parsed} is null"
    if col.kind == "dane":
        return f"fi_text({ref}) is null"
    return f"case when {parsed} is null then fi_text({ref}) is null else false end"


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
    mapping's department) to its DIVIPOLA code or the reason it has none, into ``_places``
    (only read by the typed query of a batch with such a column)."""
    if not any(c.kind == "dane" and c.name in present for c in source.columns):
        return
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


def _reasons(col: Column, ref: str, parsed: str, empty: str) -> list[tuple[str, str]]:
    """(condition, reason text) pairs, in SQL, for one column: the row is quarantined with that
    reason when the condition is true.

    ``ref`` is the column as read (text), ``parsed`` the column holding its typed value,
    ``empty`` the column that says the text is blank (``fi_text(ref) is null``); for a NIT
    column, ``"__dvg_<name>"`` holds the DV written after the dash and ``"__dv_<name>"`` the DV
    the NIT should have.
    """
    name = col.name
    shown = f"'{name} ''' || {ref} || ''''"
    out = []
    if not col.nullable:
        out.append((empty, f"'{name} is empty'"))
    if col.kind == "dane":
        out.append(
            (
                f"not {empty} and {parsed} is null",
                f"'{name} ' || \"__why_{name}\"",
            )
        )
    elif col.kind in _KIND_WORDS:
        out.append(
            (
                f"not {empty} and {parsed} is null",
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
                f"not {empty} and {parsed} not in ({values})",
                f"{shown} || ' is not one of: {allowed}'",
            )
        )
    note = f" ({col.range_note})".replace("'", "''") if col.range_note else ""
    if col.min_value is not None:
        out.append(
            (f"{parsed} < {col.min_value}", f"{shown} || ' is below {col.min_value:g}{note}'")
        )
    if col.max_value is not None:
        out.append(
            (f"{parsed} > {col.max_value}", f"{shown} || ' is above {col.max_value:g}{note}'")
        )
    return out


def _clean_terms(col: Column, parsed: str, empty: str) -> list[str]:
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
        terms.append(ok if not col.nullable else f"({ok} or {empty})")
    elif col.kind in _KIND_WORDS or col.kind == "text":
        if not col.nullable:
            terms.append(f"{parsed} is not null")
        elif col.kind != "text":
            terms.append(f"({parsed} is not null or {empty})")
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
    plain: frozenset[str] = frozenset(),
    reasons: bool = True,
    listed_dv: bool = False,
) -> str:
    """The query that types ``_batch`` and lists each row's reasons for quarantine.

    ``_batch`` holds the file's fields as text plus ``_row_number``, ``_shape`` (why a row's
    fields do not line up with the header, else null) and ``_blank`` (a row of empty fields,
    skipped). ``raw_expr`` gives a row's text as read, for the quarantine.

    Values are parsed once (the parsers' parts in three CTEs, see :func:`_parse_parts`),
    whether each field is blank and NIT check digits computed once from them (the next three),
    and reasons read those columns: macros are inlined, so repeating a parse inside every reason
    multiplied the cost of a row several times over, and the size of the query DuckDB binds and
    optimizes for every file. Whether a row is clean is one boolean; the list of reasons, and
    the raw text, are built only for the rows that are not (CASE evaluates a branch only for its
    rows). A row with a ``_shape`` problem has that one reason: its values sit in the wrong
    columns, so what they would fail is noise. ``plain``: the columns every field of which is
    in its plain spelling (:func:`look_at_batch`), typed by the plain branch alone.

    ``reasons=False``: the same rows, values and ``_clean``, without the reasons and raw text
    (an empty list and NULL): a smaller query, for a batch that may well have no row to
    quarantine (see :func:`_type_batch`). ``listed_dv``: NIT check digits by
    ``fi_nit_dv_remainder_listed`` (the same digits; cheaper to plan, dearer per row).
    """
    flags, cleaned, parses, digits, remainders, checks = [], [], [], [], [], []
    selects, why, clean = [], [], []
    for col in source.columns:
        if col.name not in present:
            selects.append(f"cast(null as {col.sql_type}) as {col.name}")
            continue
        ref, parsed = f'"{col.name}"', f'"__p_{col.name}"'
        empty = f'"__e_{col.name}"'
        is_plain = col.name in plain
        parts = _parse_parts(col, ref, mapping, is_plain)
        flags.extend(parts.flags)
        cleaned.extend(parts.cleaned)
        parses.append(f"{parts.value} as {parsed}")
        digits.append(f"{_empty_expr(col, ref, parsed, is_plain)} as {empty}")
        if col.kind == "dane":
            parses.append(f'{_place_lookup(ref, "why", DEPARTMENT_REF)} as "__why_{col.name}"')
        if col.kind == "nit":
            if is_plain:
                given = "cast(null as integer)"  # digits alone: no DV written
            elif mapping is not None and mapping.dv_suffix:
                given = f"fi_nit_suffix_dv({ref})"
            else:
                given = (
                    f'case when "__g_{col.name}" then null '
                    f'else fi_nit_dv_given_general("__c_{col.name}") end'
                )
            parses.append(f'{given} as "__dvg_{col.name}"')
            # The digits as a number once: the DV macro reads them 30 times.
            digits.append(f'cast({parsed} as bigint) as "__n_{col.name}"')
            remainder = "fi_nit_dv_remainder_listed" if listed_dv else "fi_nit_dv_remainder"
            remainders.append(f'{remainder}("__n_{col.name}") as "__r_{col.name}"')
            checks.append(f'fi_nit_dv_of_remainder("__r_{col.name}") as "__dv_{col.name}"')
        selects.append(f"cast({parsed} as {col.sql_type}) as {col.name}")
        why.extend(_reasons(col, ref, parsed, empty))
        clean.extend(_clean_terms(col, parsed, empty))
    if {"dv", "nit"} <= present and any(c.name == "dv" for c in source.columns):
        # The RIT and the RUES carry the DV in its own column: it must match the NIT beside it.
        why.append(_DV_COLUMN_REASON)
        clean.append('coalesce("__p_dv" = "__dv_nit", true)')
    for rule in source.rules:
        # Rules across columns (sources.RowRule), over the text as read and the typed values.
        refs = {"text": {c: f'"{c}"' for c in present}, "value": {c: f'"__p_{c}"' for c in present}}
        broken = f"coalesce({rule.broken.format(**refs)}, false)"
        why.append((broken, rule.reason.format(**refs)))
        clean.append(f"not {broken}")
    department = f'"{DEPARTMENT}"' if DEPARTMENT in present else "null::varchar"
    reason_list = ",\n        ".join(f"case when {c} then {m} end" for c, m in why) or "null"
    clean_list = "\n            and ".join(clean) or "true"
    # Each layer a subquery reading the one before (nested subqueries bind in about half the
    # time of as many CTEs); an empty layer is left out.
    query = f"(select *, {department} as {DEPARTMENT_REF} from _batch) as l0"
    layers = (flags, cleaned, parses, digits, remainders, checks)
    for i, columns in enumerate((c for c in layers if c), start=1):
        listed = "".join(f",\n        {c}" for c in columns)
        query = f"(\n    select *{listed}\n    from {query}\n) as l{i}"
    judged = (
        f"(\n    select *,\n"
        f"        _blank or ({SHAPE} is null\n            and {clean_list}) as _clean\n"
        f"    from {query}\n) as judged"
    )
    if reasons:
        raw = f"case when not _clean then {raw_expr} end"
        listed = (
            f"case when _clean then []::varchar[] when {SHAPE} is not null then [{SHAPE}]\n"
            f"    else list_filter([\n        {reason_list}\n    ], lambda r: r is not null) end"
        )
    else:
        raw, listed = "null::varchar", "[]::varchar[]"
    return (
        f"select\n    {', '.join(selects)},\n    {ROW_NUMBER}, _blank, _clean,\n"
        f"    {raw} as {RAW},\n    {listed} as _reasons\nfrom {judged}"
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


class FileChanging(Exception):
    """A file whose bytes changed while it was being read (still being written)."""


def snapshot(path: Path) -> bytes:
    """The bytes of ``path`` read once, refusing a file that changed meanwhile.

    Everything after (hash, sniffing, DuckDB's reader) reads these bytes, never the path
    again, so what is hashed is what is loaded. A file whose size or modification time
    differs between the look before and the look after reading (a copy in progress, an
    export being written) raises :class:`FileChanging`.
    """
    before = os.stat(path, follow_symlinks=False)
    with open(path, "rb") as fh:
        data = fh.read()
    after = os.stat(path, follow_symlinks=False)
    same = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
    if not same or len(data) != after.st_size:
        raise FileChanging(
            f"{path.name}: still being written (its size or modification time changed while "
            "it was read): skipped, retried next run"
        )
    return data


def load_file(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    path: Path,
    *,
    file_name: str | None = None,
    mapping: ColumnMapping | None = None,
    bounds: LoadBounds | None = None,
    expected_sha256: str | None = None,
) -> FileLoad:
    """Load one file atomically; returns what happened. Never raises for bad data.

    ``expected_sha256``: the hash seen when the folder was scanned; bytes that differ now mean
    the file is still changing, and it is skipped (status ``changing``) until a later run.
    """
    file_name = file_name or path.name
    mapping = mapping or load_mapping(source)
    bounds = bounds or LoadBounds()
    source = bounds.apply(source, mapping)
    now = datetime.now()  # bookkeeping only: never feeds a result
    try:
        data = snapshot(path)
    except FileChanging as exc:
        return FileLoad(source.name, file_name, "", "changing", message=str(exc))
    digest = sha256_of(data)
    if expected_sha256 is not None and digest != expected_sha256:
        return FileLoad(
            source.name,
            file_name,
            digest,
            "changing",
            message=f"{file_name}: changed since the folder was scanned: skipped, retried next run",
        )
    seen = con.execute(
        "select file, status from ops.load_log where sha256 = ? and status = 'loaded'",
        [digest],
    ).fetchall()
    if seen:
        load = FileLoad(source.name, file_name, digest, "skipped")
        if file_name not in {f for f, _ in seen}:
            already = scalar(
                con,
                "select count(*) from ops.load_log where file = ? and sha256 = ? "
                "and status = 'duplicate'",
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
            return _load_planned(con, source, mapping, data, plan, file_name, digest, now, bounds)
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
            bounds=bounds,
        )
    finally:
        con.execute("drop view if exists _batch")
        con.unregister("_batch_arrow")


def _load_planned(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    mapping: ColumnMapping,
    data: bytes,
    plan: CsvPlan,
    file_name: str,
    digest: str,
    now: datetime,
    bounds: LoadBounds,
) -> FileLoad:
    """Load a file DuckDB reads itself (see :class:`CsvPlan`).

    DuckDB reads a private copy of the bytes already hashed, under a name of ours: the file's
    own name is data (``pagos_*.csv`` would be a glob pattern to ``read_csv``), and the file
    may change after it was read.
    """
    with tempfile.TemporaryDirectory(prefix="fiscal-intel-") as tmp:
        read_path = Path(tmp) / "snapshot.csv"
        if plan.text is not None:  # another code page: DuckDB reads UTF-8
            read_path.write_text(plan.text, encoding="utf-8", newline="")
        else:
            read_path.write_bytes(data)
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
                bounds=bounds,
            )
        finally:
            con.execute("drop view if exists _batch")
            con.execute("drop table if exists _text")


def _judge_file(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    present: set[str],
    raw_expr: str,
    bounds: LoadBounds,
) -> None:
    """Quarantine the rows of ``_typed`` that are only wrong beside the rest of their file.

    - A date outside the plausible range (see :class:`LoadBounds`).
    - A record id (``Source.row_id``) repeated in the file with other values: every such row,
      the reason naming the other rows (which one is right cannot be told from the file).

    Both look only at rows that are otherwise clean; one query first says whether the file has
    any such row at all (most files have none, and are then left as they were typed without the
    statements that find and record them).
    """
    live = "_clean and not _blank"
    dates = [c.name for c in source.columns if c.kind == "date" and c.name in present]
    bound = bounds.latest_date
    rid = source.row_id
    probes = [f"count(*) filter (where {c} > ?::date or {c} < ?::date)" for c in dates]
    if rid and rid in present:
        probes.append(f"count({rid}) - count(distinct {rid})")
    if not probes:
        return
    found = con.execute(
        f"select {', '.join(probes)} from _typed where {live}",
        [d for _ in dates for d in (bound, bounds.earliest_date)],
    ).fetchone()
    if not any(found or ()):
        return
    con.execute("create or replace temp table _extra (rn bigint, reason varchar)")
    for c in dates:
        con.execute(
            f"insert into _extra select {ROW_NUMBER}, "
            f"'{c} ' || strftime({c}, '%Y-%m-%d') || case when {c} > ?::date then "
            "' is after ' || ?::varchar || ', the latest plausible date (the end of "
            "last_tax_year + 2)' "
            "else ' is before ' || ?::varchar || ', the earliest plausible date' end "
            f"from _typed where {live} and ({c} > ?::date or {c} < ?::date)",
            [bound, bound, bounds.earliest_date, bound, bounds.earliest_date],
        )
    if rid and rid in present:
        content = ", ".join(c.name for c in source.columns if c.name in present)
        con.execute(
            f"""insert into _extra
            with repeated as (
                select {rid} as id from _typed where {live} group by {rid} having count(*) > 1
            ),
            k as (
                select t.{rid} as id, t.{ROW_NUMBER} as rn, hash({content}) as h
                from _typed as t semi join repeated as r on t.{rid} = r.id
                where {live}
            )
            select a.rn, '{rid} ''' || a.id || ''' is repeated on row'
                || case when count(*) > 1 then 's ' else ' ' end
                || string_agg(b.rn::varchar, ', ' order by b.rn) || ' with other values'
            from k as a inner join k as b on a.id = b.id and a.h <> b.h
            group by a.rn, a.id"""
        )
    if scalar(con, "select count(*) from _extra"):
        con.execute(
            f"""update _typed set _clean = false, _reasons = list_concat(_reasons, e.reasons)
            from (select rn, list(reason order by reason) as reasons from _extra group by rn) as e
            where _typed.{ROW_NUMBER} = e.rn"""
        )
        con.execute(
            f"""update _typed set {RAW} = b.r
            from (
                select {ROW_NUMBER} as rn, {raw_expr} as r from _batch
                where {ROW_NUMBER} in (select rn from _extra)
            ) as b
            where _typed.{ROW_NUMBER} = b.rn and _typed.{RAW} is null"""
        )
    con.execute("drop table _extra")


def _type_batch(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    present: set[str],
    mapping: ColumnMapping,
    raw_expr: str,
    look: BatchLook | None,
) -> None:
    """Type ``_batch`` into the temporary table ``_typed`` (see :func:`typed_select`).

    A small batch (``look`` not ``None``, :func:`look_at_batch`) is typed first without the
    reasons: most files have no row to quarantine, and the reasons are about half of the
    query DuckDB plans. Only when a row is not clean is the batch typed again with them, by
    the full query, which is what a large batch gets at once (typing its rows twice would cost
    more than the plan).
    """

    def typed(reasons: bool) -> None:
        query = typed_select(
            source,
            present,
            mapping,
            raw_expr=raw_expr,
            plain=look.plain if look else frozenset(),
            reasons=reasons,
            listed_dv=look is not None and look.rows <= LISTED_DV_ROWS,
        )
        con.execute("create or replace temp table _typed as " + query)

    if look is not None:
        typed(reasons=False)
        if not scalar(con, "select count(*) from _typed where not _clean"):
            return
    typed(reasons=True)


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
    bounds: LoadBounds | None = None,
) -> FileLoad:
    """Type the view ``_batch`` and commit its rows, quarantine and log entry as one."""
    cols = ", ".join(c.name for c in source.columns)
    _prepare_places(con, source, present, mapping)
    look = look_at_batch(con, source, present, mapping)
    con.begin()
    try:
        batch_id = _next_batch_id(con)
        _type_batch(con, source, present, mapping, raw_expr, look)
        _judge_file(con, source, present, raw_expr, bounds or LoadBounds())
        con.execute(
            f"insert into raw.{source.name} ({cols}, _file, _sha256, _row_number, _batch_id) "
            f"select {cols}, ?, ?, {ROW_NUMBER}, ? from _typed "
            "where _clean and not _blank",
            [load.file, load.sha256, batch_id],
        )
        read, loaded, quarantined, blank, unexplained = con.execute(
            "select count(*) filter (not _blank), count(*) filter (_clean and not _blank), "
            "count(*) filter (not _clean), count(*) filter (_blank), "
            "count(*) filter (not _clean and len(_reasons) = 0) from _typed"
        ).fetchall()[0]
        if quarantined:
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
    """The batch files of one landing subfolder, in a stable order; hidden files are ignored.

    Only regular files: a symbolic link (or anything else that is not a plain file) is never
    opened; :func:`load_source` refuses it by name.
    """
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if not p.name.startswith((".", "~$")) and _regular(p))


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _refusals(folder: Path) -> list[str]:
    """Entries of ``folder`` refused by name: symbolic links and other non-regular files, and
    the whole folder when it resolves outside the landing folder (its parent). Nothing of
    their content is read, so nothing of it can be echoed."""
    if folder.is_symlink() or not folder.resolve().is_relative_to(folder.parent.resolve()):
        return [
            f"{folder.name}/: the source folder is a symbolic link or lies outside the "
            "landing folder: refused"
        ]
    out = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith((".", "~$")) or _regular(p) or p.is_dir() and not p.is_symlink():
            continue
        kind = "a symbolic link" if p.is_symlink() else "not a regular file"
        out.append(f"{p.name}: {kind}, refused (landing files must be plain files in the folder)")
    return out


@dataclass(frozen=True)
class _Seen:
    path: Path
    sha256: str
    mtime_ns: int

    @property
    def version(self) -> tuple[int, str]:
        """Which copy is later: by modification time, then by name. Load order never decides."""
        return (self.mtime_ns, self.path.name)


def _unload(
    con: duckdb.DuckDBPyConnection, source: Source, batch_id: int, file: str, sha: str, why: str
) -> None:
    """Take one loaded file's rows out of raw and the quarantine, and say so in the log."""
    con.begin()
    try:
        n = scalar(con, f"select count(*) from raw.{source.name} where _batch_id = ?", [batch_id])
        con.execute(f"delete from raw.{source.name} where _batch_id = ?", [batch_id])
        con.execute("delete from ops.quarantine where batch_id = ?", [batch_id])
        con.execute("update ops.load_log set status = 'removed' where batch_id = ?", [batch_id])
        load = FileLoad(
            source.name, file, sha, "removed", message=f"{file}: {n} rows left raw ({why})"
        )
        _log(con, _next_batch_id(con), load, datetime.now())
        con.commit()
    except Exception:
        con.rollback()
        raise


def _reconcile(
    con: duckdb.DuckDBPyConnection, source: Source, seen: list[_Seen], changing: set[str]
) -> list[FileLoad]:
    """Make raw hold what the folder holds, as if its files had been loaded in version order.

    A loaded file whose name and bytes are no longer in the folder (deleted, renamed, replaced
    by a corrected export) leaves raw. A file that sorts before files already loaded (it arrived
    late, or was touched) puts those later files back in the queue: they are unloaded here and
    loaded again after it, so the latest copy of a record is the one in the latest file by
    :attr:`_Seen.version`, whatever order the files arrived in.
    """
    loaded = con.execute(
        "select batch_id, file, sha256 from ops.load_log "
        "where source = ? and status = 'loaded' order by batch_id",
        [source.name],
    ).fetchall()
    failed = {
        (f, h)
        for f, h in con.execute(
            "select file, sha256 from ops.load_log where source = ? and status = 'failed'",
            [source.name],
        ).fetchall()
    }
    present = {(e.path.name, e.sha256) for e in seen}
    out = []
    kept = []
    for batch_id, file, sha in loaded:
        if (file, sha) in present or file in changing:
            kept.append((batch_id, file, sha))
            continue
        names = {name for name, _ in present}
        why = "its bytes changed: a new version" if file in names else "no longer in landing"
        _unload(con, source, batch_id, file, sha, why)
        out.append(FileLoad(source.name, file, sha, "removed", message=f"{file}: {why}"))
    # Walk the folder in version order beside the loaded files in load order: the first file
    # that should have come before a loaded one starts the tail to load again.
    kept = [k for k in kept if k[1] not in changing]  # placed again once it stops changing
    position = 0
    loaded_names = {(f, h): i for i, (_, f, h) in enumerate(kept)}
    shas_at = {}
    for i, (_, _, h) in enumerate(kept):
        shas_at.setdefault(h, i)
    for entry in sorted(seen, key=lambda e: e.version):
        key = (entry.path.name, entry.sha256)
        if position < len(kept) and key == kept[position][1:]:
            position += 1
        elif key in loaded_names:
            break  # a loaded file out of place
        elif entry.sha256 in shas_at:
            if shas_at[entry.sha256] >= position:
                break  # a copy of a later file's bytes, which it should have been loaded as
        elif key in failed:
            continue
        elif position < len(kept):
            break  # a new file that sorts before files already loaded
    for batch_id, file, sha in kept[position:]:
        _unload(con, source, batch_id, file, sha, "loaded again after a file that sorts before it")
    return out


def load_source(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    folder: Path,
    *,
    mapping: ColumnMapping | None = None,
    bounds: LoadBounds | None = None,
) -> SourceLoad:
    """Load every new file of one source; a bad file is recorded and the others still load.

    ``mapping`` names the source's columns as the tax office writes them (default: the shipped
    mapping alone; the raw assets pass the one the ``mappings`` setting extends). ``bounds``:
    the plausible tax years and dates (default: the settings' defaults).

    Raw holds what the folder holds (see :func:`_reconcile`); files load in version order
    (modification time, then name). Symbolic links are refused by name and never opened; a
    file still being written is skipped with a message and retried next run.
    """
    ensure_ops(con)
    ensure_raw_table(con, source)
    mapping = mapping or load_mapping(source)
    bounds = bounds or LoadBounds()
    result = SourceLoad(source.name)
    now = datetime.now()
    for problem in _refusals(folder) if folder.is_dir() or folder.is_symlink() else []:
        name = problem.split(":", 1)[0]
        load = FileLoad(source.name, name, "", "failed", message=problem)
        _log_failure(con, load, now)
        result.files.append(load)
    if any(f.file.endswith("/") for f in result.files):
        return result
    seen, changing = [], set()
    for path in landing_files(folder):
        try:
            data = snapshot(path)
        except FileChanging as exc:
            changing.add(path.name)
            result.files.append(FileLoad(source.name, path.name, "", "changing", message=str(exc)))
            continue
        mtime = os.stat(path, follow_symlinks=False).st_mtime_ns
        seen.append(_Seen(path, sha256_of(data), mtime))
        del data
    result.files.extend(_reconcile(con, source, seen, changing))
    for entry in sorted(seen, key=lambda e: e.version):
        path = entry.path
        if path.suffix.lower() not in SUFFIXES:
            hint = " (save it as .xlsx or .csv)" if path.suffix.lower() in (".xls", ".ods") else ""
            load = FileLoad(
                source.name,
                path.name,
                entry.sha256,
                "failed",
                message=f"{path.name}: unsupported file type '{path.suffix}'{hint}",
            )
            _log_failure(con, load, now)
        else:
            load = load_file(
                con, source, path, mapping=mapping, bounds=bounds, expected_sha256=entry.sha256
            )
        result.files.append(load)
    return result
