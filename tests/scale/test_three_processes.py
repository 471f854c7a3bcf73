"""Three `puente serve` processes on one PostgreSQL and one Redis, one killed with kill -9
in the middle of a webhook storm: nothing acknowledged is lost, nothing is applied twice,
and subscribers on the surviving processes keep receiving."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from datetime import UTC, datetime

import httpx
import pytest
from tests.conftest import PRIVATE_POSTGRES, _init
from tests.support import factories
from tests.support.books import books_total
from tests.support.servers import (
    free_port,
    serve,
    server_env,
    stop,
    stripe_succeeded,
    subscribe_ws,
    wait_ready,
)

from puente.enums import JournalKind, PaymentStatus
from puente.graphql.types import encode_global_id
from puente.ledger.models import JournalEntry
from puente.payments.models import Payment
from puente.providers.stripe_webhooks import stripe_signature_header
from puente.webhooks.models import ProviderEvent

REDIS_URL = os.environ.get("PUENTE_TEST_REDIS_URL", "")
WEBHOOK_SECRET = "whsec_three_processes_0123456789"
PAYMENTS = 45
WATCHED = 4  # payments each surviving process's subscriber watches


async def _subscribe(port: int, token: str, payment_id: int) -> tuple[object, dict]:
    ws = await subscribe_ws(
        port,
        token,
        "subscription($id: ID!) { paymentStatus(paymentId: $id) { status } }",
        {"id": encode_global_id("Payment", payment_id)},
        sub_id=str(payment_id),
    )
    return ws, {str(payment_id): []}


async def _listen(ws, seen: dict[str, list[str]], until: float) -> None:
    while time.monotonic() < until and not all("PAID" in s for s in seen.values()):
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
        except TimeoutError:
            continue
        if message.get("type") == "next":
            assert message["payload"].get("data"), message
            seen[message["id"]].append(message["payload"]["data"]["paymentStatus"]["status"])


@pytest.mark.parametrize("database_url", [PRIVATE_POSTGRES], indirect=True)
def test_kill_9_of_one_process_under_a_webhook_storm_loses_and_repeats_nothing(
    database_url, runtime, clock
):
    if not REDIS_URL:
        if os.environ.get("CI_REQUIRE_REDIS") == "1":
            pytest.fail("PUENTE_TEST_REDIS_URL is required in CI")
        pytest.skip("PUENTE_TEST_REDIS_URL is not set: cross-process fan-out not exercised")
    clock.now = datetime.now(UTC)  # the servers check token expiry against the real clock

    async def seed() -> tuple[str, list[int]]:
        from tortoise import Tortoise

        from puente.accounts.service import AuthService

        await _init(database_url)
        try:
            inst = await factories.institution()
            inst.settings = {"env_credentials": True}
            await inst.save()
            ana = await factories.user(runtime, inst)
            loan = await factories.active_loan(inst, ana, principal="50000.00")
            ids = []
            for n in range(PAYMENTS):
                payment = await factories.payment(
                    loan,
                    key=f"storm-{n}",
                    amount_centavos=10000,
                    provider_reference=f"pi_storm_{n}",
                )
                ids.append(payment.id)
            tokens = await AuthService(runtime).login("ana@example.mx", "contrasena-segura-1")
            return tokens.access_token, ids  # type: ignore[union-attr]
        finally:
            await Tortoise.close_connections()

    token, payment_ids = asyncio.run(seed())
    env = server_env(
        runtime,
        database_url,
        REDIS_URL,
        PUENTE_STRIPE_SECRET_KEY="sk_test_three_processes",
        PUENTE_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        PUENTE_WEBHOOK_LEASE_SECONDS="2",
        PUENTE_ACCESS_LOG="0",
    )
    ports = [free_port() for _ in range(3)]
    servers = [serve(env, port) for port in ports]
    victim = 1
    try:
        for port, server in zip(ports, servers, strict=True):
            wait_ready(port, server)

        async def storm() -> tuple[set[int], dict[int, int], list[dict[str, list[str]]]]:
            survivors = [ports[0], ports[2]]
            # Each survivor's subscriber watches payments whose webhooks go to the others.
            watched = [
                payment_ids[1::3][:WATCHED] + payment_ids[2::3][:1],
                payment_ids[0::3][:WATCHED] + payment_ids[1::3][WATCHED : WATCHED + 1],
            ]
            sockets = [
                await _subscribe(port, token, payment_id)
                for port, ids in zip(survivors, watched, strict=True)
                for payment_id in ids
            ]
            for ws, seen in sockets:  # the current state comes first
                await _listen(ws, seen, time.monotonic() + 0.5)
            acked: set[int] = set()
            acks_by_server: dict[int, int] = {0: 0, 1: 0, 2: 0}
            async with httpx.AsyncClient(timeout=10) as client:

                async def deliver(n: int) -> None:
                    body = stripe_succeeded(f"evt_storm_{n}", f"pi_storm_{n}", 10000)
                    target = n % 3
                    for _attempt in range(6):  # a provider retries a failed delivery
                        header = stripe_signature_header(body, WEBHOOK_SECRET, int(time.time()))
                        try:
                            answer = await client.post(
                                f"http://127.0.0.1:{ports[target]}/webhooks/stripe",
                                content=body,
                                headers={
                                    "stripe-signature": header,
                                    "content-type": "application/json",
                                },
                            )
                        except httpx.HTTPError:
                            target = (target + 1) % 3
                            await asyncio.sleep(0.1)
                            continue
                        if answer.status_code == 200:
                            acked.add(n)
                            acks_by_server[target] += 1
                            return
                        target = (target + 1) % 3
                    raise AssertionError(f"event {n} was never acknowledged")

                first = [deliver(n) for n in range(PAYMENTS // 3)]
                await asyncio.gather(*first)
                rest = asyncio.gather(*(deliver(n) for n in range(PAYMENTS // 3, PAYMENTS)))
                await asyncio.sleep(0.05)
                os.kill(servers[victim].pid, signal.SIGKILL)  # mid-storm, no goodbye
                await rest
            until = time.monotonic() + 60
            await asyncio.gather(*(_listen(ws, seen, until) for ws, seen in sockets))
            for ws, _ in sockets:
                await ws.close()
            return acked, acks_by_server, [seen for _, seen in sockets]  # one per subscriber

        acked, acks_by_server, seen = asyncio.run(storm())
        servers[victim].wait(timeout=10)
        assert servers[victim].returncode == -signal.SIGKILL
        assert acks_by_server[victim] > 0  # the victim had stored events when it died
        assert acked == set(range(PAYMENTS))

        async def books() -> tuple[list[str], int, int, int]:
            from tortoise import Tortoise

            await _init(database_url)
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    statuses = await Payment.filter(id__in=payment_ids).values_list(
                        "status", flat=True
                    )
                    if all(s == PaymentStatus.PAID for s in statuses):
                        break
                    await asyncio.sleep(0.5)
                stored = await ProviderEvent.filter(event_id__startswith="evt_storm_").count()
                entries = await JournalEntry.filter(
                    kind=JournalKind.PAYMENT, payment_id__in=payment_ids
                ).count()
                return [str(s) for s in statuses], stored, entries, await books_total()
            finally:
                await Tortoise.close_connections()

        statuses, stored, entries, total = asyncio.run(books())
        assert statuses == [PaymentStatus.PAID.value] * PAYMENTS  # nothing acknowledged lost
        assert stored == PAYMENTS  # each event stored once, whoever received its retries
        assert entries == PAYMENTS  # each payment applied exactly once
        assert total == 0  # the books balance
        for watched in seen:  # subscribers on the surviving processes kept receiving
            assert all(statuses[-1] == "PAID" for statuses in watched.values()), watched
    finally:
        for server in servers:
            stop(server)  # kills one not stopped 10 s after SIGTERM (test_graceful_shutdown)
