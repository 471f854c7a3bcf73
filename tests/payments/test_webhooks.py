"""Webhook shim: verified, stored before 2xx, deduplicated, applied exactly once."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes
from tests.support.http import app_client

from puente.enums import JournalKind, PaymentMethodType, ProviderEventStatus, ProviderName
from puente.enums import LedgerAccountType as T
from puente.enums import PaymentStatus as S
from puente.ledger.entries import AccountRef
from puente.ledger.models import JournalEntry
from puente.ledger.posting import account_balance
from puente.loans.state import load_loan_views
from puente.payments.checkout import PaymentRequest, create_payment
from puente.payments.gateways import store_credentials
from puente.payments.lifecycle_service import advance_payment
from puente.payments.models import Payment
from puente.providers.stripe_webhooks import stripe_signature_header
from puente.webhooks.inbox import WebhookInbox
from puente.webhooks.models import ProviderEvent

pytestmark = pytest.mark.anyio


async def setup(runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, principal="12000.00", start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    box = sandboxes(runtime)
    client = app_client(runtime, gateways=box.gateways, run_workers=False)
    box.inbox.target = client._transport  # the sandbox delivers to our /webhooks
    return ana, loan, box, client


def card(loan, key="k-1", token="tok_visa", amount="1240.35", method=PaymentMethodType.CARD):
    return PaymentRequest(
        loan_id=loan.id,
        amount=amount,
        method=method,
        provider=ProviderName.STRIPE,
        idempotency_key=key,
        card_token=token if method is PaymentMethodType.CARD else None,
    )


def signed(runtime, body: dict, *, secret=STRIPE["webhook_secret"], age=0) -> tuple[bytes, dict]:
    raw = json.dumps(body).encode()
    timestamp = int(runtime.now().timestamp()) - age
    return raw, {
        "stripe-signature": stripe_signature_header(raw, secret, timestamp),
        "content-type": "application/json",
    }


def intent_event(event_id: str, intent_id: str, kind="payment_intent.succeeded") -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": 1795000000,
        "livemode": False,
        "data": {
            "object": {
                "id": intent_id,
                "object": "payment_intent",
                "amount": 124035,
                "currency": "mxn",
                "status": "succeeded",
            }
        },
    }


async def payment_entries() -> int:
    return await JournalEntry.filter(kind=JournalKind.PAYMENT).count()


async def test_spei_paid_in_the_sandbox_arrives_by_webhook_and_is_applied_once(db, runtime):
    ana, loan, box, client = await setup(runtime)
    async with client:
        payment = await create_payment(
            runtime, box.gateways, ana, card(loan, method=PaymentMethodType.SPEI)
        )
        assert payment.status == S.REQUIRES_ACTION
        sandbox = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=box.app), base_url="http://sandbox.test"
        )
        async with sandbox:
            paid = await sandbox.post(f"/stripe/_references/{payment.provider_reference}/pay")
        assert paid.status_code < 300, paid.text
        assert await ProviderEvent.all().count() >= 1  # stored before the sandbox got its 2xx
        await client._transport.app.state.inbox.process_due()
    payment = await Payment.get(id=payment.id)
    assert payment.status == S.PAID
    assert await payment_entries() == 1
    (view,) = await load_loan_views([loan], runtime.today())
    assert view.installments[0].paid == Decimal("1240.35")


async def test_forged_and_stale_signatures_are_refused_without_side_effects(db, runtime):
    ana, loan, box, client = await setup(runtime)
    async with client:
        forged_raw, forged_headers = signed(
            runtime, intent_event("evt_1", "pi_x"), secret="whsec_not_ours"
        )
        stale_raw, stale_headers = signed(runtime, intent_event("evt_2", "pi_x"), age=3600)
        tampered_raw, tampered_headers = signed(runtime, intent_event("evt_3", "pi_x"))
        forged = await client.post("/webhooks/stripe", content=forged_raw, headers=forged_headers)
        stale = await client.post("/webhooks/stripe", content=stale_raw, headers=stale_headers)
        tampered = await client.post(
            "/webhooks/stripe",
            content=tampered_raw.replace(b"pi_x", b"pi_y"),
            headers=tampered_headers,
        )
        unknown = await client.post("/webhooks/nope", content=b"{}")
    assert (forged.status_code, stale.status_code, tampered.status_code) == (400, 400, 400)
    assert unknown.status_code == 404
    assert await ProviderEvent.all().count() == 0


async def test_the_same_event_delivered_20_times_at_once_is_stored_and_applied_once(db, runtime):
    ana, loan, box, client = await setup(runtime)
    async with client:
        payment = await create_payment(
            runtime, box.gateways, ana, card(loan, method=PaymentMethodType.SPEI)
        )
        raw, headers = signed(runtime, intent_event("evt_dup", payment.provider_reference))
        answers = await asyncio.gather(
            *[client.post("/webhooks/stripe", content=raw, headers=headers) for _ in range(20)]
        )
        assert {a.status_code for a in answers} == {200}
        await client._transport.app.state.inbox.process_due()
    assert await ProviderEvent.filter(event_id="evt_dup").count() == 1
    assert (await Payment.get(id=payment.id)).status == S.PAID
    assert await payment_entries() == 1


async def test_twenty_concurrent_paid_proposals_apply_the_payment_once(db, runtime, clock):
    ana, loan, box, client = await setup(runtime)
    payment = await create_payment(
        runtime, box.gateways, ana, card(loan, method=PaymentMethodType.SPEI)
    )
    results = await asyncio.gather(
        *[advance_payment(payment.id, S.PAID, source=f"race-{n}", at=clock.now) for n in range(20)]
    )
    assert sum(1 for r in results if r.applied) == 1
    assert await payment_entries() == 1


async def test_webhook_and_polling_racing_apply_once(db, runtime, clock):
    ana, loan, box, client = await setup(runtime)
    async with client:
        payment = await create_payment(
            runtime, box.gateways, ana, card(loan, method=PaymentMethodType.SPEI)
        )
        raw, headers = signed(runtime, intent_event("evt_race", payment.provider_reference))
        await client.post("/webhooks/stripe", content=raw, headers=headers)
        inbox = client._transport.app.state.inbox
        await asyncio.gather(
            inbox.process_due(),
            advance_payment(payment.id, S.PAID, source="poll", at=clock.now),
        )
    assert (await Payment.get(id=payment.id)).status == S.PAID
    assert await payment_entries() == 1


async def test_a_crash_between_storing_and_processing_is_finished_on_restart(db, runtime):
    ana, loan, box, client = await setup(runtime)
    async with client:
        payment = await create_payment(
            runtime, box.gateways, ana, card(loan, method=PaymentMethodType.SPEI)
        )
        raw, headers = signed(runtime, intent_event("evt_crash", payment.provider_reference))
        assert (await client.post("/webhooks/stripe", content=raw, headers=headers)).is_success
    # The process "died" here: the event is stored, nothing processed.
    assert (await ProviderEvent.get(event_id="evt_crash")).status == ProviderEventStatus.RECEIVED
    assert (await Payment.get(id=payment.id)).status == S.REQUIRES_ACTION
    restarted = WebhookInbox(runtime, box.gateways)
    assert await restarted.process_due() >= 1
    assert (await Payment.get(id=payment.id)).status == S.PAID
    assert await payment_entries() == 1


async def test_out_of_order_events_never_move_a_payment_backwards(db, runtime, clock):
    ana, loan, box, client = await setup(runtime)
    payment = await create_payment(runtime, box.gateways, ana, card(loan))
    assert payment.status == S.PAID
    late = await advance_payment(payment.id, S.PENDING, source="late-webhook", at=clock.now)
    failed = await advance_payment(payment.id, S.FAILED, source="late-webhook", at=clock.now)
    assert not late.applied and not failed.applied
    assert (await Payment.get(id=payment.id)).status == S.PAID


async def test_an_event_for_an_unknown_payment_is_retried_then_dead_lettered_and_replayable(
    db, runtime, clock
):
    ana, loan, box, client = await setup(runtime)
    inbox = WebhookInbox(runtime, box.gateways, max_attempts=3, backoff_seconds=1)
    raw, headers = signed(runtime, intent_event("evt_orphan", "pi_nobody"))
    assert (await inbox.receive("stripe", raw, headers, None)).status_code == 200
    for _ in range(3):
        await inbox.process_due()
        clock.now += timedelta(minutes=5)
    event = await ProviderEvent.get(event_id="evt_orphan")
    assert event.status == ProviderEventStatus.DEAD and "pi_nobody" in (event.last_error or "")
    await inbox.replay(event.id)
    assert (await ProviderEvent.get(id=event.id)).status == ProviderEventStatus.RECEIVED


async def test_full_and_partial_refunds_reverse_exactly_and_reopen_the_installment(
    db, runtime, clock
):
    ana, loan, box, client = await setup(runtime)
    inst_id = loan.institution_id
    cash = AccountRef(inst_id, T.CASH_CLEARING, provider=ProviderName.STRIPE)
    principal = AccountRef(inst_id, T.LOAN_PRINCIPAL, loan_id=loan.id)
    before = await account_balance(principal)
    payment = await create_payment(runtime, box.gateways, ana, card(loan))
    partial = await advance_payment(
        payment.id, S.PARTIALLY_REFUNDED, source="refund", at=clock.now, refunded=Decimal("100")
    )
    assert partial.applied
    (view,) = await load_loan_views([loan], runtime.today())
    assert view.installments[0].outstanding == Decimal("100.00")
    assert await account_balance(cash) == 124035 - 10000
    full = await advance_payment(
        payment.id, S.REFUNDED, source="refund", at=clock.now, refunded=Decimal("1240.35")
    )
    assert full.applied
    assert await account_balance(cash) == 0
    assert await account_balance(principal) == before
    (view,) = await load_loan_views([loan], runtime.today())
    assert view.installments[0].paid == Decimal("0.00")
    assert await account_balance(AccountRef(inst_id, T.VAT_PAYABLE)) == 0


async def test_staff_refund_through_the_provider_then_its_webhook_changes_nothing_more(db, runtime):
    from puente.enums import Role
    from puente.payments.refund_service import refund_payment

    ana, loan, box, client = await setup(runtime)
    inst = await loan.institution
    staff = await factories.user(runtime, inst, email="caja@example.mx", role=Role.STAFF)
    cash = AccountRef(loan.institution_id, T.CASH_CLEARING, provider=ProviderName.STRIPE)
    async with client:
        payment = await create_payment(runtime, box.gateways, ana, card(loan))
        partial = await refund_payment(runtime, box.gateways, staff, payment.id, "240.35")
        assert partial.after == S.PARTIALLY_REFUNDED
        assert await account_balance(cash) == 100000
        rest = await refund_payment(runtime, box.gateways, staff, payment.id)
        assert rest.after == S.REFUNDED
        await client._transport.app.state.inbox.process_due()  # the refund webhooks
    assert await account_balance(cash) == 0
    assert (await Payment.get(id=payment.id)).refunded_centavos == 124035
    refunds = await JournalEntry.filter(kind=JournalKind.REFUND).count()
    assert refunds == 2


async def test_a_webhook_that_cannot_be_verified_now_gets_a_503_and_nothing_is_stored(
    db, runtime, monkeypatch
):
    from puente.providers.errors import ProviderUnavailable
    from puente.providers.stripe import StripeConnector

    ana, loan, box, client = await setup(runtime)

    async def unavailable(self, raw_body, headers, *, now=None, client_ip=None):
        raise ProviderUnavailable("certificate download failed", provider="stripe")

    monkeypatch.setattr(StripeConnector, "verify_webhook", unavailable)
    raw, headers = signed(runtime, intent_event("evt_later", "pi_x"))
    async with client:
        answer = await client.post("/webhooks/stripe", content=raw, headers=headers)
    assert answer.status_code == 503
    assert await ProviderEvent.all().count() == 0


async def test_a_signed_body_that_breaks_the_parser_is_refused_not_a_500(db, runtime, monkeypatch):
    from puente.providers.stripe import StripeConnector

    ana, loan, box, client = await setup(runtime)

    async def broken(self, raw_body, headers, *, now=None, client_ip=None):
        raise KeyError("data")

    monkeypatch.setattr(StripeConnector, "verify_webhook", broken)
    raw, headers = signed(runtime, intent_event("evt_odd", "pi_x"))
    async with client:
        answer = await client.post("/webhooks/stripe", content=raw, headers=headers)
    assert answer.status_code == 400
    assert await ProviderEvent.all().count() == 0
