"""The generic bank connector: OAuth2 then the exact payment request, and every answer mapped."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest
from tests.providers.support import answer, recording

from puente.providers.bank import OpenBankingConnector
from puente.providers.base import (
    AuthenticationError,
    InsufficientFunds,
    InvalidRequest,
    MalformedResponse,
    MovementDirection,
    NotFound,
    PaymentDeclined,
    ProviderConfig,
    ProviderUnavailable,
    RateLimited,
    SpeiTransferRequest,
    TransferStatus,
)
from puente.providers.circuit import CircuitBreakers
from puente.providers.metrics import ProviderMetrics

pytestmark = pytest.mark.anyio

CREDENTIALS = {
    "client_id": "puente-client",
    "client_secret": "bank-client-secret-0001",
    "account_id": "acc_123",
    "webhook_secret": "bank_whsec_0001",
}
BASE = "https://api.bank.test/v1"
PAYMENT = {
    "id": "pay_1",
    "object": "spei_payment",
    "account_id": "acc_123",
    "status": "pending",
    "amount": "1500.00",
    "currency": "MXN",
    "beneficiary": {"clabe": "012180001234567899", "name": "Ana López", "bank": "BBVA"},
    "concept": "Disposición préstamo 42",
    "reference": "4200001",
    "clave_rastreo": "PTB00000000000000001",
    "created_at": "2024-05-02T18:00:00.000Z",
    "failure": None,
}
TRANSFER = SpeiTransferRequest(
    amount=Decimal("1500.00"),
    clabe="012180001234567899",
    beneficiary_name="Ana López",
    concept="Disposición préstamo 42",
    idempotency_key="disb-42-1",
    beneficiary_rfc="LOGA800101AB1",
    reference="4200001",
)
Handler = Callable[[httpx.Request], httpx.Response]


class FakeBank:
    """Issues one token, then answers API calls with ``api``."""

    def __init__(self, api: Handler) -> None:
        self.api = api
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/oauth/token"):
            token = {"access_token": "at_1", "token_type": "Bearer", "expires_in": 3600}
            return httpx.Response(200, json=token)
        return self.api(request)


def bank(api: Handler) -> tuple[OpenBankingConnector, FakeBank]:
    fake = FakeBank(api)

    async def sleep(seconds: float) -> None:
        return None

    connector = OpenBankingConnector(
        ProviderConfig(credentials=CREDENTIALS, base_url=BASE, transport=httpx.MockTransport(fake)),
        metrics=ProviderMetrics(),
        breakers=CircuitBreakers(),
        sleep=sleep,
        random=lambda: 0.0,
    )
    return connector, fake


def error(status: int, code: str, message: str = "no", **headers: str) -> httpx.Response:
    return answer({"error": {"code": code, "message": message, "request_id": "req_1"}}, status)


async def test_payment_sends_the_exact_request_after_a_client_credentials_token() -> None:
    connector, fake = bank(lambda r: answer(PAYMENT, 201))
    async with connector:
        transfer = await connector.send_spei(TRANSFER)
    token_request, payment_request = fake.requests
    assert token_request.method == "POST"
    assert str(token_request.url) == f"{BASE}/oauth/token"
    basic = base64.b64encode(b"puente-client:bank-client-secret-0001").decode()
    assert token_request.headers["Authorization"] == f"Basic {basic}"
    assert parse_qs(token_request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["accounts payments"],
    }
    assert payment_request.method == "POST"
    assert str(payment_request.url) == f"{BASE}/payments/spei"
    assert payment_request.headers["Authorization"] == "Bearer at_1"
    assert payment_request.headers["Idempotency-Key"] == "disb-42-1"
    assert payment_request.headers["Content-Type"] == "application/json"
    assert json.loads(payment_request.content) == {
        "account_id": "acc_123",
        "amount": "1500.00",  # decimal string: no float ever holds the amount
        "currency": "MXN",
        "beneficiary": {"clabe": "012180001234567899", "name": "Ana López", "rfc": "LOGA800101AB1"},
        "concept": "Disposición préstamo 42",
        "reference": "4200001",
    }
    assert transfer.provider_id == "pay_1"
    assert transfer.status is TransferStatus.PENDING
    assert transfer.clave_rastreo == "PTB00000000000000001"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pending", TransferStatus.PENDING),
        ("processing", TransferStatus.PENDING),
        ("settled", TransferStatus.SUCCEEDED),
        ("returned", TransferStatus.RETURNED),
        ("rejected", TransferStatus.FAILED),
        ("failed", TransferStatus.FAILED),
    ],
)
async def test_payment_statuses_are_mapped(status: str, expected: TransferStatus) -> None:
    failure = {"code": "account_closed", "message": "Cuenta cancelada"}
    body = {**PAYMENT, "status": status, "failure": failure if status == "returned" else None}
    connector, _ = bank(lambda r: answer(body))
    async with connector:
        transfer = await connector.get_payment("pay_1")
    assert transfer.status is expected
    if status == "returned":
        assert transfer.failure_message == "Cuenta cancelada"


@pytest.mark.parametrize(
    ("response", "error_class", "code"),
    [
        (error(400, "invalid_clabe"), InvalidRequest, "invalid_clabe"),
        (error(403, "forbidden"), AuthenticationError, "forbidden"),
        (error(404, "not_found"), NotFound, "not_found"),
        (error(409, "idempotency_conflict"), InvalidRequest, "idempotency_conflict"),
        (error(422, "account_not_found"), InvalidRequest, "account_not_found"),
        (error(422, "insufficient_funds"), InsufficientFunds, "insufficient_funds"),
        (error(422, "payment_rejected"), PaymentDeclined, "payment_rejected"),
        (error(429, "rate_limited"), RateLimited, "rate_limited"),
        (error(503, "unavailable"), ProviderUnavailable, "unavailable"),
        (httpx.Response(502, text="<html>bad gateway</html>"), ProviderUnavailable, None),
    ],
)
async def test_error_bodies_keep_the_bank_code(
    response: httpx.Response, error_class: type, code: str | None
) -> None:
    connector, _ = bank(lambda r: response)
    async with connector:
        with pytest.raises(error_class) as caught:
            await connector.send_spei(TRANSFER)
    assert type(caught.value) is error_class
    assert caught.value.provider_code == code
    assert caught.value.http_status == response.status_code


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(201, text="ok"),
        answer({**PAYMENT, "status": "teleported"}, 201),
        answer({**PAYMENT, "amount": None}, 201),
        answer([1, 2], 201),
    ],
)
async def test_unreadable_answers_are_malformed(response: httpx.Response) -> None:
    connector, _ = bank(lambda r: response)
    async with connector:
        with pytest.raises(MalformedResponse):
            await connector.send_spei(TRANSFER)


async def test_a_refused_client_is_an_authentication_error_without_the_secret() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return answer({"error": "invalid_client"}, 401)

    connector = OpenBankingConnector(
        ProviderConfig(
            credentials=CREDENTIALS, base_url=BASE, transport=httpx.MockTransport(refuse)
        ),
        metrics=ProviderMetrics(),
        breakers=CircuitBreakers(),
    )
    async with connector:
        with pytest.raises(AuthenticationError) as caught:
            await connector.get_balance()
    assert caught.value.provider_code == "invalid_client"
    assert CREDENTIALS["client_secret"] not in str(caught.value) + repr(caught.value)


async def test_transactions_are_paged_by_cursor_and_sorted() -> None:
    pages = {
        None: {
            "data": [
                {
                    "id": "tx_2",
                    "direction": "credit",
                    "amount": "500.00",
                    "booked_at": "2024-05-02T18:05:00Z",
                    "clave_rastreo": "BB1",
                    "counterparty": {"name": "ANA", "clabe": "012180001234567899"},
                    "concept": "COLEGIATURA",
                    "reference": "1234567",
                }
            ],
            "next_cursor": "cur_1",
        },
        "cur_1": {
            "data": [
                {
                    "id": "tx_1",
                    "direction": "debit",
                    "amount": "150.00",
                    "booked_at": "2024-05-02T18:01:00+00:00",
                    "counterparty": {"name": "LUIS"},
                }
            ],
            "next_cursor": None,
        },
    }

    api, seen = recording(lambda request: answer(pages[request.url.params.get("cursor")]))

    connector, _ = bank(api)
    connector.page_size = 1
    since = datetime(2024, 5, 2, tzinfo=UTC)
    async with connector:
        lines = await connector.list_movements(since, until=datetime(2024, 5, 3, tzinfo=UTC))
    assert [r.url.path for r in seen] == ["/v1/accounts/acc_123/transactions"] * 2
    assert seen[0].url.params["from"] == "2024-05-02T00:00:00+00:00"
    assert seen[0].url.params["to"] == "2024-05-03T00:00:00+00:00"
    assert seen[0].url.params["limit"] == "1"
    assert [line.provider_id for line in lines] == ["tx_1", "tx_2"]
    assert lines[1].direction is MovementDirection.CREDIT
    assert lines[1].amount == Decimal("500.00")


async def test_balance_and_verification() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/balance"):
            return answer(
                {
                    "account_id": "acc_123",
                    "clabe": "012180015000000003",
                    "available": "850.00",
                    "ledger": "1000.00",
                    "currency": "MXN",
                    "as_of": "2024-05-02T18:00:00Z",
                }
            )
        assert json.loads(request.content) == {"clabe": "012180001234567899", "name": "Ana"}
        return answer(
            {
                "clabe": "012180001234567899",
                "valid": True,
                "holder_name": "ANA LOPEZ GARCIA",
                "bank": "BBVA Mexico",
                "name_match": "partial",
            }
        )

    connector, _ = bank(api)
    async with connector:
        balance = await connector.get_balance()
        holder = await connector.validate_account_holder("012180001234567899", name="Ana")
        local = await connector.validate_account_holder("012180001234567890")
    assert balance.available == Decimal("850.00") and balance.ledger == Decimal("1000.00")
    assert balance.account.endswith("0003") and "012180015000000003" not in balance.account
    assert holder.valid and holder.holder_name == "ANA LOPEZ GARCIA"
    assert holder.name_matches is False  # "partial" is not good enough to send money
    assert local.valid is False


async def test_get_transfer_by_clave_rastreo() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        wanted = request.url.params["clave_rastreo"]
        return answer({"data": [PAYMENT] if wanted == PAYMENT["clave_rastreo"] else []})

    connector, _ = bank(api)
    async with connector:
        found = await connector.get_transfer("PTB00000000000000001")
        with pytest.raises(NotFound):
            await connector.get_transfer("NOPE")
    assert found.provider_id == "pay_1"
