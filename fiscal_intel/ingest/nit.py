"""DIAN verification digit (DV) of a Colombian NIT.

The DV is a modulus-11 check digit over the NIT digits. The landing contract keeps NITs as digits
only, without the DV; a row that carries a DV that does not match is bad input, so both the
ingest layer and the demo generator need the same, exact rule. This module is pure (no I/O, no
third-party imports) so anything can import it cheaply.
"""

from __future__ import annotations

WEIGHTS: tuple[int, ...] = (3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71)
"""DIAN prime weights, applied from the rightmost NIT digit leftwards."""


def check_digit(nit: str) -> int:
    """Return the DIAN modulus-11 verification digit of ``nit``.

    ``nit`` must be the NIT digits only, without the DV (1 to 15 ASCII digits; leading zeros do not
    change the result). The rightmost digit is multiplied by 3, the next by 7, and so on through
    ``WEIGHTS``; with ``r = sum % 11`` the DV is ``r`` when ``r`` is 0 or 1, else ``11 - r``.

    Raises ``ValueError`` for an empty string, any non-digit character or more than 15 digits,
    because guessing what a malformed identifier meant would silently link the wrong taxpayer.
    """
    if not isinstance(nit, str):
        raise ValueError(f"NIT must be a string of digits, got {type(nit).__name__}")
    if not nit:
        raise ValueError("NIT is empty")
    if not (nit.isascii() and nit.isdigit()):
        raise ValueError(f"NIT must contain digits only: {nit!r}")
    if len(nit) > len(WEIGHTS):
        raise ValueError(f"NIT has more than {len(WEIGHTS)} digits: {nit!r}")
    total = sum(int(d) * w for d, w in zip(reversed(nit), WEIGHTS, strict=False))
    r = total % 11
    return r if r in (0, 1) else 11 - r
