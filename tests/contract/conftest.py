"""One harness per registered connector: the connector talking to its own simulator in-process.

Adding a provider to the contract suite is one line in ``CASES``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from puente.providers.base import NormalisedEvent, PaymentGateway, ProviderConfig
from puente.providers.circuit import CircuitBreakers, CircuitPolicy
from puente.providers.http import RetryPolicy, TimeoutPolicy
from puente.providers.metrics import ProviderMetrics
from puente.providers.registry import get_connector_class, get_sandbox_factory
from puente.sandbox.core import Simulator


def _stripe_unknown_event(timestamp: int) -> bytes:
    event = {
        "id": "evt_contract_unknown",
        "object": "event",
        "api_version": "2024-06-20",
        "created": timestamp,
        "data": {"object": {"id": "xyz_1", "object": "brand_new_thing"}},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "brand_new_thing.happened",
    }
    return json.dumps(event).encode()


@dataclass(frozen=True)
class ContractCase:
    """What the suite needs to know about one provider; everything else is generic."""

    name: str
    credentials: Mapping[str, str]
    wrong_credentials: Mapping[str, str]
    success_token: str
    declined_token: str
    insufficient_funds_token: str
    expired_card_token: str
    unknown_event: Callable[[int], bytes]  # a body of an event type Puente does not know


CASES = [
    ContractCase(
        "stripe",
        {"secret_key": "sk_test_contract_0123456789", "webhook_secret": "whsec_contract_987654321"},
        {"secret_key": "sk_test_wrong_key_00000000", "webhook_secret": "whsec_contract_987654321"},
        "tok_visa",
        "tok_chargeDeclined",
        "tok_chargeDeclinedInsufficientFunds",
        "tok_chargeDeclinedExpiredCard",
        _stripe_unknown_event,
    ),
]


class FakeClock:
    """A monotonic clock the test moves by hand (circuit breaker timing)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class WebhookInbox:
    """Stands in for Puente's webhook endpoint: records deliveries, answers ``status``."""

    status: int = 200
    received: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        return httpx.Response(self.status)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


@dataclass
class Harness:
    """A connector, its simulator and the knobs a contract test turns."""

    case: ContractCase
    app: Any
    simulator: Simulator
    inbox: WebhookInbox
    clock: FakeClock
    metrics: ProviderMetrics
    breakers: CircuitBreakers
    sleeps: list[float]
    connectors: list[PaymentGateway] = field(default_factory=list)

    def connector(
        self,
        credentials: Mapping[str, str] | None = None,
        *,
        timeout: TimeoutPolicy | None = None,
        circuit: CircuitPolicy | None = None,
    ) -> PaymentGateway:
        config = ProviderConfig(
            credentials=credentials or self.case.credentials,
            base_url="http://sandbox.test",
            transport=httpx.ASGITransport(app=self.app),
            timeout=timeout or TimeoutPolicy(total=5.0),
            retry=RetryPolicy(max_attempts=3),
            circuit=circuit or CircuitPolicy(failure_threshold=3, reset_after=30.0),
        )

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        cls = get_connector_class(self.case.name)
        assert issubclass(cls, PaymentGateway)
        connector = cls(
            config,
            metrics=self.metrics,
            breakers=self.breakers,
            sleep=sleep,
            random=lambda: 0.5,
            clock=self.clock,
        )
        self.connectors.append(connector)
        return connector

    async def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the simulator's admin endpoints the way the sandbox page and CLI do."""
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as c:
            return await c.request(method, path, **kwargs)

    def events(self, connector: PaymentGateway) -> list[NormalisedEvent]:
        """Every delivered webhook, verified and normalised by the connector."""
        return [connector.verify_webhook(r.content, r.headers) for r in self.inbox.received]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=CASES, ids=[case.name for case in CASES])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    case: ContractCase = request.param
    inbox = WebhookInbox()
    factory = get_sandbox_factory(case.name)
    app = factory(
        case.credentials,
        f"http://puente.test/webhooks/{case.name}",
        inbox.transport,
        time.time,
        seed=7,
        webhook_retry_delays=(0.0, 0.0),
    )
    yield Harness(
        case=case,
        app=app,
        simulator=app.state.simulator,
        inbox=inbox,
        clock=FakeClock(),
        metrics=ProviderMetrics(),
        breakers=CircuitBreakers(),
        sleeps=[],
    )
