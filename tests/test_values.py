"""Value parsers: examples, properties of the Python parsers, and parity with the SQL macros."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiscal_intel.ingest.nit import check_digit
from fiscal_intel.ingest.values import (
    parse_code,
    parse_date,
    parse_int,
    parse_money,
    parse_nit,
    parse_number,
)


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
        ("$ 1.234.567", Decimal("1234567")),
        ("\u00a01.234\u00a0", Decimal("1234")),  # no-break spaces from a spreadsheet
        ("123.456", Decimal("123456")),  # a lone dot + 3 digits is a thousands mark in pesos
        ("109,376", Decimal("109376")),  # ... and so is a comma + 3 digits
        ("109,37", Decimal("109.37")),  # a comma + 1 or 2 digits is the decimal mark
        ("0", Decimal("0")),
        ("-5.000", Decimal("-5000")),
        ("", None),
        ("abc", None),
        ("1.2.3", None),
        ("12-3", None),
        ("12,3456", None),  # not thousands, not cents: not guessed
        ("2.5OO.000", None),  # letter O keyed for a zero
        ("\u0661\u0662\u0663", None),  # Arabic-Indic digits are not pesos (RE2 agrees)
    ],
)
def test_parse_money_examples(text: str, expected: Decimal | None) -> None:
    assert parse_money(text) == expected


@given(st.integers(min_value=0, max_value=10**14))
def test_money_reads_every_written_form(n: int) -> None:
    us = f"{n:,}"
    for text in (str(n), f"{n}.00", spanish(n), spanish(n) + ",00", f"$ {spanish(n)}", us):
        assert parse_money(text) == Decimal(n), text


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=99))
def test_money_keeps_cents(pesos: int, cents: int) -> None:
    expected = Decimal(pesos) + Decimal(cents) / 100
    assert parse_money(f"{spanish(pesos)},{cents:02d}") == expected
    assert parse_money(f"{pesos}.{cents:02d}") == expected
    assert parse_money(f"{pesos:,}.{cents:02d}") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-04-30", date(2023, 4, 30)),
        ("30/04/2023", date(2023, 4, 30)),
        ("30-04-2023", date(2023, 4, 30)),
        ("30.04.2023", date(2023, 4, 30)),
        ("2023/04/30", date(2023, 4, 30)),
        ("1/2/2023", date(2023, 2, 1)),  # day first: 1 February
        (" 2023-04-30 00:00:00 ", date(2023, 4, 30)),
        ("2023-04-30T13:45:10.250", date(2023, 4, 30)),
        ("30/04/2023 12:00:00 a. m.", date(2023, 4, 30)),
        ("30/04/2023 4:05 PM", date(2023, 4, 30)),
        ("29/02/2024", date(2024, 2, 29)),
    ],
)
def test_parse_date_examples(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    ["31/02/2021", "29/02/2023", "2021-13-01", "04/30/2023", "30/04/23", "2023-04-30 25:00",
     "", "hoy", "0999-01-01", "30/04/2023x"],
)
def test_impossible_dates_are_none(text: str) -> None:
    assert parse_date(text) is None


_TIMES = st.sampled_from(["", " 00:00:00", "T08:30:00", " 23:59", " 12:00:00 a. m.", " 1:05 PM"])


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)), _TIMES)
def test_dates_iso_and_day_first(d: date, time_of_day: str) -> None:
    for text in (
        d.isoformat(),
        d.strftime("%Y/%m/%d"),
        d.strftime("%d/%m/%Y"),
        d.strftime("%d-%m-%Y"),
        d.strftime("%d.%m.%Y"),
        f"{d.day}/{d.month}/{d.year}",
    ):
        assert parse_date(f" {text}{time_of_day} ") == d, text + time_of_day


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_month_first_dates_are_never_misread_when_the_day_is_above_12(d: date) -> None:
    # A US export (04/30/2023) must not become a wrong date: it is not a date at all.
    if d.day > 12:
        assert parse_date(d.strftime("%m/%d/%Y")) is None


def test_numbers_ints_and_codes() -> None:
    assert parse_number("6,9") == 6.9
    assert parse_number("6.9") == 6.9
    assert parse_number("1.000,5") == 1000.5
    assert parse_number("x") is None
    assert parse_int("2023") == 2023
    assert parse_int(" 2023.0 ") == 2023
    assert parse_int("2023.5") is None
    assert parse_code("111", 4) == "0111"
    assert parse_code("111.0", 4) == "0111"
    assert parse_code("5615", 5) == "05615"
    assert parse_code("47111", 4) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("900123456", ("900123456", None)),
        ("900.123.456", ("900123456", None)),
        ("900.123.456-8", ("900123456", 8)),
        (" 900123456 - 8 ", ("900123456", 8)),
        ("900,123,456", ("900123456", None)),
        ("000043987654", ("43987654", None)),
        ("900123456 8", None),  # a space inside the digits: DV or typo? not guessed
        ("900123456-", None),
        ("900123456-78", None),
        ("NIT 900123456", None),
        ("0", None),
        ("", None),
        ("1234567890123456", None),  # 16 significant digits
        ("0000000900123456", ("900123456", None)),  # zero-padded to a fixed width
    ],
)
def test_parse_nit_examples(text: str, expected: tuple[str, int | None] | None) -> None:
    assert parse_nit(text) == expected


_NIT_BODIES = st.integers(min_value=1, max_value=10**15 - 1).map(str)


@given(_NIT_BODIES, st.sampled_from(["", " ", "  "]))
def test_every_written_form_of_a_nit_reads_to_the_same_canonical_nit(body: str, pad: str) -> None:
    dv = check_digit(body)
    dotted = spanish(int(body))
    forms = [body, dotted, f"{body}-{dv}", f"{dotted}-{dv}", f"{dotted} - {dv}", f"00{body}"]
    for form in forms:
        parsed = parse_nit(f"{pad}{form}{pad}")
        assert parsed is not None, form
        assert parsed[0] == body, form
        assert parsed[1] in (None, dv), form


_texts = st.one_of(
    st.integers(min_value=0, max_value=10**13).map(str),
    st.integers(min_value=0, max_value=10**13).map(spanish),
    st.integers(min_value=0, max_value=10**13).map(lambda n: spanish(n) + ",50"),
    st.integers(min_value=0, max_value=10**13).map(lambda n: f"{n:,}"),
    st.integers(min_value=0, max_value=10**13).map(lambda n: f"{n}.25"),
    st.text(alphabet="0123456789.,- $\u00a0\t\u0661", max_size=14),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(_texts, min_size=1, max_size=30))
def test_sql_money_matches_python(con, texts: list[str]) -> None:
    rows = con.execute(
        "select fi_money(t) from unnest($texts) with ordinality as u(t, i) order by i",
        {"texts": texts},
    ).fetchall()
    assert [r[0] for r in rows] == [parse_money(t) for t in texts]


_date_texts = st.one_of(
    st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)).map(
        lambda d: d.isoformat()
    ),
    st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)).map(
        lambda d: f"{d.day}/{d.month:02d}/{d.year}"
    ),
    st.builds(
        lambda d, t: d.strftime("%d-%m-%Y") + t,
        st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 1, 1)),
        _TIMES,
    ),
    st.text(alphabet="0123456789/-.: TaApPm\u00a0", max_size=22),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(_date_texts, min_size=1, max_size=20))
def test_sql_dates_match_python(con, texts: list[str]) -> None:
    rows = con.execute(
        "select fi_date(t) from unnest($texts) with ordinality as u(t, i) order by i",
        {"texts": texts},
    ).fetchall()
    assert [r[0] for r in rows] == [parse_date(t) for t in texts]


_nit_texts = st.one_of(
    _NIT_BODIES,
    _NIT_BODIES.map(lambda b: f"{spanish(int(b))}-{check_digit(b)}"),
    _NIT_BODIES.map(lambda b: f" {b} - {(check_digit(b) + 1) % 10} "),
    st.text(alphabet="0123456789.,- \u00a0\t", max_size=20),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(_nit_texts, min_size=1, max_size=20))
def test_sql_nit_matches_python(con, texts: list[str]) -> None:
    rows = con.execute(
        "select body, given, case when body is not null then fi_nit_dv(body) end from ("
        "select i, fi_nit_body(t) as body, fi_nit_dv_given(t) as given "
        "from unnest($texts) with ordinality as u(t, i)) order by i",
        {"texts": texts},
    ).fetchall()
    expected = []
    for t in texts:
        parsed = parse_nit(t)
        body, given_dv = parsed if parsed else (None, None)
        expected.append((body, given_dv, check_digit(body) if body else None))
    assert rows == expected


_small_texts = st.text(alphabet="0123456789.,- \u00a0", max_size=12)


@settings(max_examples=80, deadline=None)
@given(st.lists(_small_texts, min_size=1, max_size=20))
def test_sql_ints_numbers_and_codes_match_python(con, texts: list[str]) -> None:
    rows = con.execute(
        "select fi_int(t), fi_number(t), fi_code(t, 4) "
        "from unnest($texts) with ordinality as u(t, i) order by i",
        {"texts": texts},
    ).fetchall()
    assert rows == [(parse_int(t), parse_number(t), parse_code(t, 4)) for t in texts]
