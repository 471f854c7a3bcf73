"""The Mercado Pago connector: exact requests on the wire, and every answer normalised."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tests.providers.support import Handler, mock_connector, recording

from puente.providers.answers import decimal_json
from puente.providers.base import (
    AuthenticationError,
    ChargeRequest,
    CustomerInfo,
    EventKind,
    ExpiredCard,
    InsufficientFunds,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PaymentDeclined,
    PaymentMethod,
    PaymentStatus,
    ProviderUnavailable,
    RateLimited,
    ReferenceRequest,
)
from puente.providers.mercadopago import MercadoPagoConnector
from puente.providers.mercadopago_mapping import (
    json_number,
    mp_payment,
    mp_settlements_from_report,
)

pytestmark = pytest.mark.anyio

TOKEN = "TEST-1234567890123456-010124-abcdefabcdef-123456789"
PAYMENT = {
    "id": 1316000001,
    "status": "approved",
    "status_detail": "accredited",
    "payment_type_id": "credit_card",
    "payment_method_id": "visa",
    "transaction_amount": 150.5,
    "transaction_amount_refunded": 0,
    "currency_id": "MXN",
    "date_created": "2024-05-10T13:43:14.586-06:00",
    "date_approved": "2024-05-10T13:43:15.000-06:00",
    "payer": {"type": None, "id": None},
    "metadata": {"installment": "inst_9"},
    "fee_details": [{"type": "mercadopago_fee", "amount": 9.42, "fee_payer": "collector"}],
    "refunds": [],
}

# As the connector reads answers: numbers with decimals become Decimal, never float.
PARSED = decimal_json(json.dumps(PAYMENT))


@pytest.fixture
def connect() -> Callable[..., MercadoPagoConnector]:
    def build(handler: Handler, **kwargs: Any) -> MercadoPagoConnector:
        credentials = {"access_token": TOKEN, "webhook_secret": "whsec"}
        return mock_connector(MercadoPagoConnector, credentials, handler, **kwargs)

    return build


def answer(body: object, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )


async def test_charge_sends_the_exact_mercadopago_request(connect) -> None:
    handler, seen = recording(lambda request: answer(PAYMENT, 201))

    async with connect(handler) as mp:
        payment = await mp.charge(
            ChargeRequest(
                amount=Decimal("150.50"),
                token="ff8080814c11e237014c1ff593b57b4d",
                idempotency_key="attempt-42",
                description="Colegiatura",
                metadata={
                    "installment": "inst_9",
                    "payment_method_id": "visa",
                    "payer_email": "ana@example.mx",
                },
            )
        )
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://api.mercadopago.com/v1/payments"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["X-Idempotency-Key"] == "attempt-42"
    assert request.headers["Content-Type"] == "application/json"
    # Amounts are JSON numbers in pesos, written exactly (no float arithmetic behind them).
    assert json.loads(request.content) == {
        "transaction_amount": 150.5,
        "description": "Colegiatura",
        "installments": 1,
        "external_reference": "attempt-42",
        "metadata": {"installment": "inst_9"},
        "payment_method_id": "visa",
        "payer": {"email": "ana@example.mx"},
        "token": "ff8080814c11e237014c1ff593b57b4d",
    }
    assert b'"transaction_amount":150.5,' in request.content
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.amount == Decimal("150.50")
    assert payment.provider_id == "1316000001"


def test_json_number_is_exact_or_refused() -> None:
    assert json_number(Decimal("150.00")) == 150 and isinstance(json_number(Decimal("150")), int)
    assert json.dumps(json_number(Decimal("0.10"))) == "0.1"
    assert json.dumps(json_number(Decimal("1234567.89"))) == "1234567.89"


async def test_rejected_payment_is_a_decline_with_the_payment(connect) -> None:
    rejected = {
        **PAYMENT,
        "status": "rejected",
        "status_detail": "cc_rejected_insufficient_amount",
        "date_approved": None,
    }

    async with connect(lambda r: answer(rejected, 201)) as mp:
        with pytest.raises(InsufficientFunds) as caught:
            await mp.charge(ChargeRequest(amount=Decimal("150.50"), token="t", idempotency_key="k"))
    error = caught.value
    assert error.provider_code == "cc_rejected_insufficient_amount"
    assert error.payment.status is PaymentStatus.FAILED
    assert error.payment.failure_code == "insufficient_funds"


@pytest.mark.parametrize(
    ("status", "detail", "expected"),
    [
        ("approved", "accredited", PaymentStatus.SUCCEEDED),
        ("approved", "partially_refunded", PaymentStatus.PARTIALLY_REFUNDED),
        ("in_process", "pending_contingency", PaymentStatus.PENDING),
        ("authorized", "pending_capture", PaymentStatus.PENDING),
        ("rejected", "cc_rejected_other_reason", PaymentStatus.FAILED),
        ("cancelled", "by_collector", PaymentStatus.CANCELED),
        ("refunded", "refunded", PaymentStatus.REFUNDED),
        ("charged_back", "reimbursed", PaymentStatus.CHARGED_BACK),
        ("in_mediation", "in_mediation", PaymentStatus.CHARGED_BACK),
    ],
)
def test_payment_statuses_are_mapped(status: str, detail: str, expected: PaymentStatus) -> None:
    assert mp_payment({**PARSED, "status": status, "status_detail": detail}).status is expected


@pytest.mark.parametrize(
    ("detail", "error"),
    [
        ("cc_rejected_insufficient_amount", InsufficientFunds),
        ("cc_rejected_bad_filled_date", ExpiredCard),
        ("cc_rejected_call_for_authorize", PaymentDeclined),
        ("something_new", PaymentDeclined),
    ],
)
async def test_rejections_map_to_the_decline_hierarchy(connect, detail, error) -> None:
    rejected = {**PAYMENT, "status": "rejected", "status_detail": detail}
    async with connect(lambda r: answer(rejected, 201)) as mp:
        with pytest.raises(error) as caught:
            await mp.charge(ChargeRequest(amount=Decimal("1"), token="t", idempotency_key="k"))
    assert type(caught.value) is error


def test_offline_references_read_voucher_clabe_and_expiry() -> None:
    oxxo = mp_payment(
        {
            **PARSED,
            "status": "pending",
            "status_detail": "pending_waiting_payment",
            "payment_type_id": "ticket",
            "payment_method_id": "oxxo",
            "date_approved": None,
            "date_of_expiration": "2024-05-13T23:59:59.000-06:00",
            "transaction_details": {
                "external_resource_url": "https://mp.test/ticket",
                "payment_method_reference_id": "12345678901234",
            },
        }
    )
    assert oxxo.status is PaymentStatus.REQUIRES_ACTION and oxxo.method is PaymentMethod.CASH
    assert oxxo.next_action.reference == "12345678901234"
    assert oxxo.next_action.voucher_url == "https://mp.test/ticket"
    assert oxxo.next_action.expires_at.isoformat() == "2024-05-14T05:59:59+00:00"
    spei = mp_payment(
        {
            **PARSED,
            "status": "pending",
            "status_detail": "pending_waiting_transfer",
            "payment_type_id": "bank_transfer",
            "payment_method_id": "clabe",
            "payment_method": {"id": "clabe", "data": {"reference_id": "7654321"}},
            "elsewhere": {"clabe": "646180111805034237"},
        },
        clabe_path="elsewhere.clabe",
    )
    assert spei.method is PaymentMethod.SPEI
    assert spei.next_action.clabe == "646180111805034237"  # the path is configurable
    assert spei.next_action.reference == "7654321"


def test_cancelled_unpaid_reference_is_expired() -> None:
    payment = mp_payment(
        {**PARSED, "status": "cancelled", "status_detail": "expired", "payment_type_id": "ticket"}
    )
    assert payment.status is PaymentStatus.EXPIRED


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            401,
            {
                "message": "invalid access token",
                "error": "unauthorized",
                "status": 401,
                "cause": [],
            },
            AuthenticationError,
        ),
        (
            404,
            {
                "message": "Payment not found",
                "error": "not_found",
                "status": 404,
                "cause": [{"code": 2000, "description": "Payment not found"}],
            },
            NotFound,
        ),
        (
            400,
            {
                "message": "Card Token not found",
                "error": "bad_request",
                "status": 400,
                "cause": [{"code": 2006, "description": "Card Token not found"}],
            },
            InvalidRequest,
        ),
        (429, {"message": "Too many requests", "error": "too_many_requests"}, RateLimited),
        (
            500,
            {"message": "Internal server error", "error": "internal_server_error"},
            ProviderUnavailable,
        ),
    ],
)
async def test_error_bodies_keep_mercadopago_code_and_message(connect, status, body, error):
    async with connect(lambda r: answer(body, status)) as mp:
        with pytest.raises(error) as caught:
            await mp.get_payment("1316000001")
    assert caught.value.provider_message == body["message"]
    if body.get("cause"):
        assert caught.value.provider_code == str(body["cause"][0]["code"])


@pytest.mark.parametrize(
    "body",
    [
        b"<html>oops</html>",
        json.dumps({**PAYMENT, "status": "teleported"}).encode(),
        json.dumps({"id": 1}).encode(),
        json.dumps([1, 2]).encode(),
    ],
)
async def test_unreadable_answers_are_malformed_responses(connect, body: bytes) -> None:
    async with connect(lambda r: httpx.Response(200, content=body)) as mp:
        with pytest.raises(MalformedResponse):
            await mp.get_payment("1316000001")


async def test_spei_reference_request_and_payer_email(connect) -> None:
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return answer(
            {
                **PAYMENT,
                "status": "pending",
                "status_detail": "pending_waiting_transfer",
                "payment_type_id": "bank_transfer",
                "payment_method_id": "clabe",
            },
            201,
        )

    async with connect(handler) as mp:
        with pytest.raises(InvalidRequest):
            await mp.create_spei_reference(
                ReferenceRequest(
                    amount=Decimal("1200"), idempotency_key="s", customer=CustomerInfo(name="Ana")
                )
            )
        await mp.create_spei_reference(
            ReferenceRequest(
                amount=Decimal("1200"),
                idempotency_key="s",
                customer=CustomerInfo(name="Ana López", email="ana@example.mx"),
            )
        )
    assert bodies == [
        {
            "transaction_amount": 1200,
            "payment_method_id": "clabe",
            "payer": {"email": "ana@example.mx", "first_name": "Ana", "last_name": "López"},
            "external_reference": "s",
        }
    ]


async def test_partial_refund_sends_amount_and_full_refund_sends_nothing(connect) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return answer(
            {
                "id": 99,
                "payment_id": 1316000001,
                "amount": 40,
                "status": "approved",
                "date_created": "2024-05-10T13:43:14.586-06:00",
            },
            201,
        )

    handler, seen = recording(reply)

    async with connect(handler) as mp:
        refund = await mp.refund("1316000001", Decimal("40.00"), idempotency_key="r-1")
        await mp.refund("1316000001", idempotency_key="r-2")
    assert seen[0].url.path == "/v1/payments/1316000001/refunds"
    assert json.loads(seen[0].content) == {"amount": 40}
    assert json.loads(seen[1].content) == {}
    assert seen[1].headers["X-Idempotency-Key"] == "r-2"
    assert refund.amount == Decimal("40.00") and refund.payment_id == "1316000001"


async def test_resolve_event_fetches_the_payment(connect) -> None:
    async with connect(lambda r: answer(PAYMENT)) as mp:
        from puente.providers.mercadopago_webhooks import normalise_mercadopago_notification

        event = normalise_mercadopago_notification(
            {
                "id": 12,
                "type": "payment",
                "action": "payment.created",
                "date_created": "2024-05-10T13:43:14Z",
                "data": {"id": "1316000001"},
            }
        )
        assert event.kind is EventKind.UNKNOWN and event.provider_payment_id == "1316000001"
        resolved = await mp.resolve_event(event)
    assert resolved.kind is EventKind.PAYMENT_SUCCEEDED
    assert resolved.amount == Decimal("150.50")


def test_releases_report_payouts_are_settlements() -> None:
    report = (
        "DATE;SOURCE_ID;EXTERNAL_REFERENCE;RECORD_TYPE;DESCRIPTION;NET_CREDIT_AMOUNT;"
        "NET_DEBIT_AMOUNT;GROSS_AMOUNT\n"
        "2024-05-10T13:43:14-0600;1316000001;k;release;payment;141.08;0.00;150.50\n"
        "2024-05-11T09:00:00-0600;88001;;release;payout;0.00;141.08;-141.08\n"
    )
    (payout,) = mp_settlements_from_report(report)
    assert payout.provider_id == "88001" and payout.amount == Decimal("141.08")
    assert payout.created_at.isoformat() == "2024-05-11T15:00:00+00:00"
