"""A webhook's request id follows it from the HTTP delivery into its processing."""

from __future__ import annotations

import logging

import pytest
from tests.payments.test_webhooks import card, intent_event, setup, signed

from puente.enums import PaymentMethodType
from puente.observability.context import current_request_id
from puente.payments import lifecycle_service
from puente.payments.checkout import create_payment
from puente.webhooks.models import ProviderEvent

pytestmark = pytest.mark.anyio


async def test_processing_runs_under_the_id_of_the_delivery(db, runtime, monkeypatch):
    ana, loan, box, client = await setup(runtime)
    seen: dict[str, str | None] = {}
    original = lifecycle_service.record_audit

    async def spy(action, **kwargs):
        # Every path that applies a webhook (one by one, or a batch by loan) audits the
        # payment's move with the event as its source, inside the processing.
        source = str((kwargs.get("data") or {}).get("source", ""))
        if source.startswith("webhook:"):
            seen[source.rsplit(":", 1)[-1]] = current_request_id()
            logging.getLogger("puente.webhooks").info("processing %s", source)
        return await original(action, **kwargs)

    monkeypatch.setattr(lifecycle_service, "record_audit", spy)
    async with client:
        payment = await create_payment(
            runtime, box.gateways, ana, card(loan, method=PaymentMethodType.SPEI)
        )
        raw, headers = signed(runtime, intent_event("evt_rid", payment.provider_reference))
        answer = await client.post(
            "/webhooks/stripe", content=raw, headers={**headers, "x-request-id": "stripe-rid-0001"}
        )
        assert answer.is_success
        assert (await ProviderEvent.get(event_id="evt_rid")).request_id == "stripe-rid-0001"
        assert await client._transport.app.state.inbox.process_due() >= 1
    assert seen["evt_rid"] == "stripe-rid-0001"
    for event in await ProviderEvent.filter(event_id__in=list(seen)):
        # The sandbox's own deliveries carried no id: each got one minted at our edge.
        assert event.request_id and seen[event.event_id] == event.request_id
