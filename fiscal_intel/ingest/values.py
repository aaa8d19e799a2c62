"""Pure parsers for the values real tax-office exports contain.

They return ``None`` when a text cannot be read, never guess, and mirror the SQL macros in
``sql/macros/parsing.sql`` that the loader runs in bulk (property tests keep the two in step).
Every pattern is ASCII-only (``re.ASCII``): DuckDB's regular expressions (RE2) treat ``\\d`` and
``\\s`` as ASCII, and an Arabic-Indic digit must not become a peso in one place and not the other.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

_A = re.ASCII
_PLAIN = re.compile(r"-?\d+(\.\d{1,2})?", _A)
_ES_THOUSANDS = re.compile(r"-?\d{1,3}(\.\d{3})+(,\d+)?", _A)
_US_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?", _A)
_ES_DECIMAL = re.compile(r"-?\d+,\d{1,2}", _A)
_LONG_DECIMAL = re.compile(r"-?\d+\.\d+", _A)
# Spaces as DuckDB's RE2 and the SQL macros see them, plus the no-break space spreadsheets use.
SPACE = " \t\n\r\f\v\xa0"
_MONEY_NOISE = re.compile("[" + SPACE + "$]")
_CENT = Decimal("0.01")


def _strip(text: str) -> str:
    # str.strip() would drop every Unicode space; fi_trim() in SQL strips exactly these.
    return text.strip(SPACE)


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    except InvalidOperation:
        return None
    # DECIMAL(18, 2) in the warehouse: 16 integer digits.
    return value if abs(value) < Decimal(10) ** 16 else None


def parse_money(text: str | None) -> Decimal | None:
    """Read a peso amount written the way Colombian exports write it.

    A dot followed by exactly three digits is a thousands separator (``1.234`` is one thousand
    two hundred and thirty-four pesos), and so is a comma followed by groups of exactly three
    digits (``1,234,567``): money is whole pesos, so those readings are the ones that cannot be
    wrong by a factor of a thousand. A comma followed by one or two digits is the decimal mark
    (``1.234.567,50``); anything else (``12,3456``) is not read rather than guessed.
    """
    if text is None:
        return None
    s = _MONEY_NOISE.sub("", text)
    if _PLAIN.fullmatch(s):
        return _decimal(s)
    if _ES_THOUSANDS.fullmatch(s):
        return _decimal(s.replace(".", "").replace(",", "."))
    if _US_THOUSANDS.fullmatch(s):
        return _decimal(s.replace(",", ""))
    if _ES_DECIMAL.fullmatch(s):
        return _decimal(s.replace(",", "."))
    if _LONG_DECIMAL.fullmatch(s):
        return _decimal(s)
    return None


_WS = re.compile("[" + SPACE + "]")
_NUMBER_PLAIN = re.compile(r"-?\d+(\.\d+)?", _A)
_NUMBER_ES = re.compile(r"-?\d+(\.\d{3})*,\d+", _A)


def parse_number(text: str | None) -> float | None:
    """Read a rate such as ``6.9`` or ``6,9`` (a comma is the decimal mark when present)."""
    if text is None:
        return None
    s = _WS.sub("", text)
    if _NUMBER_PLAIN.fullmatch(s):
        return float(s)
    if _NUMBER_ES.fullmatch(s):
        return float(s.replace(".", "").replace(",", "."))
    return None


_INT = re.compile(r"-?\d{1,18}", _A)
_INT_FLOAT = re.compile(r"-?\d{1,18}\.0+", _A)


def parse_int(text: str | None) -> int | None:
    """Read an integer; spreadsheets write whole numbers as ``2023.0``."""
    if text is None:
        return None
    s = _strip(text)
    if _INT.fullmatch(s):
        return int(s)
    if _INT_FLOAT.fullmatch(s):
        return int(s.split(".")[0])
    return None


# A time of day after the date is ignored (spreadsheets and databases append one, Spanish
# Windows locales with "a. m."); the date itself must be complete and exist.
_TIME = r"(?:[ T]+(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?: ?[aApP]\.? ?[mM]\.?)?)?"
ISO_DATE = r"([1-9]\d{3})[-/](\d{1,2})[-/](\d{1,2})" + _TIME
DAY_FIRST_DATE = r"(\d{1,2})[/.-](\d{1,2})[/.-]([1-9]\d{3})" + _TIME
# RUES open data and fixed-width exports write dates as 8 digits, year first (19820531).
COMPACT_DATE = r"([1-9]\d{3})(\d{2})(\d{2})" + _TIME
_ISO = re.compile(ISO_DATE, _A)
_DAY_FIRST = re.compile(DAY_FIRST_DATE, _A)
_COMPACT = re.compile(COMPACT_DATE, _A)


def _date(year: str, month: str, day: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def parse_date(text: str | None) -> date | None:
    """Read an ISO (``2023-04-30``), day-first (``30/04/2023``, ``30-04-2023``) or compact
    (``20230430``, year first as the RUES writes it) date.

    The year is always four digits, so the two orders cannot be confused; a month-first date
    whose day is above 12 is not a date, and one whose day is 12 or less is read day first, as
    the landing contract says exports write them.
    """
    if text is None:
        return None
    s = _strip(text)
    if m := _ISO.fullmatch(s):
        return _date(m[1], m[2], m[3])
    if m := _DAY_FIRST.fullmatch(s):
        return _date(m[3], m[2], m[1])
    if m := _COMPACT.fullmatch(s):
        return _date(m[1], m[2], m[3])
    return None


_CODE = re.compile(r"\d+(\.0+)?", _A)


def parse_code(text: str | None, width: int) -> str | None:
    """Restore leading zeros lost when a code was exported as a number (``111`` -> ``0111``)."""
    if text is None:
        return None
    s = _strip(text)
    if not _CODE.fullmatch(s):
        return None
    digits = s.split(".")[0]
    return digits.zfill(width) if len(digits) <= width else None


# An activity code as registries write it: the class, maybe after its section letter and maybe
# followed by its description (``G4711 - Comercio al por menor ...``, ``4711 Comercio``). The
# description must start with something other than a digit, so ``4711-5`` is not read as 4711.
CIIU_PATTERN = (
    r"(?:[A-Ua-u][ \t]*)?(\d{1,4})(?:\.0+)?"
    r"(?:(?:[ \t]*[-:.,][ \t]*|[ \t]+)[^0-9 \t\r\n.,:-][^\r\n]*)?"
)
_CIIU = re.compile(CIIU_PATTERN, _A)


def parse_ciiu(text: str | None) -> str | None:
    """The 4-digit class of ``text`` (``111`` -> ``0111``, ``G4711 - Comercio`` -> ``4711``)."""
    if text is None:
        return None
    m = _CIIU.fullmatch(_strip(text))
    return m[1].zfill(4) if m else None


_NIT_DASH = re.compile("[" + SPACE + "]*-[" + SPACE + "]*")
_NIT_GROUPING = re.compile(r"[.,]", _A)
# Fixed-width exports pad NITs with zeros; up to 15 significant digits (DIAN's weights).
_NIT = re.compile(r"0*(\d{1,15})(?:-(\d))?", _A)


def parse_nit(text: str | None, dv_suffix: bool = False) -> tuple[str, int | None] | None:
    """The canonical NIT (digits, no DV, no leading zeros) and the DV written after a dash.

    ``900.123.456-7``, ``900,123,456``, `` 900123456 - 7 `` all read; a space inside the digits
    does not (``900123456 7`` could be a DV or a typo, and guessing would link the wrong
    taxpayer). Returns ``None`` when the text is not a NIT.

    ``dv_suffix``: the source glues the DV onto the NIT (``8090031820`` is NIT 809003182, DV 0);
    its last digit is then the DV unless one is written after a dash.
    """
    if text is None:
        return None
    s = _NIT_GROUPING.sub("", _NIT_DASH.sub("-", _strip(text)))
    m = _NIT.fullmatch(s)
    if not m:
        return None
    body = m[1].lstrip("0")
    if not body:
        return None
    if dv_suffix and m[2] is None:
        return (body[:-1], int(body[-1])) if len(body) >= 2 else None
    return body, (int(m[2]) if m[2] is not None else None)
