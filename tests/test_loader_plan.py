"""The loader's smaller typing query types every value as the whole parser macros do.

``loader.typed_select`` computes each parser's parts as columns of their own, types an all-plain
column of a small batch by its plain branch alone and, for a small batch, first leaves the
reasons out (``_type_batch``). These tests hold each shortcut to the full query and to the whole
macros (which ``tests/test_values.py`` holds to the Python parsers), on batches of awkward
values for every column of every source.
"""

from __future__ import annotations

from itertools import cycle, islice

import duckdb
import pytest

from fiscal_intel.ingest import loader
from fiscal_intel.ingest.loader import (
    LoadBounds,
    ensure_ops,
    look_at_batch,
    typed_select,
)
from fiscal_intel.ingest.mappings import load_mapping
from fiscal_intel.ingest.sources import SOURCES, Column

# Values per kind: the first ones are plain spellings (or missing), the rest everything else.
PLAIN = {
    "money": ["1234567", "0", "-5", "12.50", None],
    "number": ["6.9", "7", None],
    "int": ["2023", "1", "6", None],
    "date": ["2023-04-30", "2023-02-30", "2031-12-31", None],
    "ciiu": ["4711", "0111", None],
    "nit": ["900123456", "43987654", "8001972684", None],
}
AWKWARD = {
    "money": [
        " 12 ",
        "1.234.567",
        "1.234.567,50",
        "$ 1,234,567.00",
        "109,37",
        "12,3456",
        "abc",
        "",
        "  ",
        "99999999999999999999",
        "\u00a01.234\u00a0",
        "-5.000",
    ],
    "number": ["6,9", " 7 ", "1.234,5", "x", "", "\t"],
    "int": ["2023.0", " 2023 ", "20x", "", " ", "99999999999999999999", "-3"],
    "date": [
        "30/04/2023",
        "20230430",
        "2023/4/3",
        " 2023-04-30 ",
        "31/02/2024",
        "2023-04-30 10:00",
        "30-04-2023 10:00 a. m.",
        "x",
        "",
        "\u00a0",
        "9999-12-31",
    ],
    "ciiu": ["111", "G4711 - Comercio", " 4711 ", "47115", "4711-5", "x", "", "111.0"],
    "nit": [
        "900.123.456-7",
        " 800.197.268-4 ",
        "0900123456",
        "900123456 7",
        "abc",
        "0",
        "",
        "900,123,456",
        "0-0",
        "  ",
    ],
    "text": ["a", " a ", "", "  ", None, "\u00a0x", "x\ny"],
    "dane": ["05615", "5615", "Rionegro", "xx", "", None, "05001.0"],
}


def _values(col: Column, plain: bool) -> list[str | None]:
    if col.kind == "enum":
        choices = list(col.choices)
        odd = [c.upper() for c in choices] + [" " + choices[0] + " ", "x", "", None]
        return choices + [None] if plain else choices + odd
    if plain:
        return PLAIN.get(col.kind, ["a", "b", None])
    return PLAIN.get(col.kind, []) + AWKWARD[col.kind]


def _batch(con: duckdb.DuckDBPyConnection, source_name: str, plain: bool, rows: int = 60):
    source = SOURCES[source_name]
    mapping = load_mapping(source)
    source = LoadBounds().apply(source, mapping)
    names = [c.name for c in source.columns]
    columns = [
        list(islice(cycle(_values(c, plain)), i, i + rows)) for i, c in enumerate(source.columns)
    ]
    con.execute(
        "create or replace temp table _text (" + ", ".join(f'"{n}" varchar' for n in names) + ")"
    )
    con.executemany(
        f"insert into _text values ({', '.join('?' for _ in names)})",
        [list(r) for r in zip(*columns, strict=True)],
    )
    con.execute(
        "create or replace temp view _batch as select *, rowid + 1 as _row_number, "
        "null::varchar as _shape, false as _blank from _text"
    )
    present = set(names)
    loader._prepare_places(con, source, present, mapping)
    return source, mapping, present


def _rows(con: duckdb.DuckDBPyConnection, query: str, columns: str = "*") -> list[tuple]:
    return con.execute(f"select {columns} from ({query}) order by _row_number").fetchall()


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    ensure_ops(c)
    yield c
    c.close()


@pytest.mark.parametrize("source_name", sorted(SOURCES))
def test_parts_give_the_whole_macros_values(con, source_name: str) -> None:
    source, mapping, present = _batch(con, source_name, plain=False)
    query = typed_select(source, present, mapping, raw_expr="'raw'")
    checked = 0
    for col in source.columns:
        body = "fi_nit_suffix_body" if mapping.dv_suffix else "fi_nit_body"
        whole = {"nit": body}.get(col.kind, f"fi_{col.kind}")
        if col.kind not in (*loader._PARTED, "nit"):
            continue
        got = con.execute(
            f'select t.{col.name}, cast({whole}(b."{col.name}") as {col.sql_type}) '
            f"from ({query}) as t join _batch as b using (_row_number) "
            f'where t.{col.name} is distinct from cast({whole}(b."{col.name}") as {col.sql_type})'
        ).fetchall()
        assert got == [], (col.name, got)
        checked += 1
    assert checked  # every source has a NIT or a parsed column


@pytest.mark.parametrize("source_name", sorted(SOURCES))
def test_plain_columns_and_the_lean_query_change_nothing(con, source_name: str) -> None:
    for plain_only in (True, False):
        source, mapping, present = _batch(con, source_name, plain=plain_only)
        look = look_at_batch(con, source, present, mapping)
        assert look is not None
        plain = look.plain
        if plain_only:
            candidates = {c.name for c in source.columns if c.kind in (*loader._PARTED, "nit")}
            assert plain == candidates  # the shortcut is taken where it can be
        full = typed_select(source, present, mapping, raw_expr="'raw'")
        shortcut = typed_select(source, present, mapping, raw_expr="'raw'", plain=plain)
        assert _rows(con, shortcut) == _rows(con, full)
        lean = typed_select(source, present, mapping, plain=plain, reasons=False)
        values = ", ".join([*(c.name for c in source.columns), "_row_number", "_clean"])
        assert _rows(con, lean, values) == _rows(con, full, values)
        if not plain_only:
            # The awkward batch has rows to quarantine, each with its reasons.
            unclean = _rows(con, full, "_reasons, _clean")
            assert any(not ok for _, ok in unclean)
            assert all(reasons for reasons, ok in unclean if not ok)


@pytest.mark.parametrize("kind", ["money", "number", "int", "date", "ciiu", "nit", "enum", "text"])
def test_a_parsed_value_means_the_field_is_not_blank(con, kind: str) -> None:
    """The premise of ``loader._empty_expr``: every parser gives NULL for blank text."""
    parse = {"nit": "fi_nit_body", "enum": "fi_enum_key"}.get(kind, f"fi_{kind}")
    blanks = ["", " ", "\t", "\u00a0", " \r\n\x0b\x0c ", None]
    got = con.execute(
        f"select x from unnest(?::varchar[]) as t(x) where {parse}(x) is not null", [blanks]
    ).fetchall()
    assert got == []
    if kind == "nit":
        dv = "select x from unnest(?::varchar[]) as t(x) where fi_nit_dv_given(x) is not null"
        assert con.execute(dv, [blanks]).fetchall() == []


def test_a_large_batch_is_typed_by_the_full_query(con, monkeypatch) -> None:
    source, mapping, present = _batch(con, "declarations", plain=True)
    assert look_at_batch(con, source, present, mapping).plain
    monkeypatch.setattr(loader, "PLAIN_SCAN_ROWS", 10)
    assert look_at_batch(con, source, present, mapping) is None
    statements: list[str] = []
    real = con.execute

    class Spy:
        def execute(self, sql, *args):
            statements.append(sql)
            return real(sql, *args)

    loader._type_batch(Spy(), source, present, mapping, "'raw'", None)
    (typed,) = [s for s in statements if s.startswith("create or replace temp table _typed")]
    assert "list_filter" in typed and "fi_money_general" in typed


def test_the_listed_check_digit_remainder_is_the_arithmetic_one(con) -> None:
    # Every NIT length (1 to 15 digits) and its edges, and a spread of random ones.
    differ = con.execute(
        """
        with n as (
            select (10::bigint ** k)::bigint - 1 as n from range(1, 16) as t(k)
            union all select (10::bigint ** k)::bigint from range(0, 15) as t(k)
            union all select (random() * 999999999999999)::bigint from range(20000)
            union all select 0
        )
        select n from n where fi_nit_dv_remainder(n) <> fi_nit_dv_remainder_listed(n)
        """
    ).fetchall()
    assert differ == []
    assert con.execute("select fi_nit_dv_remainder_listed(null)").fetchone() == (None,)


def test_check_digits_are_listed_for_small_batches_only(con, monkeypatch) -> None:
    source, mapping, present = _batch(con, "withholdings", plain=False)
    queries: list[str] = []
    real = con.execute

    class Spy:
        def execute(self, sql, *args):
            queries.append(sql)
            return real(sql, *args)

    look = loader.look_at_batch(con, source, present, mapping)
    assert look is not None and look.rows == 60
    loader._type_batch(Spy(), source, present, mapping, "'raw'", look)
    typed = [q for q in queries if q.startswith("create or replace temp table _typed")]
    assert typed and all("fi_nit_dv_remainder_listed" in q for q in typed)
    small = _rows(con, "select * from _typed")
    monkeypatch.setattr(loader, "LISTED_DV_ROWS", 10)
    queries.clear()
    loader._type_batch(Spy(), source, present, mapping, "'raw'", look)
    typed = [q for q in queries if q.startswith("create or replace temp table _typed")]
    assert typed and not any("fi_nit_dv_remainder_listed" in q for q in typed)
    assert _rows(con, "select * from _typed") == small


def test_an_old_raw_table_gains_the_columns_the_contract_gained(con) -> None:
    con.execute("create or replace table raw.payments (payment_id varchar, _file varchar)")
    loader.ensure_raw_table(con, SOURCES["payments"])
    loader.ensure_raw_table(con, SOURCES["payments"])  # nothing left to add: no error
    names = [
        r[0] for r in con.execute("select name from pragma_table_info('raw.payments')").fetchall()
    ]
    assert names == ["payment_id", "_file", "nit", "tax_year", "paid_on", "amount"]
    con.execute("drop table raw.payments")
