"""One harness per registered connector: the connector talking to its own simulator in-process.

Adding a provider to the contract suite is one line in ``CASES``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from puente.providers.base import NormalisedEvent, PaymentGateway, ProviderConfig
from puente.providers.circuit import CircuitBreakers, CircuitPolicy
from puente.providers.http import RetryPolicy, TimeoutPolicy
from puente.providers.metrics import ProviderMetrics
from puente.providers.registry import get_connector_class
from puente_sandbox.conekta import sandbox_webhook_public_key
from puente_sandbox.core import Simulator
from puente_sandbox.paypal_buyer import act_as_sandbox_buyer
from puente_sandbox.registry import simulator_factory


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
    # Changes a delivered body so its signature no longer holds; None when the provider
    # authenticates the sender (HTTP Basic) instead of signing the body, so neither tampering
    # nor age can be detected.
    tamper: Callable[[bytes], bytes] | None = lambda body: body.replace(b"succeeded", b"failed!!!")
    # For webhooks that only name an object (Mercado Pago): the connector's follow-up GET that
    # gives a verified event its kind, as Puente's webhook processing does before acting.
    resolve_event: (
        Callable[[PaymentGateway, NormalisedEvent], Awaitable[NormalisedEvent]] | None
    ) = None
    # For providers where a token exists only after the payer approves on the provider's page
    # (PayPal): installs a sandbox payer on the connector that approves before each charge.
    payer: Callable[[Harness, PaymentGateway], None] | None = None


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
    ContractCase(
        "conekta",
        {"private_key": "key_contract_0123456789", "webhook_key": sandbox_webhook_public_key()},
        {"private_key": "key_wrong_key_000000000", "webhook_key": sandbox_webhook_public_key()},
        "tok_test_visa_4242",
        "tok_test_card_declined",
        "tok_test_insufficient_funds",
        "tok_test_expired_card",
        lambda ts: json.dumps(
            {
                "id": "6f0c0ffee0c0ffee0c0ffee0",
                "object": "event",
                "type": "brand_new.thing",
                "created_at": ts,
                "livemode": False,
                "data": {"object": {"id": "x_1"}, "previous_attributes": {}},
            }
        ).encode(),
        tamper=lambda body: body.replace(b'"paid"', b'"void"'),
    ),
    ContractCase(
        "openpay",
        {
            "merchant_id": "mcontract0123456789a",
            "private_key": "sk_contract_0123456789abcdef",
            "webhook_user": "puente",
            "webhook_password": "contract-webhook-pass-0123",
        },
        {
            "merchant_id": "mcontract0123456789a",
            "private_key": "sk_wrong_key_000000000000000",
            "webhook_user": "puente",
            "webhook_password": "contract-webhook-pass-0123",
        },
        "tok_test_4111111111111111",
        "tok_test_4222222222222220",
        "tok_test_4444444444444448",
        "tok_test_4000000000000069",
        lambda ts: json.dumps(
            {
                "type": "brand.new.thing",
                "event_date": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts)),
                "transaction": {"id": "trcontractunknown001"},
            }
        ).encode(),
        tamper=None,  # HTTP Basic: Openpay signs neither the body nor a timestamp
    ),
    ContractCase(
        "mercadopago",
        {
            "access_token": "TEST-1523846091-contract-0123456789",
            "webhook_secret": "mp_whsec_987654",
        },
        {"access_token": "TEST-1523846091-wrong-00000000000", "webhook_secret": "mp_whsec_987654"},
        "test_visa_APRO",  # the cardholder name sets the outcome in Mercado Pago's test mode
        "test_visa_OTHE",
        "test_visa_FUND",
        "test_visa_EXPI",
        lambda ts: json.dumps(
            {
                "id": 990000001,
                "live_mode": False,
                "type": "brand_new_topic",
                "date_created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)),
                "api_version": "v1",
                "action": "brand_new_topic.created",
                "data": {"id": "abc123"},
            }
        ).encode(),
        # Only data.id is signed (the body is a hint to fetch the payment): change that.
        tamper=lambda body: json.dumps({**json.loads(body), "data": {"id": "1"}}).encode(),
        resolve_event=lambda connector, event: connector.resolve_event(event),  # type: ignore[attr-defined]
    ),
    ContractCase(
        "paypal",
        {
            "client_id": "AZcontract-0123456789",
            "client_secret": "EPcontract-0123456789",
            "webhook_id": "WH-CONTRACT-8PT597110X",
        },
        {
            "client_id": "AZcontract-0123456789",
            "client_secret": "EPwrong-secret-00000000",
            "webhook_id": "WH-CONTRACT-8PT597110X",
        },
        "Ana Lopez",  # the name on the card the sandbox buyer approves with
        "CCREJECT-REFUSED",  # PayPal's sandbox rejection triggers
        "CCREJECT-IF",
        "CCREJECT-EC",
        lambda ts: json.dumps(
            {
                "id": "WH-CONTRACT-UNKNOWN-0001",
                "event_version": "1.0",
                "create_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)),
                "resource_type": "thing",
                "event_type": "BRAND.NEW.THING",
                "resource": {"id": "X1"},
            }
        ).encode(),
        tamper=lambda body: body.replace(b"COMPLETED", b"DECLINED!"),
        resolve_event=lambda connector, event: connector.resolve_event(event),  # type: ignore[attr-defined]
        payer=lambda harness, connector: act_as_sandbox_buyer(connector, harness.simulator),  # type: ignore[arg-type]
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
        if self.case.payer is not None:
            self.case.payer(self, connector)
        self.connectors.append(connector)
        return connector

    async def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the simulator's admin endpoints the way the sandbox page and CLI do."""
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as c:
            return await c.request(method, path, **kwargs)

    async def events(self, connector: PaymentGateway) -> list[NormalisedEvent]:
        """Every delivered webhook, verified and normalised (and resolved) by the connector."""
        events = [await connector.verify_webhook(r.content, r.headers) for r in self.inbox.received]
        if self.case.resolve_event is None:
            return events
        return [await self.case.resolve_event(connector, event) for event in events]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=CASES, ids=[case.name for case in CASES])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    case: ContractCase = request.param
    inbox = WebhookInbox()
    factory = simulator_factory(case.name)
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
