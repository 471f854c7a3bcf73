"""One rule for "may this loan be paid, and how much at most today", used by every door."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes

from puente.enums import LoanStatus, PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.loans.lifecycle import restructure_loan
from puente.loans.models import Loan
from puente.loans.payable import payable_amount
from puente.loans.payoff import payoff_quote
from puente.payments.checkout import PaymentRefused, PaymentRequest, create_payment
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment
from puente_sandbox.stp_keys import DEFAULT_STP_CREDENTIALS

pytestmark = pytest.mark.anyio
TODAY = date(2026, 11, 27)  # the runtime's clock


async def setup(runtime, start=date(2026, 11, 2)):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=start)
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    await store_credentials(runtime, inst.id, "stp", DEFAULT_STP_CREDENTIALS)
    return ana, loan, sandboxes(runtime)


def card(loan, amount: str, key: str = "k-1") -> PaymentRequest:
    return PaymentRequest(
        loan_id=loan.id,
        amount=amount,
        method=PaymentMethodType.CARD,
        provider=ProviderName.STRIPE,
        idempotency_key=key,
        card_token="tok_visa",
    )


async def test_a_restructured_loan_takes_payments(db, runtime):
    ana, loan, box = await setup(runtime, start=date(2026, 6, 15))
    await restructure_loan(loan, on=date(2026, 11, 20), term_count=20, reason="ampliación")
    loan = await Loan.get(id=loan.id)
    assert loan.status == LoanStatus.RESTRUCTURED
    payable = await payable_amount(loan, TODAY)
    assert payable.may_pay and payable.maximum > 0
    payment = await create_payment(runtime, box.gateways, ana, card(loan, "500.00"))
    assert payment.status == S.PAID


async def test_a_paid_off_loan_takes_no_payments(db, runtime):
    ana, loan, box = await setup(runtime)
    quote = await payoff_quote(loan, TODAY)
    await create_payment(runtime, box.gateways, ana, card(loan, str(quote.total)))
    assert (await Loan.get(id=loan.id)).status == LoanStatus.PAID_OFF
    with pytest.raises(PaymentRefused) as refused:
        await create_payment(runtime, box.gateways, ana, card(loan, "10.00", key="k-2"))
    assert refused.value.code == "LOAN_NOT_PAYABLE"


async def test_a_card_payment_above_the_payoff_is_refused_before_any_charge(db, runtime):
    ana, loan, box = await setup(runtime)
    with pytest.raises(PaymentRefused) as refused:
        await create_payment(runtime, box.gateways, ana, card(loan, "999999.00"))
    assert refused.value.code == "AMOUNT_ABOVE_PAYOFF"
    assert "$" in refused.value.message
    assert await Payment.all().count() == 0
    assert box.simulator("stripe").store.all("payment_intents") == []


async def test_the_payoff_itself_may_be_paid_and_one_centavo_more_may_not(db, runtime):
    ana, loan, box = await setup(runtime)
    maximum = (await payable_amount(loan, TODAY)).maximum
    assert maximum == (await payoff_quote(loan, TODAY)).total
    above = card(loan, str(maximum + Decimal("0.01")))
    with pytest.raises(PaymentRefused) as refused:
        await create_payment(runtime, box.gateways, ana, above)
    assert refused.value.code == "AMOUNT_ABOVE_PAYOFF"
    payment = await create_payment(runtime, box.gateways, ana, card(loan, str(maximum)))
    assert payment.status == S.PAID
    assert (await Loan.get(id=loan.id)).status == LoanStatus.PAID_OFF


async def test_stp_transfer_instructions_are_not_issued_above_the_payoff(db, runtime):
    ana, loan, box = await setup(runtime)
    spei = replace(
        card(loan, "999999.00"),
        method=PaymentMethodType.SPEI,
        provider=ProviderName.STP,
        card_token=None,
    )
    with pytest.raises(PaymentRefused) as refused:
        await create_payment(runtime, box.gateways, ana, spei)
    assert refused.value.code == "AMOUNT_ABOVE_PAYOFF"
    assert await Payment.all().count() == 0


@pytest.mark.parametrize(
    "product", [{}, {"late_annual_rate": Decimal("0.72"), "late_fee_centavos": 25000}]
)
async def test_the_saldo_shown_is_exactly_the_most_that_may_be_paid_and_it_closes_the_loan(
    db, runtime, product
):
    """A late loan whose moratorium the daily job has not posted yet: "Saldo" must already
    include it, or paying the Saldo shown would leave the loan open by the moratorium."""
    from puente.loans.state import load_loan_views

    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 6, 15), **product)
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    box = sandboxes(runtime)
    (view,) = await load_loan_views([loan], TODAY)
    payable = await payable_amount(loan, TODAY)
    assert view.balance.days_past_due > 0
    assert view.balance.total == payable.maximum
    payment = await create_payment(
        runtime, box.gateways, ana, card(loan, str(view.balance.total), key="saldo")
    )
    assert payment.status == S.PAID
    assert (await Loan.get(id=loan.id)).status == LoanStatus.PAID_OFF
