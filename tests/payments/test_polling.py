"""Polling fallback: a payment whose webhook was lost is still applied."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes

from puente.enums import JournalKind, PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.ledger.models import JournalEntry
from puente.payments.checkout import PaymentRequest, create_payment
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment
from puente.payments.polling import poll_pending_payments

pytestmark = pytest.mark.anyio


async def test_a_lost_webhook_is_made_up_for_by_polling(db, runtime, clock):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    box = sandboxes(runtime)  # its webhooks go to a capturing inbox: "lost"
    payment = await create_payment(
        runtime,
        box.gateways,
        ana,
        PaymentRequest(
            loan_id=loan.id,
            amount="1240.35",
            method=PaymentMethodType.SPEI,
            provider=ProviderName.STRIPE,
            idempotency_key="lost-1",
        ),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=box.app), base_url="http://sandbox.test"
    ) as sandbox:
        await sandbox.post(f"/stripe/_references/{payment.provider_reference}/pay")
    assert box.inbox.requests  # the provider did send it; we never saw it
    # Row timestamps are the database's real time: poll "now", then 11 minutes later.
    clock.now = datetime.now(UTC)
    assert await poll_pending_payments(runtime, box.gateways) == 0  # too recent to poll
    clock.now += timedelta(minutes=11)
    assert await poll_pending_payments(runtime, box.gateways) == 1
    assert (await Payment.get(id=payment.id)).status == S.PAID
    assert await JournalEntry.filter(kind=JournalKind.PAYMENT).count() == 1
    assert await poll_pending_payments(runtime, box.gateways) == 0  # nothing left open
