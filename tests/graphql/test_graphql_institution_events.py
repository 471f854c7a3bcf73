"""``institutionEvents``: the dashboards' live feed, in process, through Redis and over
graphql-transport-ws; staff of that institution only."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from datetime import date

import pyotp
import pytest
from starlette.testclient import TestClient
from tests.conftest import _init
from tests.support import factories
from tests.support.http import subscription_context

from puente.accounts.service import AuthService
from puente.app import create_app
from puente.enums import PaymentStatus
from puente.events.bus import RedisBus
from puente.graphql.schema import build_schema
from puente.graphql.types import encode_global_id
from puente.payments.change_notices import notify_institution
from puente.payments.outcomes import advance_and_notify

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"
REDIS_URL = os.environ.get("PUENTE_TEST_REDIS_URL", "")
FEED = """subscription { institutionEvents { kind occurredAt payment { id status }
  loan { id } subjectId } }"""


async def _world(runtime, clock):
    inst = await factories.institution()
    other = await factories.institution("otra")
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    payment = await factories.payment(loan, key="feed-1")
    _, secret = await factories.enrolled_staff(runtime, inst)
    _, other_secret = await factories.enrolled_staff(runtime, other, email="caja@otra.mx")
    auth = AuthService(runtime)
    tokens = {
        "staff": (
            await auth.login("caja@example.mx", PASSWORD, pyotp.TOTP(secret).at(clock.now))
        ).access_token,
        "other": (
            await auth.login("caja@otra.mx", PASSWORD, pyotp.TOTP(other_secret).at(clock.now))
        ).access_token,
        "ana": (await auth.login("ana@example.mx", PASSWORD)).access_token,
    }
    return inst, other, loan, payment, tokens


async def _listening(schema, runtime, token):
    """A subscribed stream and the task awaiting its first event (subscribed once it waits)."""
    stream = await schema.subscribe(FEED, None, subscription_context(runtime, token))
    task = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.3)  # the generator runs to its bus subscription
    return stream, task


async def test_staff_hear_their_institution_only(db, runtime, clock):
    inst, other, loan, payment, tokens = await _world(runtime, clock)
    schema = build_schema()
    mine, my_next = await _listening(schema, runtime, tokens["staff"])
    theirs, their_next = await _listening(schema, runtime, tokens["other"])
    try:
        await advance_and_notify(
            runtime, payment.id, PaymentStatus.PAID, source="test", at=runtime.now()
        )
        event = await asyncio.wait_for(my_next, 10)
        await asyncio.sleep(0.2)
        assert not their_next.done()  # the other lender heard nothing
        await notify_institution(runtime.bus, other.id, "webhook.dead", runtime.now(), subject_id=9)
        theirs_event = await asyncio.wait_for(their_next, 10)
    finally:
        await mine.aclose()
        await theirs.aclose()
    assert event.errors is None, event.errors
    feed = event.data["institutionEvents"]
    assert feed["kind"] == "payment.paid"
    assert feed["payment"] == {"id": encode_global_id("Payment", payment.id), "status": "PAID"}
    assert feed["loan"] == {"id": encode_global_id("Loan", loan.id)}
    assert theirs_event.data["institutionEvents"]["kind"] == "webhook.dead"
    assert theirs_event.data["institutionEvents"]["subjectId"] == encode_global_id(
        "WebhookEvent", 9
    )


async def test_a_borrower_is_refused(db, runtime, clock):
    *_, tokens = await _world(runtime, clock)
    stream = await build_schema().subscribe(
        FEED, None, subscription_context(runtime, tokens["ana"])
    )
    result = await asyncio.wait_for(anext(stream), 10)
    assert result.data is None
    assert result.errors[0].extensions["code"] == "FORBIDDEN"


async def test_events_cross_processes_through_redis(db, runtime, clock):
    if not REDIS_URL:
        if os.environ.get("CI_REQUIRE_REDIS") == "1":
            pytest.fail("PUENTE_TEST_REDIS_URL is required in CI")
        pytest.skip("PUENTE_TEST_REDIS_URL is not set")
    inst, _, loan, payment, tokens = await _world(runtime, clock)
    subscriber_bus, publisher_bus = RedisBus(REDIS_URL), RedisBus(REDIS_URL)
    listening = dataclasses.replace(runtime, bus=subscriber_bus)
    publishing = dataclasses.replace(runtime, bus=publisher_bus)
    stream, task = await _listening(build_schema(), listening, tokens["staff"])
    # The subscription checks the session before it subscribes: under load that takes
    # longer than _listening's pause, and a notice published before it is lost.
    deadline = asyncio.get_running_loop().time() + 10
    while not len(subscriber_bus._fanout):
        assert asyncio.get_running_loop().time() < deadline, "never subscribed"
        await asyncio.sleep(0.02)
    try:
        await advance_and_notify(
            publishing, payment.id, PaymentStatus.PAID, source="test", at=runtime.now()
        )
        event = await asyncio.wait_for(task, 10)
    finally:
        await stream.aclose()
        await subscriber_bus.close()
        await publisher_bus.close()
    assert event.errors is None, event.errors
    assert event.data["institutionEvents"]["kind"] == "payment.paid"
    assert event.data["institutionEvents"]["loan"]["id"] == encode_global_id("Loan", loan.id)


def test_the_feed_over_graphql_transport_ws(database_url, runtime, clock):
    """An enrolled cashier's dashboard over the WebSocket hears a payment of its lender."""

    async def seed():
        await _init(database_url)
        try:
            inst, _, _, payment, tokens = await _world(runtime, clock)
            return inst.id, payment.id, tokens
        finally:
            from tortoise import Tortoise

            await Tortoise.close_connections()

    inst_id, payment_id, tokens = asyncio.run(seed())
    app = create_app(runtime, run_workers=False)
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json(
            {"type": "connection_init", "payload": {"authorization": f"Bearer {tokens['staff']}"}}
        )
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "feed", "type": "subscribe", "payload": {"query": FEED}})
        client.portal.call(asyncio.sleep, 0.3)
        client.portal.call(
            notify_institution,
            runtime.bus,
            inst_id,
            "payment.paid",
            runtime.now(),
        )
        message = ws.receive_json()
        ws.send_json({"id": "feed", "type": "complete"})
    assert message["type"] == "next" and message["id"] == "feed"
    event = message["payload"]["data"]["institutionEvents"]
    assert event["kind"] == "payment.paid" and event["payment"] is None
    assert payment_id > 0
