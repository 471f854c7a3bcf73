"""Reading Openpay charges, refunds and error bodies: pure mapping, no network."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from puente.providers.base import (
    AuthenticationError,
    ExpiredCard,
    InsufficientFunds,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PaymentDeclined,
    PaymentStatus,
    ProviderUnavailable,
    RateLimited,
)
from puente.providers.openpay_errors import openpay_error
from puente.providers.openpay_mapping import openpay_payment, openpay_refund, openpay_transactions


def charge(**changes: Any) -> dict[str, Any]:
    body = {
        "id": "trzjaozcik8msyqshka4",
        "method": "card",
        "status": "completed",
        "creation_date": "2027-01-15T02:00:00-06:00",
        "amount": Decimal("150.00"),
        "currency": "MXN",
        "fee": {"amount": Decimal("6.85"), "tax": Decimal("1.10"), "currency": "MXN"},
    }
    body.update(changes)
    return body


def openpay_answer(http_code: int, error_code: int, description: str = "d") -> httpx.Response:
    body = {
        "category": "gateway" if error_code >= 3000 else "request",
        "description": description,
        "http_code": http_code,
        "error_code": error_code,
        "request_id": "1981cdb8-19cb-4bad-8256-e95d58bc035c",
    }
    return httpx.Response(http_code, json=body)


REFUND = {"id": "rf1", "amount": Decimal("40.00"), "description": "x"}


@pytest.mark.parametrize(
    ("status", "method", "extra", "expected"),
    [
        ("completed", "card", {}, PaymentStatus.SUCCEEDED),
        ("in_progress", "card", {}, PaymentStatus.PENDING),
        ("in_progress", "store", {}, PaymentStatus.REQUIRES_ACTION),
        ("in_progress", "bank_account", {}, PaymentStatus.REQUIRES_ACTION),
        (
            "charge_pending",
            "card",
            {"payment_method": {"url": "https://3ds.example"}},
            PaymentStatus.REQUIRES_ACTION,
        ),
        ("charge_pending", "card", {}, PaymentStatus.PENDING),
        ("failed", "card", {"error_code": 3001}, PaymentStatus.FAILED),
        ("cancelled", "store", {}, PaymentStatus.EXPIRED),
        ("expired", "bank_account", {}, PaymentStatus.EXPIRED),
        ("cancelled", "card", {}, PaymentStatus.CANCELED),
        ("refunded", "card", {}, PaymentStatus.REFUNDED),
        ("completed", "card", {"refunds": [REFUND]}, PaymentStatus.PARTIALLY_REFUNDED),
        ("completed", "card", {"refund": {**REFUND, "amount": 150}}, PaymentStatus.REFUNDED),
        ("chargeback_pending", "card", {}, PaymentStatus.CHARGED_BACK),
    ],
)
def test_charge_statuses_are_normalised(
    status: str, method: str, extra: dict[str, Any], expected: PaymentStatus
) -> None:
    payment = openpay_payment(charge(status=status, method=method, **extra))
    assert payment.status is expected
    assert payment.raw_status == status


def test_a_failed_charge_keeps_its_error_code() -> None:
    payment = openpay_payment(
        charge(status="failed", error_code=3003, error_message="Insufficient funds")
    )
    assert payment.failure_code == "insufficient_funds"
    assert payment.provider_failure_code == "3003"
    assert payment.failure_message == "Insufficient funds"


@pytest.mark.parametrize(
    "body",
    [
        charge(status="brand_new_status"),
        charge(method="bitcoin"),
        charge(amount=Decimal("1.005")),
        charge(amount=150.0),  # a float never passes: answers are read with Decimal
        {"id": "tr1"},
    ],
)
def test_unreadable_charges_are_malformed_responses(body: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponse):
        openpay_payment(body)


def test_a_charge_and_its_refunds_are_balance_lines() -> None:
    refund = {**REFUND, "operation_date": "2027-01-15T02:10:00-06:00"}
    lines = openpay_transactions(charge(refunds=[refund]))
    assert [(line.type, line.amount, line.fee, line.net) for line in lines] == [
        ("charge", Decimal("150.00"), Decimal("7.95"), Decimal("142.05")),
        ("refund", Decimal("-40.00"), Decimal("0.00"), Decimal("-40.00")),
    ]
    assert openpay_transactions(charge(status="failed")) == []


def test_refund_statuses() -> None:
    assert openpay_refund(REFUND, "tr1").amount == Decimal("40.00")
    with pytest.raises(MalformedResponse):
        openpay_refund({**REFUND, "status": "brand_new"}, "tr1")


@pytest.mark.parametrize(
    ("response", "error_class", "provider_code"),
    [
        (
            openpay_answer(401, 1002, "The api key or merchant id are invalid"),
            AuthenticationError,
            "1002",
        ),
        (openpay_answer(403, 1010, "Public key not allowed"), AuthenticationError, "1010"),
        (openpay_answer(404, 1005, "The requested resource doesn't exist"), NotFound, "1005"),
        (openpay_answer(422, 1003, "Invalid parameter"), InvalidRequest, "1003"),
        (openpay_answer(402, 3001, "The card was declined"), PaymentDeclined, "3001"),
        (openpay_answer(402, 3002, "The card has expired"), ExpiredCard, "3002"),
        (openpay_answer(402, 3003, "No funds"), InsufficientFunds, "3003"),
        (openpay_answer(402, 3999, "A new refusal"), PaymentDeclined, "3999"),
        (openpay_answer(400, 2005, "Expiry in the past"), ExpiredCard, "2005"),
        (openpay_answer(412, 4001, "Merchant funds"), InvalidRequest, "4001"),
        (openpay_answer(500, 1000, "Internal error"), ProviderUnavailable, "1000"),
        (openpay_answer(429, 9999, "Slow down"), RateLimited, "9999"),
        (httpx.Response(502, text="<html>Bad gateway</html>"), ProviderUnavailable, None),
        (httpx.Response(400, json={"message": "no error_code"}), InvalidRequest, None),
    ],
)
def test_errors_are_normalised(
    response: httpx.Response, error_class: type, provider_code: str | None
) -> None:
    error = openpay_error(response)
    assert type(error) is error_class
    assert error.provider_code == provider_code
    assert error.provider == "openpay"
    assert error.http_status == response.status_code
