"""A charge whose answer was lost is recovered, never lost and never charged twice.

The Stripe sandbox is told to lose its next three answers (``lose_next: 3``): Puente's first
request and both of its own retries reach the provider, which charges, but no answer comes
back. Every way the outcome can reach us afterwards (the webhook, a borrower retrying with
the same idempotency key, the poller) must end in one charge, one PAID payment and one
ledger entry.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes
from tests.support.http import app_client

from puente.enums import JournalKind, PaymentMethodType, ProviderEventStatus, ProviderName
from puente.enums import PaymentStatus as S
from puente.ledger.models import JournalEntry
from puente.payments.checkout import PaymentRequest, create_payment
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment
from puente.payments.polling import poll_pending_payments
from puente.providers.circuit import DEFAULT_BREAKERS
from puente.webhooks.models import ProviderEvent

pytestmark = pytest.mark.anyio

LOST_WITH_RETRIES = 3  # the first attempt and Puente's two automatic retries


@pytest.fixture(autouse=True)
def closed_circuits():
    # Lost answers count as outage failures; one test's must not open the next one's circuit.
    DEFAULT_BREAKERS.clear()
    yield
    DEFAULT_BREAKERS.clear()


async def setup(runtime, *, webhooks: bool):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, principal="12000.00", start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    box = sandboxes(runtime)
    client = app_client(runtime, gateways=box.gateways, run_workers=False)
    if webhooks:
        box.inbox.target = client._transport  # the sandbox delivers to our /webhooks
    return ana, loan, box, client


def card(loan, key="k-lost", method=PaymentMethodType.CARD):
    return PaymentRequest(
        loan_id=loan.id,
        amount="1240.35",
        method=method,
        provider=ProviderName.STRIPE,
        idempotency_key=key,
        card_token="tok_visa" if method is PaymentMethodType.CARD else None,
    )


async def charged_intents(box) -> int:
    intents = box.simulator("stripe").store.all("payment_intents")
    return sum(1 for pi in intents if pi["status"] == "succeeded")


async def payment_entries() -> int:
    return await JournalEntry.filter(kind=JournalKind.PAYMENT).count()


async def lost_charge(runtime, box, ana, loan, **request) -> Payment:
    box.simulator("stripe").faults.lose_next = LOST_WITH_RETRIES
    payment = await create_payment(runtime, box.gateways, ana, card(loan, **request))
    assert payment.status == S.CREATED and payment.provider_reference is None
    assert await charged_intents(box) == 1  # the provider did charge
    return payment


async def test_the_webhook_finds_a_payment_whose_answer_was_lost_by_its_puente_id(db, runtime):
    ana, loan, box, client = await setup(runtime, webhooks=True)
    async with client:
        payment = await lost_charge(runtime, box, ana, loan)
        await client._transport.app.state.inbox.process_due()
    paid = await Payment.get(id=payment.id)
    assert paid.status == S.PAID
    assert paid.provider_reference and paid.provider_reference.startswith("pi_")
    succeeded = await ProviderEvent.get(event_type="payment_intent.succeeded")
    assert succeeded.status == ProviderEventStatus.PROCESSED
    assert await payment_entries() == 1


async def test_retrying_with_the_same_key_resubmits_and_charges_once(db, runtime):
    ana, loan, box, client = await setup(runtime, webhooks=False)  # webhooks lost too
    payment = await lost_charge(runtime, box, ana, loan)
    again = await create_payment(runtime, box.gateways, ana, card(loan))
    assert again.id == payment.id
    assert again.status == S.PAID and again.provider_reference
    assert await charged_intents(box) == 1
    assert len(box.simulator("stripe").store.all("payment_intents")) == 1
    assert await payment_entries() == 1


async def test_the_poller_recovers_a_created_payment_with_no_reference(db, runtime, clock):
    ana, loan, box, client = await setup(runtime, webhooks=False)
    payment = await lost_charge(runtime, box, ana, loan)
    clock.now = datetime.now(UTC)  # row timestamps are the database's real time
    assert await poll_pending_payments(runtime, box.gateways) == 0  # too recent
    clock.now += timedelta(minutes=11)
    assert await poll_pending_payments(runtime, box.gateways) == 1
    recovered = await Payment.get(id=payment.id)
    assert recovered.status == S.PAID and recovered.provider_reference
    assert len(box.simulator("stripe").store.all("payment_intents")) == 1
    assert await payment_entries() == 1


async def test_a_lost_spei_reference_is_recovered_by_the_poller_with_its_instructions(
    db, runtime, clock
):
    ana, loan, box, client = await setup(runtime, webhooks=False)
    box.simulator("stripe").faults.lose_next = LOST_WITH_RETRIES
    payment = await create_payment(
        runtime, box.gateways, ana, card(loan, key="spei-lost", method=PaymentMethodType.SPEI)
    )
    assert payment.status == S.CREATED
    clock.now = datetime.now(UTC) + timedelta(minutes=11)
    assert await poll_pending_payments(runtime, box.gateways) == 1
    recovered = await Payment.get(id=payment.id)
    assert recovered.status == S.REQUIRES_ACTION
    assert recovered.next_action["type"] == "SPEI_TRANSFER"
    assert len(box.simulator("stripe").store.all("payment_intents")) == 1


async def test_borrower_retry_webhook_and_poller_all_at_once_end_in_one_charge(db, runtime, clock):
    ana, loan, box, client = await setup(runtime, webhooks=True)
    async with client:
        payment = await lost_charge(runtime, box, ana, loan)
        clock.now = datetime.now(UTC) + timedelta(minutes=11)
        inbox = client._transport.app.state.inbox
        await asyncio.gather(
            create_payment(runtime, box.gateways, ana, card(loan)),
            inbox.process_due(),
            poll_pending_payments(runtime, box.gateways),
        )
        again = await create_payment(runtime, box.gateways, ana, card(loan))
    assert again.id == payment.id and again.status == S.PAID
    assert await Payment.all().count() == 1
    assert await charged_intents(box) == 1
    assert await payment_entries() == 1


async def test_five_concurrent_requests_with_one_key_get_the_same_payment(db, runtime):
    ana, loan, box, client = await setup(runtime, webhooks=False)
    results = await asyncio.gather(
        *[create_payment(runtime, box.gateways, ana, card(loan, key="k-race")) for _ in range(5)],
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert len({p.id for p in results}) == 1
    assert await Payment.all().count() == 1
    assert len(box.simulator("stripe").store.all("payment_intents")) == 1
    assert await payment_entries() == 1
