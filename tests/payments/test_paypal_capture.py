"""PayPal: the approved order is captured from PayPal's webhook even if the payer never returns."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from tests.support import factories
from tests.support.gateways import sandboxes
from tests.support.http import app_client

from puente.enums import JournalKind, PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.ledger.models import JournalEntry
from puente.payments.checkout import PaymentRequest, create_payment
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment
from puente_sandbox.paypal import DEFAULT_PAYPAL_CREDENTIALS

pytestmark = pytest.mark.anyio


async def test_order_approved_webhook_captures_and_applies_the_payment_once(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    credentials = dict(DEFAULT_PAYPAL_CREDENTIALS)
    await store_credentials(runtime, inst.id, "paypal", credentials)
    box = sandboxes(runtime, {"paypal": credentials})
    client = app_client(runtime, gateways=box.gateways, run_workers=False)
    box.inbox.target = client._transport
    async with client:
        payment = await create_payment(
            runtime,
            box.gateways,
            ana,
            PaymentRequest(
                loan_id=loan.id,
                amount="1240.35",
                method=PaymentMethodType.PAYPAL,
                provider=ProviderName.PAYPAL,
                idempotency_key="pp-1",
            ),
        )
        assert payment.status == S.REQUIRES_ACTION
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=box.app), base_url="http://sandbox.test"
        ) as sandbox:
            approved = await sandbox.post(f"/paypal/_orders/{payment.provider_reference}/approve")
            assert approved.status_code < 300, approved.text
        inbox = client._transport.app.state.inbox
        await inbox.process_due()
        await inbox.process_due()  # the capture's own webhooks
    assert (await Payment.get(id=payment.id)).status == S.PAID
    assert await JournalEntry.filter(kind=JournalKind.PAYMENT).count() == 1
