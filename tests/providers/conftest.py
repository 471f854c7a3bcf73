from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.providers.support import Handler, mock_connector

from puente.providers.stripe import StripeConnector

SECRET_KEY = "sk_test_51UnitTestSecretKey0000"
WEBHOOK_SECRET = "whsec_unit_test_secret_0000"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def stripe_factory() -> Callable[..., StripeConnector]:
    """A Stripe connector whose network is ``handler`` (an httpx.MockTransport function)."""

    def build(handler: Handler, **config: object) -> StripeConnector:
        credentials = {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}
        return mock_connector(StripeConnector, credentials, handler, config=config)

    return build
