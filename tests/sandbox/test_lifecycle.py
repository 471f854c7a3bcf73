"""The one simulated payment lifecycle: its steps, cumulative refunds, disputes and expiry."""

from __future__ import annotations

from decimal import Decimal

import pytest

from puente_sandbox.conekta_objects import CONEKTA
from puente_sandbox.lifecycle import (
    LifecycleRefusal,
    Phase,
    check_step,
    disputed_amount,
    lapsed,
    refund_step,
)
from puente_sandbox.mercadopago_objects import MERCADOPAGO
from puente_sandbox.openpay_objects import OPENPAY
from puente_sandbox.paypal_money import PAYPAL


def test_partial_refunds_add_up_until_the_payment_is_refunded() -> None:
    first = refund_step(Phase.SUCCEEDED, 10_000, 0, 4_000)
    assert (first.amount, first.refunded, first.remaining, first.phase) == (
        4_000,
        4_000,
        6_000,
        Phase.PARTIALLY_REFUNDED,
    )
    rest = refund_step(first.phase, 10_000, first.refunded, None)
    assert (rest.amount, rest.remaining, rest.phase) == (6_000, 0, Phase.REFUNDED)


@pytest.mark.parametrize(
    ("phase", "refunded", "requested", "reason"),
    [
        (Phase.REQUIRES_ACTION, Decimal(0), None, "not_refundable"),
        (Phase.REFUNDED, Decimal(100), None, "fully_refunded"),
        (Phase.DISPUTED, Decimal(0), None, "not_refundable"),
        (Phase.SUCCEEDED, Decimal(0), Decimal(0), "not_positive"),
        (Phase.PARTIALLY_REFUNDED, Decimal("60"), Decimal("40.01"), "exceeds_remaining"),
    ],
)
def test_refunds_the_lifecycle_refuses(
    phase: Phase, refunded: Decimal, requested: Decimal | None, reason: str
) -> None:
    with pytest.raises(LifecycleRefusal) as refused:
        refund_step(phase, Decimal(100), refunded, requested)
    assert refused.value.reason == reason


def test_a_dispute_takes_back_only_what_was_not_refunded() -> None:
    assert disputed_amount(Phase.PARTIALLY_REFUNDED, 10_000, 2_500) == 7_500
    with pytest.raises(LifecycleRefusal):
        disputed_amount(Phase.REQUIRES_ACTION, 10_000, 0)


def test_only_a_waiting_payment_lapses_and_only_after_its_expiry() -> None:
    assert lapsed(Phase.REQUIRES_ACTION, 100.0, 101.0)
    assert not lapsed(Phase.REQUIRES_ACTION, 100.0, 99.0)
    assert not lapsed(Phase.SUCCEEDED, 100.0, 101.0)
    assert not lapsed(Phase.REQUIRES_ACTION, None, 101.0)


def test_steps_only_move_forward() -> None:
    assert check_step(Phase.REQUIRES_ACTION, Phase.EXPIRED) is Phase.EXPIRED
    with pytest.raises(LifecycleRefusal):
        check_step(Phase.EXPIRED, Phase.SUCCEEDED)


def test_each_dialect_names_every_phase_it_reaches() -> None:
    assert CONEKTA.status(Phase.PARTIALLY_REFUNDED) == "partially_refunded"
    assert MERCADOPAGO.status(Phase.PARTIALLY_REFUNDED) == "approved"
    assert OPENPAY.status(Phase.PARTIALLY_REFUNDED) == "completed"
    assert PAYPAL.status(Phase.REFUNDED) == "REFUNDED"
    assert CONEKTA.phase("pending_payment") is Phase.REQUIRES_ACTION
