"""Two server processes and Redis: an event processed in one reaches a subscriber of the other."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from tests.conftest import _init
from tests.support import factories

from puente.enums import PaymentMethodType, PaymentStatus, ProviderName
from puente.graphql.types import encode_global_id
from puente.payments.models import Payment
from puente.providers.stripe_webhooks import stripe_signature_header

REDIS_URL = os.environ.get("PUENTE_TEST_REDIS_URL", "")
WEBHOOK_SECRET = "whsec_two_processes_0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(env: dict[str, str], port: int) -> subprocess.Popen:
    puente = str(Path(sys.executable).with_name("puente"))
    return subprocess.Popen(
        [puente, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_ready(port: int, server: subprocess.Popen) -> None:
    for _ in range(150):
        if server.poll() is not None:
            raise RuntimeError(server.stderr.read().decode() if server.stderr else "exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not become ready")


def test_a_payment_processed_by_one_process_reaches_a_subscriber_on_the_other(
    database_url, runtime, clock
):
    if not REDIS_URL:
        if os.environ.get("CI_REQUIRE_REDIS") == "1":
            pytest.fail("PUENTE_TEST_REDIS_URL is required in CI")
        pytest.skip("PUENTE_TEST_REDIS_URL is not set: cross-process fan-out not exercised")
    import websockets

    settings = runtime.settings
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
            payment = await Payment.create(
                institution_id=inst.id,
                loan_id=loan.id,
                user_id=ana.id,
                provider=ProviderName.STRIPE,
                method=PaymentMethodType.SPEI,
                amount_centavos=124035,
                status=PaymentStatus.REQUIRES_ACTION,
                idempotency_key="two-processes",
                request_fingerprint="x",
                provider_reference="pi_two_processes",
            )
            tokens = await AuthService(runtime).login("ana@example.mx", "contrasena-segura-1")
            return tokens.access_token, payment.id  # type: ignore[union-attr]
        finally:
            await Tortoise.close_connections()

    token, payment_id = asyncio.run(seed())
    keys = ",".join(
        f"{kid}:{base64.urlsafe_b64encode(raw).decode()}" for kid, raw in settings.encryption_keys
    )
    env = {
        **os.environ,
        "PUENTE_DATABASE_URL": database_url,
        "PUENTE_REDIS_URL": REDIS_URL,
        "PUENTE_SECRET_KEY": settings.secret_key,
        "PUENTE_ENCRYPTION_KEYS": keys,
        "PUENTE_STRIPE_SECRET_KEY": "sk_test_two_processes",
        "PUENTE_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PUENTE_COOKIE_SECURE": "0",
    }
    port_a, port_b = _free_port(), _free_port()
    server_a, server_b = _serve(env, port_a), _serve(env, port_b)
    try:
        _wait_ready(port_a, server_a)
        _wait_ready(port_b, server_b)

        async def scenario() -> list[str]:
            statuses: list[str] = []
            async with websockets.connect(
                f"ws://127.0.0.1:{port_a}/graphql", subprotocols=["graphql-transport-ws"]
            ) as ws:
                await ws.send(
                    json.dumps(
                        {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
                    )
                )
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                await ws.send(
                    json.dumps(
                        {
                            "id": "1",
                            "type": "subscribe",
                            "payload": {
                                "query": "subscription($id: ID!) { paymentStatus(paymentId: $id) "
                                "{ status } }",
                                "variables": {"id": encode_global_id("Payment", payment_id)},
                            },
                        }
                    )
                )
                first = json.loads(await asyncio.wait_for(ws.recv(), 10))
                statuses.append(first["payload"]["data"]["paymentStatus"]["status"])
                body = json.dumps(
                    {
                        "id": "evt_two_processes",
                        "object": "event",
                        "type": "payment_intent.succeeded",
                        "created": int(time.time()),
                        "data": {
                            "object": {
                                "id": "pi_two_processes",
                                "object": "payment_intent",
                                "amount": 124035,
                                "currency": "mxn",
                                "status": "succeeded",
                            }
                        },
                    }
                ).encode()
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
            server.terminate()
            server.wait(timeout=10)
            if server.stderr is not None:
                server.stderr.close()
