"""Money we received but could not apply: in suspense, with an exception staff can see."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from tests.support import factories
from tests.support.books import books_total, institution_balance
from tests.support.gateways import STRIPE, sandboxes

from puente.audit.models import AuditEvent
from puente.enums import LedgerAccountType as T
from puente.enums import LoanStatus, PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.ledger.models import SuspenseItem
from puente.ledger.suspense import open_suspense_items, resolve_suspense_item
from puente.loans.models import Loan
from puente.loans.payoff import payoff_quote
from puente.payments.checkout import PaymentRequest, create_payment
from puente.payments.gateways import store_credentials
from puente.payments.lifecycle_service import advance_payment

pytestmark = pytest.mark.anyio


async def setup(runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    return ana, loan, sandboxes(runtime)


def request(loan, amount, method=PaymentMethodType.CARD, key="k-1") -> PaymentRequest:
    return PaymentRequest(
        loan_id=loan.id,
        amount=amount,
        method=method,
        provider=ProviderName.STRIPE,
        idempotency_key=key,
        card_token="tok_visa" if method is PaymentMethodType.CARD else None,
    )


async def test_a_payment_paid_after_another_closed_the_loan_keeps_the_excess_visible(db, runtime):
    ana, loan, box = await setup(runtime)
    # A SPEI reference for 5,000 is issued (within the payoff then) ...
    spei = await create_payment(
        runtime, box.gateways, ana, request(loan, "5000.00", PaymentMethodType.SPEI, "spei")
    )
    assert spei.status == S.REQUIRES_ACTION
    # ... then the borrower pays off the loan by card, and only later the transfer arrives.
    quote = await payoff_quote(loan, runtime.today())
    card = await create_payment(runtime, box.gateways, ana, request(loan, str(quote.total)))
    assert card.status == S.PAID
    assert (await Loan.get(id=loan.id)).status == LoanStatus.PAID_OFF
    await advance_payment(spei.id, S.PAID, source="webhook:stripe:evt_late", at=runtime.now())
    assert await institution_balance(loan.institution_id, T.SUSPENSE) == -5000_00
    (item,) = await open_suspense_items(loan.institution_id)
    assert item.payment_id == spei.id and item.amount_centavos == 5000_00
    assert item.reason == "LOAN_NOT_PAYABLE" and item.source == "webhook:stripe:evt_late"
    assert await AuditEvent.filter(action="suspense.opened", subject_id=str(item.id)).exists()
    assert await books_total() == 0


async def test_a_late_payment_above_what_is_left_applies_the_payoff_and_holds_the_rest(db, runtime):
    ana, loan, box = await setup(runtime)
    quote = await payoff_quote(loan, runtime.today())
    spei = await create_payment(
        runtime, box.gateways, ana, request(loan, "5000.00", PaymentMethodType.SPEI, "spei")
    )
    paid_first = quote.total - Decimal("1000.00")
    await create_payment(runtime, box.gateways, ana, request(loan, str(paid_first)))
    await advance_payment(spei.id, S.PAID, source="poller", at=runtime.now())
    assert (await Loan.get(id=loan.id)).status == LoanStatus.PAID_OFF
    (item,) = await SuspenseItem.filter(payment_id=spei.id)
    assert item.reason == "ABOVE_PAYOFF"
    assert item.amount_centavos == 4000_00
    assert await institution_balance(loan.institution_id, T.SUSPENSE) == -4000_00


async def test_staff_resolve_an_exception_once_and_it_is_audited(db, runtime):
    ana, loan, box = await setup(runtime)
    spei = await create_payment(
        runtime, box.gateways, ana, request(loan, "100.00", PaymentMethodType.SPEI, "spei")
    )
    await Loan.filter(id=loan.id).update(status=LoanStatus.PAID_OFF)
    await advance_payment(spei.id, S.PAID, source="poller", at=runtime.now())
    (item,) = await open_suspense_items(loan.institution_id)
    staff = await factories.user(runtime, await loan.institution, email="caja@example.mx")
    resolved = await resolve_suspense_item(
        item.id, actor_id=staff.id, note="devuelto por SPEI", at=runtime.now()
    )
    assert resolved.status == "resolved" and resolved.resolved_by_id == staff.id
    assert await open_suspense_items(loan.institution_id) == []
    with pytest.raises(ValueError):
        await resolve_suspense_item(item.id, actor_id=staff.id, note="otra vez", at=runtime.now())
    with pytest.raises(ValueError):
        await resolve_suspense_item(
            item.id + 100, actor_id=staff.id, note="no existe", at=runtime.now()
        )
    assert await AuditEvent.filter(action="suspense.resolved").count() == 1
