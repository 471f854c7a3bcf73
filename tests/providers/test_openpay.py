"""The Openpay connector: exact requests on the wire, order_id idempotency, normalised answers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tests.providers.support import Handler, answer, mock_connector, recording

from puente.providers.base import (
    AuthenticationError,
    ChargeRequest,
    CustomerInfo,
    InsufficientFunds,
    MalformedResponse,
    PaymentMethod,
    PaymentStatus,
    ProviderUnavailable,
    ReferenceRequest,
    RefundStatus,
)
from puente.providers.openpay import SANDBOX_BASE_URL, OpenpayConnector

pytestmark = pytest.mark.anyio

MERCHANT = "mzdtln0bmtms6o3kck8f"
PRIVATE_KEY = "sk_e568c42a6c384b7ab02cd47d2e407cab"
NOW = 1_800_000_000  # 2027-01-15 08:00 UTC, 02:00 in Mexico City


def charge(**changes: Any) -> dict[str, Any]:
    body = {
        "id": "trzjaozcik8msyqshka4",
        "authorization": "801585",
        "operation_type": "in",
        "transaction_type": "charge",
        "method": "card",
        "status": "completed",
        "creation_date": "2027-01-15T02:00:00-06:00",
        "operation_date": "2027-01-15T02:00:00-06:00",
        "description": "Colegiatura",
        "error_message": None,
        "error_code": None,
        "order_id": "attempt-42",
        "currency": "MXN",
        "amount": 150.00,
        "customer_id": None,
        "fee": {"amount": 6.85, "tax": 1.10, "currency": "MXN"},
        "card": {"card_number": "411111XXXXXX1111", "brand": "visa"},
    }
    body.update(changes)
    return body


def openpay_error(http_code: int, error_code: int, description: str = "d") -> httpx.Response:
    body = {
        "category": "gateway" if error_code >= 3000 else "request",
        "description": description,
        "http_code": http_code,
        "error_code": error_code,
        "request_id": "1981cdb8-19cb-4bad-8256-e95d58bc035c",
    }
    return answer(body, http_code)


@pytest.fixture
def openpay_factory() -> Iterator[Callable[..., OpenpayConnector]]:
    """An Openpay connector whose network is ``handler`` (an httpx.MockTransport function)."""

    def build(handler: Handler, **kwargs: Any) -> OpenpayConnector:
        credentials = {
            "merchant_id": MERCHANT,
            "private_key": PRIVATE_KEY,
            "webhook_user": "puente",
            "webhook_password": "webhook-pass",
        }
        config = {"base_url": kwargs.pop("base_url", None)}
        return mock_connector(
            OpenpayConnector,
            credentials,
            handler,
            config=config,
            wall_clock=lambda: float(NOW),
            **kwargs,
        )

    yield build


async def test_charge_sends_the_exact_openpay_request(openpay_factory) -> None:
    handler, seen = recording(lambda request: answer(charge()))

    async with openpay_factory(handler) as openpay:
        payment = await openpay.charge(
            ChargeRequest(
                amount=Decimal("150.00"),
                token="kqgykn96i7bcs1wwhvgw",
                idempotency_key="attempt-42",
                description="Colegiatura",
                metadata={"installment": "inst_9"},
                device_session_id="kR1MiQhz2otdIuUlQkbEyit",
            )
        )
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == f"https://api.openpay.mx/v1/{MERCHANT}/charges"
    expected_auth = base64.b64encode(f"{PRIVATE_KEY}:".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected_auth}"
    assert request.headers["Content-Type"] == "application/json"
    assert "Idempotency-Key" not in request.headers  # Openpay has none: order_id stands in
    assert json.loads(request.content) == {
        "method": "card",
        "source_id": "kqgykn96i7bcs1wwhvgw",
        "amount": "150.00",  # exact decimal string, never a float
        "currency": "MXN",
        "description": "Colegiatura",
        "order_id": "attempt-42",
        "device_session_id": "kR1MiQhz2otdIuUlQkbEyit",
        "metadata": {"installment": "inst_9"},
    }
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.amount == Decimal("150.00") and payment.method is PaymentMethod.CARD
    assert payment.created_at == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


async def test_saved_cards_are_charged_under_the_customer(openpay_factory) -> None:
    handler, seen = recording(lambda request: answer(charge(customer_id="ag4nktpdzebjiye1tlze")))

    async with openpay_factory(handler, api_version="2.0") as openpay:
        payment = await openpay.charge(
            ChargeRequest(
                amount=Decimal("99.00"),
                payment_method_id="kqgykn96i7bcs1wwhvgw",
                customer_id="ag4nktpdzebjiye1tlze",
                idempotency_key="k",
            )
        )
    assert seen[0].url.path == f"/v1/{MERCHANT}/customers/ag4nktpdzebjiye1tlze/charges"
    assert seen[0].headers["Openpay-Version"] == "2.0"
    assert payment.customer_id == "ag4nktpdzebjiye1tlze"


async def test_a_long_idempotency_key_becomes_a_hashed_order_id(openpay_factory) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return answer(charge())

    async with openpay_factory(handler) as openpay:
        await openpay.charge(
            ChargeRequest(amount=Decimal("1.00"), token="t", idempotency_key="k" * 150)
        )
    assert len(bodies[0]["order_id"]) == 64  # Openpay caps order_id at 100 characters


async def test_a_repeated_order_id_returns_the_charge_it_already_made(openpay_factory) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return openpay_error(409, 1006, "The order_id has already been processed")
        return answer([charge(order_id="other"), charge(order_id="attempt-42")])

    handler, seen = recording(reply)

    async with openpay_factory(handler) as openpay:
        payment = await openpay.charge(
            ChargeRequest(amount=Decimal("150.00"), token="t", idempotency_key="attempt-42")
        )
    assert payment.provider_id == "trzjaozcik8msyqshka4"
    assert seen[1].method == "GET"
    assert seen[1].url.params["order_id"] == "attempt-42"


async def test_a_5xx_is_retried_because_order_id_makes_the_charge_safe(openpay_factory) -> None:
    attempts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(json.loads(request.content)["order_id"])
        if len(attempts) < 3:
            return openpay_error(503, 1004, "Service unavailable")
        return answer(charge())

    async with openpay_factory(handler) as openpay:
        payment = await openpay.charge(
            ChargeRequest(amount=Decimal("150.00"), token="t", idempotency_key="attempt-42")
        )
        assert len(openpay.sleeps) == 2
    assert attempts == ["attempt-42"] * 3
    assert payment.status is PaymentStatus.SUCCEEDED


async def test_a_decline_carries_the_failed_charge(openpay_factory) -> None:
    failed = charge(status="failed", error_code=3003, error_message="Insufficient funds")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return openpay_error(402, 3003, "The card doesn't have sufficient funds")
        return answer([failed])

    async with openpay_factory(handler) as openpay:
        with pytest.raises(InsufficientFunds) as caught:
            await openpay.charge(
                ChargeRequest(amount=Decimal("150.00"), token="t", idempotency_key="attempt-42")
            )
    error = caught.value
    assert error.provider_code == "3003" and error.retryable is False
    assert error.payment is not None and error.payment.status is PaymentStatus.FAILED
    assert error.payment.failure_code == "insufficient_funds"


async def test_store_reference_request_and_voucher(openpay_factory) -> None:
    bodies: list[dict[str, Any]] = []
    store = {
        "type": "store",
        "reference": "1010101234567890",
        "barcode_url": f"{SANDBOX_BASE_URL}/barcode/1010101234567890?width=1&height=45",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return answer(
            charge(
                method="store",
                status="in_progress",
                payment_method=store,
                due_date="2027-01-17T23:59:59-06:00",
            )
        )

    async with openpay_factory(handler, base_url=SANDBOX_BASE_URL) as openpay:
        payment = await openpay.create_cash_reference(
            ReferenceRequest(
                amount=Decimal("500.00"),
                idempotency_key="cash-1",
                customer=CustomerInfo(name="Luis Pérez Soto", email="luis@example.mx"),
                expires_after_days=2,
            )
        )
    body = bodies[0]
    assert body["method"] == "store" and body["amount"] == "500.00"
    assert body["due_date"] == "2027-01-17T23:59:59"  # end of day, Mexico City
    assert body["customer"] == {
        "name": "Luis",
        "last_name": "Pérez Soto",
        "email": "luis@example.mx",
    }
    assert payment.status is PaymentStatus.REQUIRES_ACTION
    action = payment.next_action
    assert action is not None and action.reference == "1010101234567890"
    assert action.barcode_url == store["barcode_url"]
    assert action.voucher_url == (
        f"https://sandbox-dashboard.openpay.mx/paynet-pdf/{MERCHANT}/1010101234567890"
    )
    assert action.expires_at == datetime(2027, 1, 18, 5, 59, 59, tzinfo=UTC)


async def test_spei_reference_reads_clabe_and_concept(openpay_factory) -> None:
    spei = {"type": "bank_transfer", "bank": "STP", "clabe": "646180109400423323", "name": "1103"}

    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["method"] == "bank_account"
        return answer(charge(method="bank_account", status="in_progress", payment_method=spei))

    async with openpay_factory(handler) as openpay:
        payment = await openpay.create_spei_reference(
            ReferenceRequest(amount=Decimal("1200.00"), idempotency_key="spei-1")
        )
    assert payment.method is PaymentMethod.SPEI
    assert payment.next_action is not None
    assert (payment.next_action.clabe, payment.next_action.reference) == (
        "646180109400423323",
        "1103",
    )
    assert payment.next_action.voucher_url == (
        f"https://dashboard.openpay.mx/spei-pdf/{MERCHANT}/trzjaozcik8msyqshka4"
    )


async def test_error_answers_go_through_openpays_mapping(openpay_factory) -> None:
    response = openpay_error(401, 1002, "The api key or merchant id are invalid")
    async with openpay_factory(lambda request: response) as openpay:
        with pytest.raises(AuthenticationError) as caught:
            await openpay.get_payment("tr1")
    assert caught.value.provider_code == "1002" and caught.value.http_status == 401
    assert PRIVATE_KEY not in str(caught.value)


async def test_unreadable_answers_are_malformed(openpay_factory) -> None:
    for response in (
        httpx.Response(200, text="<html>"),
        answer([charge()]),
        answer(charge(amount=1.005)),
    ):
        async with openpay_factory(lambda request, r=response: r) as openpay:
            with pytest.raises(MalformedResponse):
                await openpay.get_payment("tr1")


async def test_refunds_carry_the_key_and_are_not_repeated(openpay_factory) -> None:
    refund = {
        "id": "trcbsmjkw1fd0xgq6lcg",
        "amount": 40.00,
        "status": "completed",
        "description": "Reembolso [puente:r-1]",
        "operation_date": "2027-01-15T02:05:00-06:00",
    }
    state = {"charge": charge(customer_id="ag4nktpdzebjiye1tlze")}

    def reply(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            state["charge"] = {**state["charge"], "refund": refund, "refunds": [refund]}
        return answer(state["charge"])

    handler, seen = recording(reply)

    async with openpay_factory(handler) as openpay:
        first = await openpay.refund(
            "trzjaozcik8msyqshka4", Decimal("40.00"), idempotency_key="r-1"
        )
        again = await openpay.refund(
            "trzjaozcik8msyqshka4", Decimal("40.00"), idempotency_key="r-1"
        )
    assert [r.method for r in seen] == ["GET", "POST", "GET"]  # the repeat found the first
    post = seen[1]
    assert post.url.path == (
        f"/v1/{MERCHANT}/customers/ag4nktpdzebjiye1tlze/charges/trzjaozcik8msyqshka4/refund"
    )
    assert json.loads(post.content) == {"description": "Reembolso [puente:r-1]", "amount": "40.00"}
    assert first.provider_id == again.provider_id == "trcbsmjkw1fd0xgq6lcg"
    assert first.amount == Decimal("40.00") and first.status is RefundStatus.SUCCEEDED


async def test_a_refund_is_not_retried_on_5xx(openpay_factory) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return answer(charge())
        return openpay_error(503, 1004, "Service unavailable")

    async with openpay_factory(handler) as openpay:
        with pytest.raises(ProviderUnavailable):
            await openpay.refund("trzjaozcik8msyqshka4", idempotency_key="r-1")
        assert openpay.sleeps == []  # no key on the wire: a blind repeat could refund twice


async def test_transactions_page_by_offset_and_split_refunds(openpay_factory) -> None:
    refund = {
        "id": "rf1",
        "amount": 30,
        "status": "completed",
        "operation_date": "2027-01-15T02:10:00-06:00",
    }
    newest = charge(id="tr2", amount=250, creation_date="2027-01-15T02:05:00-06:00")
    oldest = charge(id="tr1", amount=100, refunds=[refund])
    failed = charge(id="tr3", status="failed")
    pages = {"0": [newest, failed], "2": [oldest]}
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return answer(pages[request.url.params["offset"]])

    async with openpay_factory(handler) as openpay:
        openpay.page_size = 2
        lines = await openpay.list_transactions(datetime(2027, 1, 15, 7, 0, tzinfo=UTC))
    assert [(line.provider_id, line.amount) for line in lines] == [
        ("tr1", Decimal("100.00")),
        ("tr2", Decimal("250.00")),
        ("rf1", Decimal("-30.00")),
    ]
    assert lines[0].fee == Decimal("7.95") and lines[0].net == Decimal("92.05")
    assert seen[0].params["creation[gte]"] == "2027-01-15"  # Mexico City's calendar day
    assert [url.params["limit"] for url in seen] == ["2", "2"]
