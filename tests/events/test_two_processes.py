"""Two server processes and Redis: an event processed in one reaches a subscriber of the other."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime

import httpx
import pytest
from tests.conftest import PRIVATE_POSTGRES, _init
from tests.support import factories
from tests.support.servers import (
    free_port,
    serve,
    server_env,
    stop,
    stripe_succeeded,
    subscribe_ws,
    wait_ready,
)

from puente.graphql.types import encode_global_id
from puente.providers.stripe_webhooks import stripe_signature_header

REDIS_URL = os.environ.get("PUENTE_TEST_REDIS_URL", "")
WEBHOOK_SECRET = "whsec_two_processes_0123456789"


@pytest.mark.parametrize("database_url", ["sqlite", PRIVATE_POSTGRES], indirect=True)
def test_a_payment_processed_by_one_process_reaches_a_subscriber_on_the_other(
    database_url, runtime, clock
):
    if not REDIS_URL:
        if os.environ.get("CI_REQUIRE_REDIS") == "1":
            pytest.fail("PUENTE_TEST_REDIS_URL is required in CI")
        pytest.skip("PUENTE_TEST_REDIS_URL is not set: cross-process fan-out not exercised")

    clock.now = datetime.now(UTC)  # the servers check token expiry against the real clock

    async def seed() -> tuple[str, int]:
        from tortoise import Tortoise

        from puente.accounts.service import AuthService

        await _init(database_url)
        try:
            inst = await factories.institution()
            inst.settings = {"env_credentials": True}
            await inst.save()
            ana = await factories.user(runtime, inst)
            loan = await factories.active_loan(inst, ana)
            payment = await factories.payment(
                loan, key="two-processes", provider_reference="pi_two_processes"
            )
            tokens = await AuthService(runtime).login("ana@example.mx", "contrasena-segura-1")
            return tokens.access_token, payment.id  # type: ignore[union-attr]
        finally:
            await Tortoise.close_connections()

    token, payment_id = asyncio.run(seed())
    env = server_env(
        runtime,
        database_url,
        REDIS_URL,
        PUENTE_STRIPE_SECRET_KEY="sk_test_two_processes",
        PUENTE_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    port_a, port_b = free_port(), free_port()
    server_a, server_b = serve(env, port_a), serve(env, port_b)
    try:
        wait_ready(port_a, server_a)
        wait_ready(port_b, server_b)

        async def scenario() -> list[str]:
            statuses: list[str] = []
            ws = await subscribe_ws(
                port_a,
                token,
                "subscription($id: ID!) { paymentStatus(paymentId: $id) { status } }",
                {"id": encode_global_id("Payment", payment_id)},
            )
            async with ws:
                first = json.loads(await asyncio.wait_for(ws.recv(), 10))
                statuses.append(first["payload"]["data"]["paymentStatus"]["status"])
                body = stripe_succeeded("evt_two_processes", "pi_two_processes", 124035)
                header = stripe_signature_header(body, WEBHOOK_SECRET, int(time.time()))
                async with httpx.AsyncClient() as client:
                    answer = await client.post(
                        f"http://127.0.0.1:{port_b}/webhooks/stripe",
                        content=body,
                        headers={"stripe-signature": header, "content-type": "application/json"},
                    )
                    assert answer.status_code == 200, answer.text
                second = json.loads(await asyncio.wait_for(ws.recv(), 15))
                statuses.append(second["payload"]["data"]["paymentStatus"]["status"])
            return statuses

        assert asyncio.run(scenario()) == ["REQUIRES_ACTION", "PAID"]
    finally:
        for server in (server_a, server_b):
            stop(server)
