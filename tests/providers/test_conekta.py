"""The Conekta connector: exact requests on the wire, and every answer normalised."""

from __future__ import annotations

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
    MalformedResponse,
    PaymentDeclined,
    PaymentMethod,
    PaymentStatus,
    ProviderConfig,
    ProviderConfigError,
    ReferenceRequest,
    RefundStatus,
)
from puente.providers.conekta import DEFAULT_PAYER, ConektaConnector
from puente_sandbox.conekta import sandbox_webhook_public_key

pytestmark = pytest.mark.anyio

PRIVATE_KEY = "key_UnitTestPrivateKey0000"
NOW = 1_800_000_000


def card_order(**changes: Any) -> dict[str, Any]:
    charge = {
        "id": "6400000000000000000000a1",
        "object": "charge",
        "amount": 15000,
        "status": "paid",
        "failure_code": None,
        "failure_message": None,
        "payment_method": {"object": "card_payment", "type": "credit", "last4": "4242"},
        "refunds": {"object": "list", "has_more": False, "total": 0, "data": []},
    }
    order = {
        "id": "ord_2tUnitTest0000001",
        "object": "order",
        "amount": 15000,
        "amount_refunded": 0,
        "currency": "MXN",
        "payment_status": "paid",
        "customer_info": {"object": "customer_info", "name": "Ana"},
        "charges": {"object": "list", "has_more": False, "total": 1, "data": [charge]},
        "metadata": {"installment": "inst_9"},
        "created_at": NOW,
    }
    charge.update(changes.pop("charge", {}))
    order.update(changes)
    return order


@pytest.fixture
def conekta_factory() -> Iterator[Callable[..., ConektaConnector]]:
    """A Conekta connector whose network is ``handler`` (an httpx.MockTransport function)."""

    def build(handler: Handler, **kwargs: Any) -> ConektaConnector:
        credentials = {"private_key": PRIVATE_KEY, "webhook_key": sandbox_webhook_public_key()}
        return mock_connector(
            ConektaConnector, credentials, handler, wall_clock=lambda: float(NOW), **kwargs
        )

    yield build


async def test_charge_sends_the_exact_conekta_request(conekta_factory) -> None:
    handler, seen = recording(lambda request: answer(card_order()))

    async with conekta_factory(handler) as conekta:
        payment = await conekta.charge(
            ChargeRequest(
                amount=Decimal("150.00"),
                token="tok_test_visa_4242",
                idempotency_key="attempt-42",
                description="Colegiatura",
                metadata={
                    "installment": "inst_9",
                    "payer_name": "Ana López",
                    "payer_email": "ana@example.mx",
                    "payer_phone": "5512345678",
                },
            )
        )
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://api.conekta.io/orders"
    assert request.headers["Authorization"] == f"Bearer {PRIVATE_KEY}"
    assert request.headers["Accept"] == "application/vnd.conekta-v2.2.0+json"
    assert request.headers["Idempotency-Key"] == "attempt-42"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "currency": "MXN",
        "customer_info": {"name": "Ana López", "email": "ana@example.mx", "phone": "5512345678"},
        "line_items": [{"name": "Colegiatura", "unit_price": 15000, "quantity": 1}],
        "charges": [{"payment_method": {"type": "card", "token_id": "tok_test_visa_4242"}}],
        "metadata": {"installment": "inst_9"},  # payer details are not echoed as metadata
    }
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.amount == Decimal("150.00") and payment.method is PaymentMethod.CARD
    assert payment.created_at == datetime.fromtimestamp(NOW, UTC)


async def test_saved_card_charge_uses_the_customer_and_payment_source(conekta_factory) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return answer(card_order(customer_info={"customer_id": "cus_1"}))

    async with conekta_factory(handler) as conekta:
        payment = await conekta.charge(
            ChargeRequest(
                amount=Decimal("99.00"),
                payment_method_id="src_1",
                customer_id="cus_1",
                idempotency_key="k",
            )
        )
    assert bodies[0]["customer_info"] == {"customer_id": "cus_1"}
    assert bodies[0]["charges"][0]["payment_method"] == {
        "type": "card",
        "payment_source_id": "src_1",
    }
    assert payment.customer_id == "cus_1"


async def test_without_payer_details_the_default_payer_is_sent(conekta_factory) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return answer(card_order())

    async with conekta_factory(handler) as conekta:
        await conekta.charge(
            ChargeRequest(amount=Decimal("1.00"), token="tok_x", idempotency_key="k")
        )
    assert bodies[0]["customer_info"] == {
        "name": DEFAULT_PAYER.name,
        "email": DEFAULT_PAYER.email,
        "phone": DEFAULT_PAYER.phone,
    }


async def test_api_version_and_language_are_configurable(conekta_factory) -> None:
    handler, seen = recording(lambda request: answer(card_order()))

    async with conekta_factory(handler, api_version="2.1.0", accept_language="es") as conekta:
        await conekta.get_payment("ord_2tUnitTest0000001")
    assert seen[0].headers["Accept"] == "application/vnd.conekta-v2.1.0+json"
    assert seen[0].headers["Accept-Language"] == "es"
    assert seen[0].url.path == "/orders/ord_2tUnitTest0000001"
    assert "Idempotency-Key" not in seen[0].headers


async def test_cash_reference_sends_expiry_and_reads_the_voucher(conekta_factory) -> None:
    bodies: list[dict[str, Any]] = []
    cash = {
        "object": "cash_payment",
        "type": "oxxo",
        "reference": "98000012345678",
        "barcode_url": "https://s3.amazonaws.com/cash_payment_barcodes/sandbox_reference.png",
        "expires_at": NOW + 2 * 86400,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return answer(card_order(payment_status="pending_payment", charge={"payment_method": cash}))

    async with conekta_factory(handler) as conekta:
        payment = await conekta.create_cash_reference(
            ReferenceRequest(
                amount=Decimal("150.00"),
                idempotency_key="k",
                customer=CustomerInfo(name="Ana", email="ana@example.mx"),
                expires_after_days=2,
            )
        )
    method = bodies[0]["charges"][0]["payment_method"]
    assert method == {"type": "cash", "expires_at": NOW + 2 * 86400}
    assert bodies[0]["customer_info"]["phone"] == DEFAULT_PAYER.phone  # Conekta requires one
    assert payment.status is PaymentStatus.REQUIRES_ACTION
    assert payment.method is PaymentMethod.CASH
    action = payment.next_action
    assert action is not None and action.reference == "98000012345678"
    assert action.voucher_url == action.barcode_url == cash["barcode_url"]
    assert action.expires_at == datetime.fromtimestamp(NOW + 2 * 86400, UTC)


async def test_spei_reference_reads_the_order_clabe(conekta_factory) -> None:
    spei = {
        "object": "bank_transfer_payment",
        "type": "spei",
        "bank": "STP",
        "clabe": "646180111805034237",
        "expires_at": NOW + 86400,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["charges"][0]["payment_method"]["type"] == "spei"
        return answer(card_order(payment_status="pending_payment", charge={"payment_method": spei}))

    async with conekta_factory(handler) as conekta:
        payment = await conekta.create_spei_reference(
            ReferenceRequest(amount=Decimal("150.00"), idempotency_key="k", customer_id="cus_1")
        )
    assert payment.method is PaymentMethod.SPEI
    assert payment.next_action is not None
    assert payment.next_action.clabe == payment.next_action.reference == "646180111805034237"
    assert payment.next_action.bank == "STP"


async def test_non_json_success_is_malformed(conekta_factory) -> None:
    async with conekta_factory(lambda request: httpx.Response(200, text="<html>")) as conekta:
        with pytest.raises(MalformedResponse):
            await conekta.get_payment("ord_1")


def conekta_error(status: int, kind: str, code: str, message: str = "m", **extra: Any):
    body = {
        "object": "error",
        "type": kind,
        "log_id": "641b6d073cd9a50001515007",
        "details": [{"code": code, "message": message, "debug_message": "d", "param": None}],
        **extra,
    }
    return answer(body, status)


async def test_error_answers_go_through_conektas_mapping(conekta_factory) -> None:
    response = conekta_error(
        401, "authentication_error", "conekta.errors.authentication.missing_key"
    )
    async with conekta_factory(lambda request: response) as conekta:
        with pytest.raises(AuthenticationError) as caught:
            await conekta.get_payment("ord_1")
    assert caught.value.provider_code == "conekta.errors.authentication.missing_key"
    assert PRIVATE_KEY not in str(caught.value)


async def test_a_decline_carries_the_declined_order(conekta_factory) -> None:
    declined = card_order(
        payment_status="declined",
        charge={"status": "declined", "failure_code": "card_declined", "failure_message": "x"},
    )
    response = conekta_error(
        402,
        "processing_error",
        "conekta.errors.processing.bank.declined",
        "Declinada",
        data=declined,
    )
    async with conekta_factory(lambda request: response) as conekta:
        with pytest.raises(PaymentDeclined) as caught:
            await conekta.charge(
                ChargeRequest(amount=Decimal("150.00"), token="tok_x", idempotency_key="k")
            )
    error = caught.value
    assert error.provider_message == "Declinada"
    assert error.payment is not None and error.payment.status is PaymentStatus.FAILED
    assert error.payment.provider_id == declined["id"]


async def test_5xx_is_retried_with_the_same_idempotency_key(conekta_factory) -> None:
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        if len(keys) < 3:
            return conekta_error(503, "api_error", "conekta.errors.api.system.general_failure")
        return answer(card_order())

    async with conekta_factory(handler) as conekta:
        payment = await conekta.charge(
            ChargeRequest(amount=Decimal("150.00"), token="tok_x", idempotency_key="pay-1")
        )
        assert len(conekta.sleeps) == 2
    assert keys == ["pay-1"] * 3
    assert payment.status is PaymentStatus.SUCCEEDED


async def test_full_refund_asks_for_what_the_order_still_holds(conekta_factory) -> None:
    refund = {"id": "6400000000000000000000f1", "object": "refund", "amount": -11000}
    partly = card_order(amount_refunded=4000, payment_status="partially_refunded")
    refunded = card_order(
        amount_refunded=15000,
        payment_status="refunded",
        charge={"refunds": {"object": "list", "data": [refund]}},
    )

    handler, seen = recording(
        lambda request: answer(partly if request.method == "GET" else refunded)
    )

    async with conekta_factory(handler) as conekta:
        result = await conekta.refund(
            "ord_1", idempotency_key="r-1", reason="duplicated_transaction"
        )
        await conekta.refund("ord_1", Decimal("1.00"), idempotency_key="r-2", reason="oops")
    assert [r.method for r in seen] == ["GET", "POST", "POST"]
    assert seen[1].url.path == "/orders/ord_1/refunds"
    assert seen[1].headers["Idempotency-Key"] == "r-1"
    assert json.loads(seen[1].content) == {"amount": 11000, "reason": "duplicated_transaction"}
    assert json.loads(seen[2].content) == {"amount": 100, "reason": "requested_by_client"}
    assert result.amount == Decimal("110.00")  # Conekta's negative refund amount, normalised
    assert result.status is RefundStatus.SUCCEEDED
    assert result.provider_id == refund["id"]


async def test_transactions_are_paged_newest_first_until_since(conekta_factory) -> None:
    def txn(n: int, created: int) -> dict[str, Any]:
        return {
            "id": f"txn{n}",
            "object": "transaction",
            "amount": 1000 * n,
            "fee": 100,
            "net": 1000 * n - 100,
            "charge": f"ch{n}",
            "type": "capture",
            "status": "pending",
            "currency": "MXN",
            "created_at": created,
        }

    pages = {
        None: {"object": "list", "has_more": True, "data": [txn(4, NOW + 30), txn(3, NOW + 20)]},
        "txn3": {"object": "list", "has_more": True, "data": [txn(2, NOW + 10), txn(1, NOW - 10)]},
    }
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return answer(pages[request.url.params.get("next")])

    async with conekta_factory(handler) as conekta:
        conekta.page_size = 2
        lines = await conekta.list_transactions(
            datetime.fromtimestamp(NOW, UTC), until=datetime.fromtimestamp(NOW + 25, UTC)
        )
    assert [line.provider_id for line in lines] == ["txn2", "txn3"]  # oldest first, in window
    assert lines[0].net == lines[0].amount - lines[0].fee == Decimal("19.00")
    assert [url.params.get("limit") for url in seen] == ["2", "2"]  # stopped at txn1 < since


def test_a_webhook_key_that_is_not_pem_is_a_configuration_error() -> None:
    with pytest.raises(ProviderConfigError, match="webhook_key"):
        ConektaConnector(
            ProviderConfig(credentials={"private_key": PRIVATE_KEY, "webhook_key": "whsec_x"})
        )
