"""The behaviour every bank connector must show against its simulator (STP, the generic bank).

The gateway suite's style, for ``Bank`` connectors: one ``BankCase`` per provider in
``BANK_CASES``, one ``bank_harness`` fixture parametrised over them, and scenarios that only
speak the ``Bank`` interface plus ``get_transfer(clave_rastreo)``, which both connectors offer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.contract.conftest import FakeClock, WebhookInbox

from puente.providers.base import (
    AuthenticationError,
    Bank,
    CircuitOpen,
    EventKind,
    InvalidRequest,
    InvalidSignature,
    MalformedWebhook,
    MovementDirection,
    NormalisedEvent,
    ProviderConfig,
    ProviderUnavailable,
    SpeiTransferRequest,
    StaleSignature,
    TransferStatus,
)
from puente.providers.circuit import CircuitBreakers, CircuitPolicy, CircuitState
from puente.providers.http import RetryPolicy, TimeoutPolicy
from puente.providers.metrics import ProviderMetrics
from puente.providers.registry import get_connector_class
from puente_sandbox.bank import DEFAULT_BANK_CREDENTIALS
from puente_sandbox.core import Simulator
from puente_sandbox.registry import simulator_factory
from puente_sandbox.stp_keys import DEFAULT_STP_CREDENTIALS

pytestmark = pytest.mark.anyio
HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)
BENEFICIARY = "012180001234567899"
RETURNED = "014180000000000000"


def _other_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return pem.decode()


@dataclass(frozen=True)
class BankCase:
    """What the suite needs to know about one bank; everything else is generic."""

    name: str
    credentials: Mapping[str, str]
    wrong_credentials: Mapping[str, str]
    secret_field: str  # the credential that must never leak into an error
    incoming_path: str  # admin route announcing an incoming SPEI
    incoming_amount_field: str
    unknown_event: Callable[[int], bytes]
    client_ip: str = "127.0.0.1"  # where the simulator's callbacks come from
    outsider_ip: str | None = None  # a source the connector must refuse (IP-trusting banks)
    signs_bodies: bool = True  # a tampered body is detectable
    stale_after: float = 300.0
    uses_oauth: bool = False


def _stp_unknown(timestamp: int) -> bytes:
    return b'{"id": 99, "tipo": "nuevo_aviso"}'


def _bank_unknown(timestamp: int) -> bytes:
    event = {"id": "evt_unknown", "type": "account.renamed", "created_at": timestamp, "data": {}}
    import json

    return json.dumps(event).encode()


STP_CREDENTIALS = {
    **DEFAULT_STP_CREDENTIALS,
    "webhook_allowlist": "127.0.0.1/32, 10.0.0.0/8",
    "webhook_secret": "stp-callback:contract-secret-1",
}
BANK_CASES = [
    BankCase(
        "stp",
        STP_CREDENTIALS,
        {**STP_CREDENTIALS, "private_key_pem": _other_key()},
        "private_key_pem",
        "/_abonos",
        "monto",
        _stp_unknown,
        outsider_ip="203.0.113.50",
        signs_bodies=False,  # STP does not sign: the source and the shared secret are the proof
        stale_after=3 * 24 * 3600.0,
    ),
    BankCase(
        "bank",
        DEFAULT_BANK_CREDENTIALS,
        {**DEFAULT_BANK_CREDENTIALS, "client_secret": "bank_wrong_secret_11111"},
        "client_secret",
        "/_deposits",
        "amount",
        _bank_unknown,
        uses_oauth=True,
    ),
]


@dataclass
class BankHarness:
    """A bank connector, its simulator and the knobs a contract test turns."""

    case: BankCase
    app: Any
    simulator: Simulator
    inbox: WebhookInbox
    clock: FakeClock
    metrics: ProviderMetrics
    breakers: CircuitBreakers
    sleeps: list[float]
    connectors: list[Bank] = field(default_factory=list)

    def connector(
        self, credentials: Mapping[str, str] | None = None, *, circuit: CircuitPolicy | None = None
    ) -> Bank:
        config = ProviderConfig(
            credentials=credentials or self.case.credentials,
            base_url="http://sandbox.test",
            transport=httpx.ASGITransport(app=self.app),
            timeout=TimeoutPolicy(total=5.0),
            retry=RetryPolicy(max_attempts=3),
            circuit=circuit or CircuitPolicy(failure_threshold=3, reset_after=30.0),
        )

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        cls = get_connector_class(self.case.name)
        assert issubclass(cls, Bank)
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
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as c:
            return await c.request(method, path, **kwargs)

    async def verify(self, connector: Bank, body: bytes, headers: Mapping[str, str], **kw: Any):
        kw.setdefault("client_ip", self.case.client_ip)
        return await connector.verify_webhook(body, headers, **kw)

    async def events(self, connector: Bank) -> list[NormalisedEvent]:
        return [await self.verify(connector, r.content, r.headers) for r in self.inbox.received]


@pytest.fixture(params=BANK_CASES, ids=[case.name for case in BANK_CASES])
def bank_harness(request: pytest.FixtureRequest) -> Iterator[BankHarness]:
    case: BankCase = request.param
    inbox = WebhookInbox()
    app = simulator_factory(case.name)(
        case.credentials,
        f"http://puente.test/webhooks/{case.name}",
        inbox.transport,
        time.time,
        seed=7,
        webhook_retry_delays=(0.0, 0.0),
        settle_after=None,  # the tests settle on demand
    )
    yield BankHarness(
        case, app, app.state.simulator, inbox, FakeClock(), ProviderMetrics(), CircuitBreakers(), []
    )


def _transfer(key: str, clabe: str = BENEFICIARY, amount: str = "150.00") -> SpeiTransferRequest:
    return SpeiTransferRequest(
        amount=Decimal(amount),
        clabe=clabe,
        beneficiary_name="Ana López García",
        concept="Disposición préstamo 42",
        idempotency_key=key,
    )


async def _debits(connector: Any) -> list[Any]:
    moves = await connector.list_movements(HOUR_AGO)
    return [m for m in moves if m.direction is MovementDirection.DEBIT]


async def test_spei_transfer_settles_and_is_announced(bank_harness: BankHarness) -> None:
    h = bank_harness
    async with h.connector() as connector:
        before = await connector.get_balance()
        transfer = await connector.send_spei(_transfer("disb-1"))
        assert transfer.status is TransferStatus.PENDING and transfer.clave_rastreo
        held = await connector.get_balance()
        assert held.available == before.available - Decimal("150.00")
        assert (await h.admin("POST", "/_settle")).status_code == 200
        settled = await connector.get_transfer(transfer.clave_rastreo)
        assert settled.status is TransferStatus.SUCCEEDED
        assert settled.provider_id == transfer.provider_id
        after = await connector.get_balance()
        assert after.ledger == (before.ledger or before.available) - Decimal("150.00")
        debits = await _debits(connector)
        assert [(d.amount, d.clave_rastreo) for d in debits] == [
            (Decimal("150.00"), transfer.clave_rastreo)
        ]
        kinds = {(e.kind, e.provider_payment_id) for e in await h.events(connector)}
    assert (EventKind.TRANSFER_SUCCEEDED, transfer.provider_id) in kinds


async def test_transfer_to_a_closed_account_comes_back(bank_harness: BankHarness) -> None:
    h = bank_harness
    async with h.connector() as connector:
        before = await connector.get_balance()
        transfer = await connector.send_spei(_transfer("disb-2", RETURNED))
        await h.admin("POST", "/_settle")
        returned = await connector.get_transfer(transfer.clave_rastreo or "")
        assert returned.status is TransferStatus.RETURNED and returned.failure_message
        assert (await connector.get_balance()).available == before.available
        assert await _debits(connector) == []
        kinds = {(e.kind, e.provider_payment_id) for e in await h.events(connector)}
    assert (EventKind.TRANSFER_FAILED, transfer.provider_id) in kinds


async def test_incoming_transfer_arrives_as_a_verified_event(bank_harness: BankHarness) -> None:
    h = bank_harness
    async with h.connector() as connector:
        before = await connector.get_balance()
        created = await h.admin(
            "POST", h.case.incoming_path, json={h.case.incoming_amount_field: "500.00"}
        )
        reference = created.json()["id"]
        pending = {r.id: r for r in h.simulator.pending_references()}
        assert pending[reference].method == "spei" and pending[reference].clabe
        assert (await h.admin("POST", f"/_references/{reference}/pay")).status_code == 200
        received = [e for e in await h.events(connector) if e.kind is EventKind.TRANSFER_RECEIVED]
        assert [e.amount for e in received] == [Decimal("500.00")]
        after = await connector.get_balance()
        assert after.available == before.available + Decimal("500.00")
        credits = [
            m for m in await connector.list_movements(HOUR_AGO) if m.direction.value == "credit"
        ]
    assert [c.amount for c in credits] == [Decimal("500.00")]
    assert reference not in {r.id for r in h.simulator.pending_references()}


async def test_invalid_clabe_is_refused_before_the_bank(bank_harness: BankHarness) -> None:
    async with bank_harness.connector() as connector:
        seen = bank_harness.simulator.faults.api_requests
        with pytest.raises(InvalidRequest):
            await connector.send_spei(_transfer("disb-3", "012180001234567890"))
        assert bank_harness.simulator.faults.api_requests == seen
        holder = await connector.validate_account_holder("012180001234567890")
        good = await connector.validate_account_holder(BENEFICIARY, name="Ana López García")
    assert holder.valid is False
    assert good.valid is True and good.bank_name


async def test_bad_credentials_are_an_authentication_error(bank_harness: BankHarness) -> None:
    wrong = bank_harness.case.wrong_credentials
    async with bank_harness.connector(wrong) as connector:
        with pytest.raises(AuthenticationError) as caught:
            await connector.send_spei(_transfer("disb-4"))
    secret = wrong[bank_harness.case.secret_field]
    error = caught.value
    assert secret not in str(error) and secret not in repr(error) and secret not in repr(error.raw)
    assert error.provider_code is not None


async def test_callbacks_valid_forged_stale_and_malformed(bank_harness: BankHarness) -> None:
    h = bank_harness
    async with h.connector() as connector:
        await connector.send_spei(_transfer("disb-5"))
        await h.admin("POST", "/_settle")
        delivery = h.inbox.received[-1]
        body, headers = delivery.content, dict(delivery.headers)
        event = await h.verify(connector, body, headers)
        assert event.provider == h.case.name and event.event_id
        assert event.kind is EventKind.TRANSFER_SUCCEEDED
        signature = h.simulator.sign_webhook(body, int(time.time()))
        names = {name.lower() for name in signature}
        bare = {k: v for k, v in headers.items() if k.lower() not in names}
        forged = {**bare, **{k: v.replace(v[-6:], "000000") for k, v in signature.items()}}
        with pytest.raises(InvalidSignature):
            await h.verify(connector, body, forged)
        if h.case.signs_bodies:
            with pytest.raises(InvalidSignature):
                await h.verify(connector, body.replace(b'"id"', b'"Id"', 1), headers)
        if h.case.outsider_ip:
            with pytest.raises(InvalidSignature):
                await h.verify(connector, body, headers, client_ip=h.case.outsider_ip)
        later = datetime.now(UTC) + timedelta(seconds=h.case.stale_after + 60)
        with pytest.raises(StaleSignature):
            await h.verify(connector, body, headers, now=later)
        with pytest.raises(MalformedWebhook):
            await h.verify(connector, body, bare)


async def test_unknown_callback_is_acknowledged_not_fatal(
    bank_harness: BankHarness, caplog: pytest.LogCaptureFixture
) -> None:
    now = int(time.time())
    body = bank_harness.case.unknown_event(now)
    headers = bank_harness.simulator.sign_webhook(body, now)
    async with bank_harness.connector() as connector:
        with caplog.at_level("INFO", logger="puente.providers"):
            event = await bank_harness.verify(connector, body, headers)
    assert event.kind is EventKind.UNKNOWN
    assert "unknown type" in caplog.text


async def test_5xx_then_success_with_the_same_key_moves_money_once(
    bank_harness: BankHarness,
) -> None:
    bank_harness.simulator.faults.fail_next = 2
    async with bank_harness.connector() as connector:
        transfer = await connector.send_spei(_transfer("disb-6"))
        assert transfer.status is TransferStatus.PENDING
        assert len(bank_harness.sleeps) == 2
        await bank_harness.admin("POST", "/_settle")
        assert len(await _debits(connector)) == 1


async def test_lost_answer_is_not_a_second_transfer(bank_harness: BankHarness) -> None:
    bank_harness.simulator.faults.lose_next = 1  # the bank registered it; the answer was lost
    async with bank_harness.connector() as connector:
        transfer = await connector.send_spei(_transfer("disb-7"))
        again = await connector.send_spei(_transfer("disb-7"))  # the service retries later
        assert again.provider_id == transfer.provider_id
        await bank_harness.admin("POST", "/_settle")
        assert len(await _debits(connector)) == 1


async def test_outage_longer_than_retries_then_the_same_key_moves_money_once(
    bank_harness: BankHarness,
) -> None:
    bank_harness.simulator.faults.fail_next = 3
    async with bank_harness.connector(circuit=CircuitPolicy(failure_threshold=10)) as connector:
        with pytest.raises(ProviderUnavailable) as caught:
            await connector.send_spei(_transfer("disb-8"))
        assert caught.value.retryable is True
        await connector.send_spei(_transfer("disb-8"))
        await bank_harness.admin("POST", "/_settle")
        assert len(await _debits(connector)) == 1


async def test_circuit_opens_on_an_outage_and_half_opens_to_probe(
    bank_harness: BankHarness,
) -> None:
    faults = bank_harness.simulator.faults
    faults.error_rate = 1.0
    async with bank_harness.connector() as connector:
        with pytest.raises(ProviderUnavailable):
            await connector.send_spei(_transfer("disb-9"))
        assert connector.http.breaker.state is CircuitState.OPEN
        seen = faults.api_requests
        with pytest.raises(CircuitOpen):
            await connector.send_spei(_transfer("disb-9"))
        assert faults.api_requests == seen  # short-circuited: the bank was not called
        bank_harness.clock.advance(31)
        faults.reset()
        transfer = await connector.send_spei(_transfer("disb-9"))
        assert transfer.status is TransferStatus.PENDING
        assert connector.http.breaker.state is CircuitState.CLOSED


# Only banks that authenticate with OAuth2 tokens; STP signs each request and has none.
OAUTH_CASES = [case for case in BANK_CASES if case.uses_oauth]


@pytest.mark.parametrize(
    "bank_harness", OAUTH_CASES, ids=[case.name for case in OAUTH_CASES], indirect=True
)
async def test_token_is_refreshed_on_expiry_and_after_revocation(
    bank_harness: BankHarness,
) -> None:
    async with bank_harness.connector() as connector:
        await connector.get_balance()
        await connector.get_balance()
        oauth = connector.oauth  # type: ignore[attr-defined]
        assert oauth.tokens_fetched == 1  # reused while fresh
        bank_harness.clock.advance(3600)
        await connector.get_balance()
        assert oauth.tokens_fetched == 2  # expired: fetched again before the call
        await bank_harness.admin("POST", "/_tokens/revoke")
        balance = await connector.get_balance()
        assert oauth.tokens_fetched == 3  # 401 with a revoked token: refreshed once
    assert balance.available > 0


async def test_duplicate_and_out_of_order_callbacks_keep_their_ids(
    bank_harness: BankHarness,
) -> None:
    bank_harness.simulator.faults.update({"duplicate_webhooks": True})
    async with bank_harness.connector() as connector:
        await connector.send_spei(_transfer("disb-10"))
        await bank_harness.admin("POST", "/_settle")
        events = await bank_harness.events(connector)
    ids = [e.event_id for e in events]
    assert ids and len(ids) == 2 * len(set(ids))  # every event twice: dedupe on event_id


async def test_nothing_moved_in_the_future(bank_harness: BankHarness) -> None:
    async with bank_harness.connector() as connector:
        await connector.send_spei(_transfer("disb-11"))
        await bank_harness.admin("POST", "/_settle")
        later = datetime.now(UTC) + timedelta(hours=1)
        assert await connector.list_movements(later, until=later + timedelta(hours=1)) == []
