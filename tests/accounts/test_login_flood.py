"""A flood of logins must not stall the event loop that acknowledges webhooks (issue 9, #4)."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.conftest import make_settings
from tests.payments.test_webhooks import intent_event, signed
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes
from tests.support.http import app_client

from puente.payments.gateways import store_credentials
from puente.runtime import Runtime
from puente.security.passwords import PasswordPolicy

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"
# Heavy enough that hashing on the loop is plainly visible (tens of ms per login), light
# enough for a shared 2-core machine: one lane, so a hash keeps one core busy, not all.
FLOOD_POLICY = PasswordPolicy(time_cost=3, memory_cost=32768, parallelism=1)
LOGINS_IN_FLIGHT = 8
# Enough samples that p99 is not simply the slowest one: a single stall of the shared
# machine (a GC pause, another process's burst) must not decide the verdict.
SAMPLES = 200
# A loaded CI machine can add tens of milliseconds to anything (one run saw a lone 0.30 s);
# below this the comparison with the baseline is noise. Hashing on the loop put p99 at
# 1.1-1.4 s here, so the floor still separates the defect from its fix.
FLOOR_SECONDS = 0.5

LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { __typename } }"


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def ack_latencies(client, runtime, prefix: str) -> list[float]:
    latencies = []
    for n in range(SAMPLES):
        raw, headers = signed(runtime, intent_event(f"evt_{prefix}_{n}", f"pi_{prefix}_{n}"))
        started = time.perf_counter()
        response = await client.post("/webhooks/stripe", content=raw, headers=headers)
        latencies.append(time.perf_counter() - started)
        assert response.status_code < 300, response.text
        await asyncio.sleep(0.005)
    return latencies


async def test_webhook_acks_stay_fast_while_logins_flood_in(db, database_url, clock):
    runtime = Runtime.from_settings(
        make_settings(database_url), password_policy=FLOOD_POLICY, clock=clock
    )
    inst = await factories.institution()
    emails = [f"persona{n}@example.mx" for n in range(LOGINS_IN_FLIGHT)]
    for email in emails:
        await factories.user(runtime, inst, email=email)
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    box = sandboxes(runtime)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        baseline = await ack_latencies(client, runtime, "quiet")
        stop = asyncio.Event()
        logins: list[str] = []

        async def keep_logging_in(email: str) -> None:
            variables = {"e": email, "p": PASSWORD}
            while not stop.is_set():
                response = await client.post(
                    "/graphql", json={"query": LOGIN, "variables": variables}
                )
                logins.append(response.json()["data"]["login"]["__typename"])

        flood = [asyncio.create_task(keep_logging_in(email)) for email in emails]
        await asyncio.sleep(0.2)  # let the flood build up
        try:
            under_flood = await ack_latencies(client, runtime, "flood")
        finally:
            stop.set()
            await asyncio.gather(*flood)
    assert logins and set(logins) == {"AuthTokens"}
    limit = max(2 * p99(baseline), FLOOR_SECONDS)
    assert p99(under_flood) <= limit, (p99(baseline), p99(under_flood))
