"""Value parsers: properties of the Python parsers, and parity with the SQL macros."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiscal_intel.ingest.values import parse_code, parse_date, parse_int, parse_money, parse_number


def spanish(n: int) -> str:
    """1234567 -> 1.234.567"""
    return f"{n:,}".replace(",", ".")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234567", Decimal("1234567")),
        ("1234567.00", Decimal("1234567")),
        ("1.234.567", Decimal("1234567")),
        ("1.234.567,00", Decimal("1234567")),
        ("1.234.567,5", Decimal("1234567.5")),
        (" 12 ", Decimal("12")),
        ("$ 1,234,567.00", Decimal("1234567")),
        ("123.456", Decimal("123456")),  # a lone dot + 3 digits is a thousands mark in pesos
        ("0", Decimal("0")),
        ("", None),
        ("abc", None),
        ("1.2.3", None),
        ("12-3", None),
    ],
)
def test_parse_money_examples(text: str, expected: Decimal | None) -> None:
    assert parse_money(text) == expected


@given(st.integers(min_value=0, max_value=10**14))
def test_money_reads_every_written_form(n: int) -> None:
    for text in (str(n), f"{n}.00", spanish(n), spanish(n) + ",00"):
        assert parse_money(text) == Decimal(n), text


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=99))
def test_money_keeps_cents(pesos: int, cents: int) -> None:
    expected = Decimal(pesos) + Decimal(cents) / 100
    assert parse_money(f"{spanish(pesos)},{cents:02d}") == expected
    assert parse_money(f"{pesos}.{cents:02d}") == expected


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_dates_iso_and_day_first(d: date) -> None:
    assert parse_date(d.isoformat()) == d
    assert parse_date(d.strftime("%d/%m/%Y")) == d
    assert parse_date(f" {d.isoformat()} 00:00:00 ") == d


@pytest.mark.parametrize("text", ["31/02/2021", "2021-13-01", "30-04-2023", "", "hoy"])
def test_impossible_dates_are_none(text: str) -> None:
    assert parse_date(text) is None


def test_numbers_ints_and_codes() -> None:
    assert parse_number("6,9") == 6.9
    assert parse_number("6.9") == 6.9
    assert parse_number("x") is None
    assert parse_int("2023") == 2023
    assert parse_int("2023.0") == 2023
    assert parse_int("2023.5") is None
    assert parse_code("111", 4) == "0111"
    assert parse_code("5615", 5) == "05615"
    assert parse_code("47111", 4) is None


_texts = st.one_of(
    st.integers(min_value=0, max_value=10**13).map(str),
    st.integers(min_value=0, max_value=10**13).map(spanish),
    st.integers(min_value=0, max_value=10**13).map(lambda n: spanish(n) + ",50"),
    st.integers(min_value=0, max_value=10**13).map(lambda n: f"{n}.25"),
    st.text(alphabet="0123456789.,- $", max_size=14),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_texts, min_size=1, max_size=30))
def test_sql_money_matches_python(con, texts: list[str]) -> None:
    rows = con.execute(
        "select fi_money(t) from unnest($texts) with ordinality as u(t, i) order by i",
        {"texts": texts},
    ).fetchall()
    assert [r[0] for r in rows] == [parse_money(t) for t in texts]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(
    st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 1, 1)).map(lambda d: d.isoformat()),
    st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 1, 1)).map(
        lambda d: d.strftime("%d/%m/%Y")
    ),
    st.text(alphabet="0123456789/-", max_size=10),
), min_size=1, max_size=20))
def test_sql_dates_match_python(con, texts: list[str]) -> None:
    rows = con.execute(
        "select fi_date(t) from unnest($texts) with ordinality as u(t, i) order by i",
        {"texts": texts},
    ).fetchall()
    assert [r[0] for r in rows] == [parse_date(t) for t in texts]
