"""The API's one Money path rounds as ``money.round_centavos`` does and refuses floats."""

from __future__ import annotations

from decimal import Decimal

import pytest

from puente.graphql.values import money
from puente.money import InvalidAmount, round_centavos


@pytest.mark.parametrize("value", ["1.005", "-1.005", "2.5", "0", "1E+2", "123.456789", "-0.004"])
def test_money_rounds_half_up_to_the_centavo_like_round_centavos(value):
    amount = money(Decimal(value))
    assert amount.amount == round_centavos(Decimal(value))
    assert str(amount.amount) == str(round_centavos(Decimal(value)))
    assert amount.currency == "MXN"


def test_money_refuses_a_float():
    with pytest.raises(InvalidAmount):
        money(1.5)  # type: ignore[arg-type]
