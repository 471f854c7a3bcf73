"""The one money type: exact pesos in, centavos at rest, junk refused as InvalidAmount."""

from __future__ import annotations

from decimal import Decimal

import pytest

from puente.money import (
    InvalidAmount,
    format_mxn,
    from_centavos,
    parse_amount,
    round_centavos,
    to_centavos,
)


@pytest.mark.parametrize(
    ("text", "amount"),
    [("1,234.56", Decimal("1234.56")), ("$ 10", Decimal("10.00")), (" 0.1 ", Decimal("0.10"))],
)
def test_user_text_parses_to_exact_pesos(text: str, amount: Decimal) -> None:
    assert parse_amount(text) == amount


@pytest.mark.parametrize("junk", [0.1, True, "abc", "NaN", "1.001", "-5", "1e30", "9" * 40])
def test_junk_and_absurd_amounts_are_refused_as_invalid_amount(junk: object) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(junk)


def test_round_centavos_rounds_half_up_like_a_statement() -> None:
    assert round_centavos(Decimal("1.005")) == Decimal("1.01")
    assert round_centavos(Decimal("-1.005")) == Decimal("-1.01")
    assert round_centavos(Decimal("1.0049")) == Decimal("1.00")


def test_centavos_round_trip_and_refuse_fractions_of_a_centavo() -> None:
    assert to_centavos(Decimal("1234.56")) == 123456
    assert from_centavos(123456) == Decimal("1234.56")
    with pytest.raises(InvalidAmount):
        to_centavos(Decimal("0.001"))


def test_format_mxn_reads_as_mexicans_write_it() -> None:
    assert format_mxn(Decimal("-1234.5")) == "-$1,234.50 MXN"
