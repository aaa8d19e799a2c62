"""Pure parsers for the values real tax-office exports contain.

They return ``None`` when a text cannot be read, never guess, and mirror the SQL macros in
``sql/macros/parsing.sql`` that the loader runs in bulk (a parity test keeps them in step).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

_PLAIN = re.compile(r"-?\d+(\.\d{1,2})?")
_ES_THOUSANDS = re.compile(r"-?\d{1,3}(\.\d{3})+(,\d+)?")
_ES_DECIMAL = re.compile(r"-?\d+,\d+")
_US_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
_LONG_DECIMAL = re.compile(r"-?\d+\.\d+")
_CENT = Decimal("0.01")


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    except InvalidOperation:
        return None
    # DECIMAL(18, 2) in the warehouse: 16 integer digits.
    return value if abs(value) < Decimal(10) ** 16 else None


def parse_money(text: str | None) -> Decimal | None:
    """Read a peso amount written the way Colombian exports write it.

    A single dot followed by exactly three digits is a thousands separator (``1.234`` is one
    thousand two hundred and thirty-four pesos): money is whole pesos, so that reading is the
    one that cannot be wrong by a factor of a thousand in the common case.
    """
    if text is None:
        return None
    s = re.sub(r"[\s$]", "", text.strip())
    if _PLAIN.fullmatch(s):
        return _decimal(s)
    if _ES_THOUSANDS.fullmatch(s):
        return _decimal(s.replace(".", "").replace(",", "."))
    if _ES_DECIMAL.fullmatch(s):
        return _decimal(s.replace(",", "."))
    if _US_THOUSANDS.fullmatch(s):
        return _decimal(s.replace(",", ""))
    if _LONG_DECIMAL.fullmatch(s):
        return _decimal(s)
    return None


def parse_number(text: str | None) -> float | None:
    """Read a rate such as ``6.9`` or ``6,9`` (a comma is the decimal mark when present)."""
    if text is None:
        return None
    s = re.sub(r"\s", "", text)
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return float(s)
    if re.fullmatch(r"-?\d+(\.\d{3})*,\d+", s):
        return float(s.replace(".", "").replace(",", "."))
    return None


def parse_int(text: str | None) -> int | None:
    """Read an integer; spreadsheets write whole numbers as ``2023.0``."""
    if text is None:
        return None
    s = text.strip()
    if re.fullmatch(r"-?\d{1,18}", s):
        return int(s)
    if re.fullmatch(r"-?\d{1,18}\.0+", s):
        return int(s.split(".")[0])
    return None


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


def parse_date(text: str | None) -> date | None:
    """Read an ISO (``2023-04-30``) or day-first (``30/04/2023``) date."""
    if text is None:
        return None
    s = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    return None


def parse_code(text: str | None, width: int) -> str | None:
    """Restore leading zeros lost when a code was exported as a number (``111`` -> ``0111``)."""
    if text is None:
        return None
    s = text.strip()
    if not re.fullmatch(r"\d+(\.0+)?", s):
        return None
    digits = s.split(".")[0]
    return digits.zfill(width) if len(digits) <= width else None
