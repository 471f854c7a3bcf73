"""Openpay webhooks: HTTP Basic credentials instead of a signature, and event normalisation."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from puente.providers.base import EventKind, InvalidSignature, MalformedWebhook
from puente.providers.openpay_webhooks import (
    basic_authorization,
    normalise_openpay_event,
    verify_openpay_webhook,
)

USER, PASSWORD = "puente", "webhook-pass-0123"
GOOD = {"Authorization": basic_authorization(USER, PASSWORD)}


def body(event_type: str = "charge.succeeded", **transaction: Any) -> bytes:
    tx = {
        "id": "trzjaozcik8msyqshka4",
        "amount": 2000.0,
        "method": "card",
        "status": "completed",
        "order_id": "attempt-42",
        **transaction,
    }
    return json.dumps(
        {"type": event_type, "event_date": "2013-11-22T11:04:49-06:00", "transaction": tx}
    ).encode()


def test_the_registered_credentials_authenticate_a_delivery() -> None:
    event = verify_openpay_webhook(body(), GOOD, USER, PASSWORD)
    assert event.provider == "openpay"
    assert event.kind is EventKind.PAYMENT_SUCCEEDED
    assert event.provider_payment_id == "trzjaozcik8msyqshka4"
    assert event.amount == Decimal("2000.00")  # read as Decimal, never float
    assert event.occurred_at == datetime(2013, 11, 22, 17, 4, 49, tzinfo=UTC)
    assert event.event_id == "charge.succeeded:trzjaozcik8msyqshka4:2013-11-22T11:04:49-06:00"


@pytest.mark.parametrize(
    "authorization",
    [
        basic_authorization(USER, "wrong"),
        basic_authorization("someone", PASSWORD),
        "Basic " + base64.b64encode(USER.encode()).decode(),  # no password part
        "Basic %%%not-base64%%%",
        GOOD["Authorization"][:-6] + "000000",
    ],
)
def test_other_credentials_are_invalid(authorization: str) -> None:
    with pytest.raises(InvalidSignature):
        verify_openpay_webhook(body(), {"authorization": authorization}, USER, PASSWORD)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer abc"}])
def test_missing_or_other_schemes_are_malformed(headers: dict[str, str]) -> None:
    with pytest.raises(MalformedWebhook):
        verify_openpay_webhook(body(), headers, USER, PASSWORD)


def test_any_configured_password_works_during_a_rotation() -> None:
    rotated = {"Authorization": basic_authorization(USER, "new-pass")}
    verify_openpay_webhook(body(), rotated, USER, [PASSWORD, "new-pass"])
    verify_openpay_webhook(body(), GOOD, USER, [PASSWORD, "new-pass"])


def test_authenticated_but_unreadable_bodies_are_malformed() -> None:
    for raw in (b"not json", b"[]", json.dumps({"type": "charge.succeeded"}).encode()):
        with pytest.raises(MalformedWebhook):
            verify_openpay_webhook(raw, GOOD, USER, PASSWORD)


@pytest.mark.parametrize(
    ("event_type", "method", "kind"),
    [
        ("charge.succeeded", "card", EventKind.PAYMENT_SUCCEEDED),
        ("charge.created", "store", EventKind.PAYMENT_REQUIRES_ACTION),
        ("charge.created", "bank_account", EventKind.PAYMENT_REQUIRES_ACTION),
        ("charge.created", "card", EventKind.PAYMENT_PENDING),
        ("charge.failed", "card", EventKind.PAYMENT_FAILED),
        ("charge.cancelled", "store", EventKind.PAYMENT_EXPIRED),
        ("charge.cancelled", "card", EventKind.PAYMENT_CANCELED),
        ("transaction.expired", "bank_account", EventKind.PAYMENT_EXPIRED),
        ("charge.refunded", "card", EventKind.PAYMENT_REFUNDED),
        ("charge.rescored.to.decline", "card", EventKind.PAYMENT_FAILED),
        ("chargeback.created", "card", EventKind.CHARGEBACK),
        ("payout.succeeded", "bank_account", EventKind.PAYOUT_PAID),
        ("payout.failed", "bank_account", EventKind.PAYOUT_FAILED),
        ("spei.received", "bank_account", EventKind.IGNORED),
        ("order.completed", "card", EventKind.IGNORED),
        ("brand.new.thing", "card", EventKind.UNKNOWN),
    ],
)
def test_event_kinds(event_type: str, method: str, kind: EventKind) -> None:
    event = normalise_openpay_event(json.loads(body(event_type, method=method)))
    assert event.kind is kind
    if event_type.startswith("payout."):
        assert event.provider_payment_id is None


def test_a_refund_event_names_the_refund_and_its_amount() -> None:
    refund = {"id": "trcbsmjkw1fd0xgq6lcg", "amount": "40.00"}
    event = normalise_openpay_event(json.loads(body("charge.refunded", refund=refund)))
    assert event.amount == Decimal("40.00")
    assert event.event_id.endswith(":trcbsmjkw1fd0xgq6lcg")  # two refunds, two ids


def test_the_verification_event_is_acknowledged_with_its_code() -> None:
    raw = json.dumps(
        {
            "type": "verification",
            "event_date": "2027-01-15T02:00:00-06:00",
            "verification_code": "Xbz3kbu5",
        }
    ).encode()
    event = verify_openpay_webhook(raw, GOOD, USER, PASSWORD)
    assert event.kind is EventKind.IGNORED
    assert event.event_id == "verification:Xbz3kbu5"
    assert event.raw["verification_code"] == "Xbz3kbu5"
