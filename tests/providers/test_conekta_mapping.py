"""Reading Conekta orders, refunds and error bodies: pure mapping, no network."""

from __future__ import annotations

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
from puente.providers.conekta_mapping import conekta_error, conekta_payment

NOW = 1_800_000_000


def card_order(**changes: Any) -> dict[str, Any]:
    charge = {
        "id": "6400000000000000000000a1",
        "object": "charge",
        "amount": 15000,
        "status": "paid",
        "payment_method": {"object": "card_payment", "type": "credit", "last4": "4242"},
    }
    order = {
        "id": "ord_2tUnitTest0000001",
        "object": "order",
        "amount": 15000,
        "amount_refunded": 0,
        "currency": "MXN",
        "payment_status": "paid",
        "charges": {"object": "list", "has_more": False, "total": 1, "data": [charge]},
        "created_at": NOW,
    }
    charge.update(changes.pop("charge", {}))
    order.update(changes)
    return order


def error_answer(status: int, kind: str, code: str, message: str = "m") -> httpx.Response:
    body = {
        "object": "error",
        "type": kind,
        "log_id": "641b6d073cd9a50001515007",
        "details": [{"code": code, "message": message, "debug_message": "d", "param": None}],
    }
    return httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("payment_status", "method", "expected"),
    [
        ("paid", "card_payment", PaymentStatus.SUCCEEDED),
        ("pending_payment", "card_payment", PaymentStatus.PENDING),
        ("pending_payment", "cash_payment", PaymentStatus.REQUIRES_ACTION),
        ("pending_payment", "bank_transfer_payment", PaymentStatus.REQUIRES_ACTION),
        ("pre_authorized", "card_payment", PaymentStatus.PENDING),
        ("declined", "card_payment", PaymentStatus.FAILED),
        ("expired", "cash_payment", PaymentStatus.EXPIRED),
        ("canceled", "card_payment", PaymentStatus.CANCELED),
        ("voided", "card_payment", PaymentStatus.CANCELED),
        ("refunded", "card_payment", PaymentStatus.REFUNDED),
        ("partially_refunded", "card_payment", PaymentStatus.PARTIALLY_REFUNDED),
        ("charged_back", "card_payment", PaymentStatus.CHARGED_BACK),
        (None, "card_payment", PaymentStatus.PENDING),
    ],
)
def test_order_statuses_are_normalised(
    payment_status: str | None, method: str, expected: PaymentStatus
) -> None:
    payment = conekta_payment(
        card_order(payment_status=payment_status, charge={"payment_method": {"object": method}})
    )
    assert payment.status is expected
    assert payment.raw_status == (payment_status or "")


def test_a_declined_order_keeps_its_failure_codes() -> None:
    payment = conekta_payment(
        card_order(
            payment_status="declined",
            charge={
                "status": "declined",
                "failure_code": "insufficient_funds",
                "failure_message": "Esta tarjeta no tiene suficientes fondos.",
            },
        )
    )
    assert payment.failure_code == "insufficient_funds"
    assert payment.provider_failure_code == "insufficient_funds"
    assert payment.failure_message == "Esta tarjeta no tiene suficientes fondos."


@pytest.mark.parametrize(
    "body",
    [
        card_order(payment_status="brand_new_status"),
        card_order(object="charge"),
        card_order(charges={"object": "list", "data": []}),
        card_order(charge={"payment_method": {"object": "crypto_payment"}}),
        card_order(amount="150.00"),
        {"id": "ord_1"},
    ],
)
def test_unreadable_orders_are_malformed_responses(body: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponse):
        conekta_payment(body)


@pytest.mark.parametrize(
    ("response", "error_class", "provider_code"),
    [
        (
            error_answer(401, "authentication_error", "conekta.errors.authentication.missing_key"),
            AuthenticationError,
            "conekta.errors.authentication.missing_key",
        ),
        (
            error_answer(402, "processing_error", "conekta.errors.processing.bank.declined"),
            PaymentDeclined,
            "conekta.errors.processing.bank.declined",
        ),
        (
            error_answer(
                402, "processing_error", "conekta.errors.processing.bank.insufficient_funds"
            ),
            InsufficientFunds,
            "conekta.errors.processing.bank.insufficient_funds",
        ),
        (
            error_answer(
                422,
                "parameter_validation_error",
                "conekta.errors.parameter_validation.expiration_date.expired",
            ),
            ExpiredCard,
            "conekta.errors.parameter_validation.expiration_date.expired",
        ),
        (
            error_answer(402, "processing_error", "conekta.errors.processing.tokenization.used"),
            InvalidRequest,
            "conekta.errors.processing.tokenization.used",
        ),
        (
            error_answer(
                404, "resource_not_found_error", "conekta.errors.resource_not_found.entity"
            ),
            NotFound,
            "conekta.errors.resource_not_found.entity",
        ),
        (
            error_answer(
                428,
                "precondition_required_error",
                "conekta.errors.precondition_required.order.refund",
            ),
            InvalidRequest,
            "conekta.errors.precondition_required.order.refund",
        ),
        (
            error_answer(500, "api_error", "conekta.errors.api.system.general_failure"),
            ProviderUnavailable,
            "conekta.errors.api.system.general_failure",
        ),
        (
            error_answer(429, "api_error", "conekta.errors.api.rate_limit"),
            RateLimited,
            "conekta.errors.api.rate_limit",
        ),
        (httpx.Response(502, text="<html>Bad gateway</html>"), ProviderUnavailable, None),
        (httpx.Response(422, json={"object": "error", "details": []}), InvalidRequest, None),
        (httpx.Response(401, json={"error": "a string"}), AuthenticationError, None),
    ],
)
def test_errors_are_normalised(
    response: httpx.Response, error_class: type, provider_code: str | None
) -> None:
    error = conekta_error(response)
    assert type(error) is error_class
    assert error.provider_code == provider_code
    assert error.provider == "conekta"
    assert error.http_status == response.status_code
