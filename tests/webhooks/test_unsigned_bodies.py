"""Webhook verification levels: an unsigned body is confirmed with the provider before it
moves money, an amount that disagrees is an exception for staff, never a PAID, and what is
stored of a delivery keeps no credential and no plaintext CLABE."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import httpx
import pytest
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes
from tests.support.http import app_client

from puente.audit.models import AuditEvent
from puente.enums import JournalKind, PaymentMethodType, ProviderEventStatus, ProviderName
from puente.enums import PaymentStatus as S
from puente.ledger.models import JournalEntry
from puente.payments.checkout import PaymentRequest, create_payment
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment
from puente.providers.openpay_webhooks import basic_authorization
from puente.providers.stripe_webhooks import stripe_signature_header
from puente.webhooks.models import ProviderEvent

pytestmark = pytest.mark.anyio

OPENPAY = {
    "merchant_id": "medge0123456789abcde",
    "private_key": "sk_edge_0123456789abcdef0123",
    "webhook_user": "puente",
    "webhook_password": "edge-webhook-pass-0123",
}
OPENPAY_AUTH = basic_authorization(OPENPAY["webhook_user"], OPENPAY["webhook_password"])


async def world(runtime, provider: str = "openpay"):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, principal="12000.00", start=date(2026, 11, 2))
    credentials = {"openpay": OPENPAY, "stripe": STRIPE}
    await store_credentials(runtime, inst.id, provider, credentials[provider])
    box = sandboxes(runtime, credentials)
    client = app_client(runtime, gateways=box.gateways, run_workers=False)
    box.inbox.target = client._transport  # the sandbox delivers to our /webhooks
    return ana, loan, box, client


def request(loan, provider: ProviderName, method: PaymentMethodType, amount="150.00", key="k-1"):
    return PaymentRequest(
        loan_id=loan.id,
        amount=amount,
        method=method,
        provider=provider,
        idempotency_key=key,
        card_token="tok_visa" if method is PaymentMethodType.CARD else None,
    )


def forged_openpay(charge_id: str, amount: str = "1.00") -> bytes:
    """What the attacker sent: a 2020 ``charge.succeeded`` for 1.00 on our unpaid reference."""
    return json.dumps(
        {
            "type": "charge.succeeded",
            "event_date": "2020-01-01T10:00:00-06:00",
            "transaction": {
                "id": charge_id,
                "amount": Decimal(amount),
                "status": "completed",
                "method": "store",
            },
        },
        default=str,
    ).encode()


async def payment_entries() -> int:
    return await JournalEntry.filter(kind=JournalKind.PAYMENT).count()


async def process(client) -> None:
    await client._transport.app.state.inbox.process_due()


async def pay_reference(box, provider: str, reference: str) -> None:
    """The payer pays at the store: the sandbox delivers its (authentic) webhook."""
    sandbox = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=box.app), base_url="http://sandbox.test"
    )
    async with sandbox:
        paid = await sandbox.post(f"/{provider}/_references/{reference}/pay")
    assert paid.status_code < 300, paid.text


async def test_a_forged_openpay_charge_succeeded_does_not_mark_an_unpaid_reference_paid(
    db, runtime
):
    ana, loan, box, client = await world(runtime)
    async with client:
        payment = await create_payment(
            runtime, box.gateways, ana, request(loan, ProviderName.OPENPAY, PaymentMethodType.CASH)
        )
        assert payment.status == S.REQUIRES_ACTION
        forged = await client.post(
            "/webhooks/openpay",
            content=forged_openpay(payment.provider_reference),
            headers={"authorization": OPENPAY_AUTH, "content-type": "application/json"},
        )
        assert forged.status_code == 200  # the sender had the credential: stored, then checked
        await process(client)
    payment = await Payment.get(id=payment.id)
    assert payment.status == S.REQUIRES_ACTION  # Openpay still says in_progress
    assert await payment_entries() == 0


async def test_an_unsigned_openpay_event_is_applied_as_the_provider_api_states_it(db, runtime):
    ana, loan, box, client = await world(runtime)
    async with client:
        payment = await create_payment(
            runtime, box.gateways, ana, request(loan, ProviderName.OPENPAY, PaymentMethodType.CASH)
        )
        await pay_reference(box, "openpay", payment.provider_reference)
        await process(client)
    payment = await Payment.get(id=payment.id)
    assert payment.status == S.PAID
    assert await payment_entries() == 1


async def test_a_provider_that_confirms_a_different_amount_is_an_exception_never_paid(db, runtime):
    ana, loan, box, client = await world(runtime)
    async with client:
        payment = await create_payment(
            runtime, box.gateways, ana, request(loan, ProviderName.OPENPAY, PaymentMethodType.CASH)
        )
        simulator = box.simulator("openpay")
        await pay_reference(box, "openpay", payment.provider_reference)
        # The provider's own record says 1.00 was paid for this 150.00 reference.
        simulator.state.store.get("charges", payment.provider_reference)["amount"] = Decimal("1")
        await process(client)
    payment = await Payment.get(id=payment.id)
    assert payment.status == S.REQUIRES_ACTION
    assert await payment_entries() == 0
    (event,) = await ProviderEvent.filter(event_type="charge.succeeded")
    assert event.status == ProviderEventStatus.EXCEPTION
    assert "AMOUNT_MISMATCH" in (event.last_error or "")
    audit = await AuditEvent.filter(action="payment.amount_mismatch", subject_id=str(payment.id))
    # Every event that asked the provider (charge.created too, by now) found the same story.
    assert audit and {(a.data["reported"], a.data["expected"]) for a in audit} == {
        ("1.00", "150.00")
    }


async def test_a_signed_event_for_a_different_amount_is_an_exception_never_paid(db, runtime):
    ana, loan, box, client = await world(runtime, "stripe")
    async with client:
        payment = await create_payment(
            runtime,
            box.gateways,
            ana,
            request(loan, ProviderName.STRIPE, PaymentMethodType.SPEI, amount="1240.35"),
        )
        body = {
            "id": "evt_short",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(runtime.now().timestamp()),
            "livemode": False,
            "data": {
                "object": {
                    "id": payment.provider_reference,
                    "object": "payment_intent",
                    "amount": 100,
                    "amount_received": 100,
                    "currency": "mxn",
                    "status": "succeeded",
                }
            },
        }
        raw = json.dumps(body).encode()
        signature = stripe_signature_header(
            raw, STRIPE["webhook_secret"], int(runtime.now().timestamp())
        )
        answer = await client.post(
            "/webhooks/stripe", content=raw, headers={"stripe-signature": signature}
        )
        assert answer.status_code == 200
        await process(client)
    payment = await Payment.get(id=payment.id)
    assert payment.status == S.REQUIRES_ACTION
    assert await payment_entries() == 0
    event = await ProviderEvent.get(event_id="evt_short")
    assert event.status == ProviderEventStatus.EXCEPTION


async def test_stored_deliveries_keep_no_credentials_and_no_plaintext_clabe(db, runtime):
    ana, loan, box, client = await world(runtime)
    clabe = "646180111805034237"
    body = json.dumps(
        {
            "type": "spei.received",
            "event_date": "2026-11-27T10:00:00-06:00",
            "transaction": {"id": "trspei0001", "amount": 10, "clabe": clabe},
        }
    ).encode()
    async with client:
        answer = await client.post(
            "/webhooks/openpay",
            content=body,
            headers={
                "authorization": OPENPAY_AUTH,
                "cookie": "puente_session=abc",
                "x-api-key": "sk_live_hidden",
                "content-type": "application/json",
                "user-agent": "Openpay",
            },
        )
    assert answer.status_code == 200
    (event,) = await ProviderEvent.all()
    kept = {name.lower() for name in event.headers}
    assert "user-agent" in kept and "content-type" in kept
    assert not kept & {"authorization", "cookie", "x-api-key"}
    assert clabe not in event.raw_body and OPENPAY["webhook_password"] not in json.dumps(
        event.headers
    )
    from puente.webhooks.storage import stored_body

    assert json.loads(stored_body(runtime, event))["transaction"]["clabe"] == clabe


async def test_the_poller_never_marks_paid_a_payment_the_provider_reports_for_another_amount(
    db, runtime, clock
):
    from datetime import UTC, datetime, timedelta

    from puente.payments.polling import poll_pending_payments

    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, principal="12000.00", start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "openpay", OPENPAY)
    box = sandboxes(runtime, {"openpay": OPENPAY})  # webhooks go to a capturing inbox: lost
    payment = await create_payment(
        runtime, box.gateways, ana, request(loan, ProviderName.OPENPAY, PaymentMethodType.CASH)
    )
    await pay_reference(box, "openpay", payment.provider_reference)
    charge = box.simulator("openpay").state.store.get("charges", payment.provider_reference)
    charge["amount"] = Decimal("1")
    clock.now = datetime.now(UTC) + timedelta(minutes=30)  # row timestamps are real time
    assert await poll_pending_payments(runtime, box.gateways) == 0
    assert (await Payment.get(id=payment.id)).status == S.REQUIRES_ACTION
    assert await payment_entries() == 0
    assert await AuditEvent.filter(action="payment.amount_mismatch").count() == 1
