"""DIAN verification digit: public NITs whose DV is printed on their RUT, plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fiscal_intel.ingest.nit import WEIGHTS, check_digit


@pytest.mark.parametrize(
    ("nit", "dv"),
    [
        ("800197268", 4),  # DIAN itself
        ("899999068", 1),  # Ecopetrol S.A.
        ("890903938", 8),  # Bancolombia S.A.
        ("890900608", 9),  # Almacenes Éxito S.A.
        ("860034313", 7),  # Banco Davivienda S.A.
        ("860002964", 4),  # Banco de Bogotá
    ],
)
def test_known_public_nits(nit: str, dv: int) -> None:
    assert check_digit(nit) == dv


@pytest.mark.parametrize("bad", ["", "90012345a", "900 123", "900.123.456", "-1", "1" * 16, "١٢٣"])
def test_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError):
        check_digit(bad)


def test_accepts_fifteen_digits() -> None:
    assert 0 <= check_digit("9" * 15) <= 9


digits = st.text(alphabet="0123456789", min_size=1, max_size=len(WEIGHTS))


@given(digits)
def test_dv_is_a_digit_and_matches_the_definition(nit: str) -> None:
    total = sum(int(d) * w for d, w in zip(reversed(nit), WEIGHTS, strict=False))
    r = total % 11
    dv = check_digit(nit)
    assert 0 <= dv <= 9
    assert dv == (r if r < 2 else 11 - r)


@given(digits, st.integers(min_value=0, max_value=len(WEIGHTS)))
def test_leading_zeros_do_not_change_the_dv(nit: str, zeros: int) -> None:
    padded = "0" * zeros + nit
    if len(padded) <= len(WEIGHTS):
        assert check_digit(padded) == check_digit(nit)


def _remainder(nit: str) -> int:
    return sum(int(d) * w for d, w in zip(reversed(nit), WEIGHTS, strict=False)) % 11


@given(st.text(alphabet="0123456789", min_size=2, max_size=len(WEIGHTS)), st.data())
def test_single_digit_changes_are_caught_except_the_known_collision(
    nit: str, data: st.DataObject
) -> None:
    # Weights are primes other than 11, so one changed digit always changes the remainder; the
    # DV only fails to notice when the remainder moves between 1 and 10 (both give DV 1).
    pos = data.draw(st.integers(min_value=0, max_value=len(nit) - 1))
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != nit[pos]]))
    changed = nit[:pos] + new + nit[pos + 1 :]
    assert _remainder(changed) != _remainder(nit)
    if check_digit(changed) == check_digit(nit):
        assert {_remainder(changed), _remainder(nit)} == {1, 10}
