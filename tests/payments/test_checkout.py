"""Starting payments through a provider sandbox: outcomes, idempotency, validation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes

from puente.enums import JournalKind, PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.ledger.models import JournalEntry
from puente.loans.state import load_loan_views
from puente.payments.checkout import PaymentRefused, PaymentRequest, create_payment
from puente.payments.gateways import store_credentials

pytestmark = pytest.mark.anyio


async def setup(runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    # Started this month: nothing is overdue, so a payment goes to the first installment.
    loan = await factories.active_loan(inst, ana, principal="12000.00", start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    return ana, loan, sandboxes(runtime)


def card(loan, token="tok_visa", key="k-1", amount="1240.35"):
    return PaymentRequest(
        loan_id=loan.id,
        amount=amount,
        method=PaymentMethodType.CARD,
        provider=ProviderName.STRIPE,
        idempotency_key=key,
        card_token=token,
    )


async def test_card_payment_is_paid_and_applied_to_the_first_installment(db, runtime):
    ana, loan, box = await setup(runtime)
    payment = await create_payment(runtime, box.gateways, ana, card(loan))
    assert payment.status == S.PAID
    assert payment.provider_reference.startswith("pi_")
    (view,) = await load_loan_views([loan], runtime.today())
    assert view.installments[0].paid == Decimal("1240.35")
    assert await JournalEntry.filter(kind=JournalKind.PAYMENT).count() == 1


async def test_declined_card_fails_with_the_normalised_code_and_applies_nothing(db, runtime):
    ana, loan, box = await setup(runtime)
    payment = await create_payment(
        runtime, box.gateways, ana, card(loan, token="tok_chargeDeclinedInsufficientFunds")
    )
    assert payment.status == S.FAILED
    assert payment.failure_code == "insufficient_funds"
    assert await JournalEntry.filter(kind=JournalKind.PAYMENT).count() == 0


async def test_same_key_same_input_returns_the_same_payment(db, runtime):
    ana, loan, box = await setup(runtime)
    first = await create_payment(runtime, box.gateways, ana, card(loan))
    again = await create_payment(runtime, box.gateways, ana, card(loan))
    assert again.id == first.id
    assert len(box.simulator("stripe").store.all("payment_intents")) == 1


async def test_same_key_with_different_input_is_refused(db, runtime):
    ana, loan, box = await setup(runtime)
    await create_payment(runtime, box.gateways, ana, card(loan))
    with pytest.raises(PaymentRefused) as refused:
        await create_payment(runtime, box.gateways, ana, card(loan, amount="100.00"))
    assert refused.value.code == "IDEMPOTENCY_CONFLICT"


async def test_spei_payment_returns_transfer_instructions(db, runtime):
    ana, loan, box = await setup(runtime)
    request = PaymentRequest(
        loan_id=loan.id,
        amount="1240.35",
        method=PaymentMethodType.SPEI,
        provider=ProviderName.STRIPE,
        idempotency_key="spei-1",
    )
    payment = await create_payment(runtime, box.gateways, ana, request)
    assert payment.status == S.REQUIRES_ACTION
    action = payment.next_action
    assert action["type"] == "SPEI_TRANSFER" and len(action["clabe"]) == 18


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": "0"}, "INVALID_AMOUNT"),
        ({"amount": "12.345"}, "INVALID_AMOUNT"),
        ({"amount": "abc"}, "INVALID_AMOUNT"),
        ({"amount": "999999.00"}, "AMOUNT_ABOVE_PAYOFF"),
        ({"method": PaymentMethodType.CASH, "amount": "10000.01"}, "CASH_LIMIT"),
        ({"provider": ProviderName.PAYPAL}, "PROVIDER_NOT_AVAILABLE"),
    ],
)
async def test_bad_requests_are_refused_and_change_nothing(db, runtime, change, code):
    ana, loan, box = await setup(runtime)
    from dataclasses import replace

    from puente.loans.models import LoanProduct
    from puente.payments.models import Payment

    await LoanProduct.filter(id=loan.product_id).update(allows_overpayment=False)
    with pytest.raises(PaymentRefused) as refused:
        await create_payment(runtime, box.gateways, ana, replace(card(loan), **change))
    assert refused.value.code == code
    assert await Payment.all().count() == 0


async def test_someone_elses_loan_cannot_be_paid_through_me(db, runtime):
    ana, loan, box = await setup(runtime)
    inst = await loan.institution
    other = await factories.user(runtime, inst, email="otra@example.mx")
    with pytest.raises(PaymentRefused) as refused:
        await create_payment(runtime, box.gateways, other, card(loan))
    assert refused.value.code == "LOAN_NOT_FOUND"


async def test_a_refund_through_a_provider_the_institution_left_is_refused_not_an_error(
    db, runtime
):
    from puente.enums import Role
    from puente.payments.gateways import GatewayDirectory
    from puente.payments.refund_service import refund_payment
    from puente.payments.settled_elsewhere import record_settled_payment

    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    caja = await factories.user(runtime, inst, email="caja@example.mx", role=Role.STAFF)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    payment = await record_settled_payment(
        loan,
        Decimal("100.00"),
        provider=ProviderName.OPENPAY,
        method=PaymentMethodType.CARD,
        idempotency_key="old-openpay",
        received_at=runtime.now(),
        provider_reference="tr_old",
    )
    with pytest.raises(PaymentRefused) as refused:
        await refund_payment(runtime, GatewayDirectory(runtime), caja, payment.id)
    assert refused.value.code == "PROVIDER_NOT_AVAILABLE"
    await payment.refresh_from_db()
    assert payment.status is S.PAID and payment.refunded_centavos == 0


async def test_the_chosen_prepayment_mode_applies_when_the_payment_is_paid_later(db, runtime):
    from puente.loans.engine import OverpaymentMode
    from puente.loans.models import Installment
    from puente.payments.lifecycle_service import advance_payment

    ana, loan, box = await setup(runtime)
    request = PaymentRequest(
        loan_id=loan.id,
        amount="4240.35",
        method=PaymentMethodType.SPEI,
        provider=ProviderName.STRIPE,
        idempotency_key="spei-mode",
        prepayment_mode=OverpaymentMode.REDUCE_INSTALLMENT,
    )
    payment = await create_payment(runtime, box.gateways, ana, request)
    assert payment.prepayment_mode == "REDUCE_INSTALLMENT" and payment.prepayment_mode_chosen
    assert not await Installment.filter(loan_id=loan.id, version=2).exists()
    await advance_payment(payment.id, S.PAID, source="webhook:stripe:evt_1", at=runtime.now())
    rows = await Installment.filter(loan_id=loan.id, superseded_on__isnull=True)
    assert len(rows) == 12 and {row.version for row in rows} == {1, 2}
