from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from tests.sandbox.support import Clock, Inbox

from puente_sandbox.stripe import StripeSimulator, create_stripe_sandbox

STRIPE_KEY = "sk_test_sandbox_tests_0123456789"
STRIPE_WHSEC = "whsec_sandbox_tests_0123456789"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class StripeSandbox:
    app: object
    simulator: StripeSimulator
    client: httpx.AsyncClient
    inbox: Inbox
    clock: Clock
    sleeps: list[float]


@pytest.fixture
async def stripe_sandbox() -> AsyncIterator[StripeSandbox]:
    inbox, clock, sleeps = Inbox(), Clock(), []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    app = create_stripe_sandbox(
        {"secret_key": STRIPE_KEY, "webhook_secret": STRIPE_WHSEC},
        "http://puente.test/webhooks/stripe",
        httpx.MockTransport(inbox.handle),
        clock,
        sleep=sleep,
        seed=3,
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://stripe.test",
        headers={"Authorization": f"Bearer {STRIPE_KEY}"},
    )
    async with client:
        yield StripeSandbox(app, app.state.simulator, client, inbox, clock, sleeps)
