"""/metrics through the official client; the request id and route templates at the edge;
/readyz watches the event bus too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.support import factories
from tests.support.http import app_client
from tests.support.metrics import authorise_scraper, sample_value, scrape

from puente.enums import PaymentMethodType, PaymentStatus, ProviderEventStatus, ProviderName
from puente.events.bus import InMemoryBus, RedisBus
from puente.payments.models import Payment
from puente.webhooks.models import ProviderEvent

pytestmark = pytest.mark.anyio


async def _metrics(client) -> str:
    return await scrape(client)


async def test_requests_are_counted_by_route_template_not_raw_path(db, runtime):
    authorise_scraper(runtime)
    async with app_client(runtime) as client:
        before = sample_value(
            await _metrics(client),
            "puente_http_requests_total",
            route="/prestamos/{loan_id:int}",
            method="GET",
            status="303",
        )
        for loan_id in (1, 2, 3):
            response = await client.get(f"/prestamos/{loan_id}")
            assert response.status_code == 303  # not logged in: sent to /login
        await client.get("/no-such-page-anywhere")
        text = await _metrics(client)
    counted = sample_value(
        text,
        "puente_http_requests_total",
        route="/prestamos/{loan_id:int}",
        method="GET",
        status="303",
    )
    assert counted == (before or 0) + 3
    assert "/prestamos/1" not in text and "no-such-page" not in text
    assert (
        sample_value(
            text, "puente_http_requests_total", route="unmatched", method="GET", status="404"
        )
        >= 1
    )
    latency = sample_value(
        text,
        "puente_http_request_duration_seconds_count",
        route="/prestamos/{loan_id:int}",
        method="GET",
    )
    assert latency is not None and latency >= 3


async def test_the_request_id_is_echoed_or_minted(db, runtime):
    async with app_client(runtime) as client:
        kept = await client.get("/healthz", headers={"x-request-id": "caller-id-1234"})
        minted = await client.get("/healthz", headers={"x-request-id": "bad id;drop"})
    assert kept.headers["x-request-id"] == "caller-id-1234"
    assert len(minted.headers["x-request-id"]) == 32


async def test_metrics_read_the_webhook_queue_and_payments_from_the_database(db, runtime, clock):
    authorise_scraper(runtime)
    inst = await factories.institution()
    borrower = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, borrower)
    for n, status in enumerate((PaymentStatus.PAID, PaymentStatus.PAID, PaymentStatus.FAILED)):
        await Payment.create(
            institution_id=inst.id,
            loan_id=loan.id,
            user_id=borrower.id,
            provider=ProviderName.STRIPE,
            method=PaymentMethodType.CARD,
            amount_centavos=10000,
            status=status,
            idempotency_key=f"k{n}",
            request_fingerprint="x",
        )
    for n, status in enumerate(
        (ProviderEventStatus.RECEIVED, ProviderEventStatus.FAILED, ProviderEventStatus.DEAD)
    ):
        await ProviderEvent.create(
            provider=ProviderName.CONEKTA,
            event_id=f"evt_{n}",
            event_type="charge.paid",
            institution_id=inst.id,
            raw_body="{}",
            status=status,
        )
    await ProviderEvent.all().update(received_at=clock.now - timedelta(minutes=5))
    async with app_client(runtime, run_workers=False) as client:
        text = await _metrics(client)
    assert sample_value(text, "puente_payments", provider="stripe", status="paid") == 2
    assert sample_value(text, "puente_payments", provider="stripe", status="failed") == 1
    for status in ("received", "failed", "dead"):
        assert sample_value(text, "puente_webhook_events", provider="conekta", status=status) == 1
    age = sample_value(text, "puente_webhook_oldest_pending_age_seconds")
    assert age is not None and age > 0


async def test_subscriptions_are_counted_while_they_live():
    from puente.observability.metrics import SUBSCRIPTIONS

    gauge = SUBSCRIPTIONS.labels("memory")
    before = gauge._value.get()
    bus = InMemoryBus()
    async with bus.subscribe("payment:1"), bus.subscribe("payment:2"):
        assert gauge._value.get() == before + 2
    assert gauge._value.get() == before


async def test_readyz_is_503_when_the_event_bus_is_down(db, runtime):
    runtime.bus = RedisBus("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        async with app_client(runtime, run_workers=False) as client:
            response = await client.get("/readyz")
    finally:
        await runtime.bus.close()
    assert response.status_code == 503
    assert "event bus" in response.json()["status"]
