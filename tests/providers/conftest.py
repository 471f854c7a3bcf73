from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint

import pytest
from tests.providers.support import Handler, mock_connector
from tests.providers.toy_provider import TOY_BANK_ENTRY_POINT, TOY_ENTRY_POINT

from puente.providers.registry import default_registry
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


@pytest.fixture
def toy_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The toy plug-ins (a gateway and a bank) declared as ``puente.providers`` entry points."""
    points = [
        EntryPoint("toy", TOY_ENTRY_POINT, "puente.providers"),
        EntryPoint("toybank", TOY_BANK_ENTRY_POINT, "puente.providers"),
    ]
    monkeypatch.setattr(default_registry, "_discovered", lambda: points)
    yield
    for name in ("toy", "toybank"):
        default_registry._cache.pop(name, None)  # resolved connectors are cached by name
