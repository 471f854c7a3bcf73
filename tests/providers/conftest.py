from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from puente.providers.base import ProviderConfig
from puente.providers.circuit import CircuitBreakers
from puente.providers.metrics import ProviderMetrics
from puente.providers.stripe import StripeConnector

SECRET_KEY = "sk_test_51UnitTestSecretKey0000"
WEBHOOK_SECRET = "whsec_unit_test_secret_0000"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def stripe_factory() -> Callable[..., StripeConnector]:
    """A Stripe connector whose network is ``handler`` (an httpx.MockTransport function)."""

    def build(handler: Callable[[httpx.Request], httpx.Response], **config: object):
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        connector = StripeConnector(
            ProviderConfig(
                credentials={"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET},
                transport=httpx.MockTransport(handler),
                **config,  # type: ignore[arg-type]
            ),
            metrics=ProviderMetrics(),
            breakers=CircuitBreakers(),
            sleep=sleep,
            random=lambda: 0.0,
        )
        connector.sleeps = sleeps  # type: ignore[attr-defined]
        return connector

    return build
