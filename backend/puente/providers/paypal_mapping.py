"""Reading PayPal orders, captures, refunds, vault tokens, reports and errors; pure functions.

A Puente payment at PayPal is an *order* (its id is the ``provider_id``, stable from creation
to refund); the money is in the order's capture. Amounts are ``{currency_code, value}`` with
``value`` a decimal string. Card declines come back as a COMPLETED order whose capture is
DECLINED with a processor ``response_code`` (PayPal's sandbox triggers them with the name on
the card, e.g. ``CCREJECT-IF``); a PayPal-wallet funding failure is a 422
``INSTRUMENT_DECLINED``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx

from puente.money import ZERO, parse_amount
from puente.providers import values
from puente.providers.answers import error_body, first_mapping
from puente.providers.errors import (
    AuthenticationError,
    ExpiredCard,
    InvalidRequest,
    MalformedResponse,
    PaymentDeclined,
    ProviderError,
    RateLimited,
    error_class_for_status,
    reading_response,
    unknown_status,
)
from puente.providers.paypal_tables import PAYPAL_TABLES
from puente.providers.timestamps import iso_utc
from puente.providers.values import PaymentMethod, PaymentStatus

__all__ = [
    "WITHDRAWAL_CODE",
    "decline_for_response_code",
    "money",
    "paypal_error",
    "paypal_order",
    "paypal_payment_token",
    "paypal_refund",
    "paypal_settlement",
    "paypal_time",
    "paypal_transaction",
]

PROVIDER = "paypal"
WITHDRAWAL_CODE = "T0400"  # "General withdrawal from PayPal account": money to the bank
_ORDER_WAITING = {"CREATED", "PAYER_ACTION_REQUIRED"}
_DECLINE_ISSUES = {
    "INSTRUMENT_DECLINED",
    "PAYER_CANNOT_PAY",
    "TRANSACTION_REFUSED",
    "CARD_EXPIRED",
    "PAYEE_BLOCKED_TRANSACTION",
}


def money(amount: Decimal, currency: str = "MXN") -> dict[str, str]:
    """``{"currency_code": "MXN", "value": "150.00"}``."""
    return {"currency_code": currency, "value": str(parse_amount(amount))}


def _value(obj: Mapping[str, Any] | None) -> Decimal:
    if not obj:
        return ZERO
    return parse_amount(str(obj["value"]), allow_negative=True)


# ``2024-05-10T13:43:14Z`` or the reporting API's ``...+0000`` as aware UTC.
paypal_time = iso_utc


def decline_for_response_code(code: str | None) -> tuple[type[PaymentDeclined], str]:
    """(error class, PayPal's name) for a processor response code."""
    return PAYPAL_TABLES.decline(code, code or "DECLINED")


def _capture(order: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for unit in order.get("purchase_units") or []:
        captures = ((unit.get("payments") or {}).get("captures")) or []
        if captures:
            return captures[-1]
    return None


def _refunded(order: Mapping[str, Any]) -> Decimal:
    total = ZERO
    for unit in order.get("purchase_units") or []:
        for refund in (unit.get("payments") or {}).get("refunds") or []:
            if refund.get("status") in ("COMPLETED", "PENDING"):
                total += _value(refund.get("amount"))
    return total


def _status(order: Mapping[str, Any], capture: Mapping[str, Any] | None) -> PaymentStatus:
    status = order["status"]
    if status in _ORDER_WAITING:
        return PaymentStatus.REQUIRES_ACTION
    if status in ("APPROVED", "SAVED"):
        return PaymentStatus.PENDING  # the payer is done; the merchant captures
    if status == "VOIDED":
        return PaymentStatus.CANCELED
    if status != "COMPLETED":
        raise unknown_status("order status", status, provider=PROVIDER)
    if capture is None:
        raise MalformedResponse("COMPLETED order without a capture", provider=PROVIDER)
    raw = capture.get("status")
    return PAYPAL_TABLES.status(raw, what="capture status")


def _approve_link(order: Mapping[str, Any]) -> str | None:
    links = {link.get("rel"): link.get("href") for link in order.get("links") or []}
    return links.get("payer-action") or links.get("approve")


def _vault_customer(source: Mapping[str, Any]) -> str | None:
    for details in source.values():
        if isinstance(details, Mapping):
            customer = ((details.get("attributes") or {}).get("vault") or {}).get("customer")
            if isinstance(customer, Mapping) and customer.get("id"):
                return str(customer["id"])
    return None


def paypal_order(order: Mapping[str, Any]) -> values.ProviderPayment:
    """An Orders v2 order (``Prefer: return=representation``) as a ``ProviderPayment``."""
    with reading_response(PROVIDER, "order"):
        units = order["purchase_units"]
        amount = _value(units[0]["amount"])
        capture = _capture(order)
        status = _status(order, capture)
        source = order.get("payment_source") or {}
        method = PaymentMethod.CARD if "card" in source else PaymentMethod.PAYPAL
        failure_code = failure_message = provider_failure = None
        if status is PaymentStatus.FAILED and capture is not None:
            code = (capture.get("processor_response") or {}).get("response_code")
            cls, name = decline_for_response_code(code)
            failure_code, failure_message = cls.code.value, name
            provider_failure = code or capture.get("status")
        next_action = None
        if status is PaymentStatus.REQUIRES_ACTION:
            next_action = values.NextAction(redirect_url=_approve_link(order))
        return values.ProviderPayment(
            provider=PROVIDER,
            provider_id=str(order["id"]),
            status=status,
            amount=amount,
            method=method,
            currency=str(units[0]["amount"].get("currency_code") or "MXN"),
            raw_status=order["status"]
            if capture is None
            else f"{order['status']}/{capture.get('status')}",
            next_action=next_action,
            failure_code=failure_code,
            failure_message=failure_message,
            provider_failure_code=provider_failure,
            amount_refunded=_refunded(order),
            customer_id=_vault_customer(source),
            created_at=paypal_time(order.get("create_time")),
            metadata={"custom_id": units[0]["custom_id"]} if units[0].get("custom_id") else {},
            raw=order,
        )


def paypal_error(response: httpx.Response) -> ProviderError:
    """``{name, message, debug_id, details[{issue, description}]}`` or an OAuth error body."""
    status = response.status_code
    body = error_body(response)
    first = first_mapping(body, "details")
    issue = first.get("issue") or body.get("name") or body.get("error")
    message = (
        first.get("description")
        or body.get("message")
        or body.get("error_description")
        or f"HTTP {status}"
    )
    cls = error_class_for_status(status, payment_required=InvalidRequest)
    # PayPal's issue says more than the status, except that refused credentials stay refused.
    if issue == "RATE_LIMIT_REACHED" and cls is not AuthenticationError:
        cls = RateLimited
    elif cls is InvalidRequest and issue in _DECLINE_ISSUES:
        cls = ExpiredCard if issue == "CARD_EXPIRED" else PaymentDeclined
    return cls.answered(status, body, provider=PROVIDER, message=message, code=issue)


def paypal_refund(body: Mapping[str, Any], payment_id: str) -> values.ProviderRefund:
    """A capture refund; an unknown status is a ``MalformedResponse``."""
    with reading_response(PROVIDER, "refund"):
        status = PAYPAL_TABLES.refund_status(body["status"])
        return values.ProviderRefund(
            PROVIDER,
            str(body["id"]),
            payment_id,
            _value(body["amount"]),
            status,
            raw_status=body["status"],
            currency=str(body["amount"].get("currency_code") or "MXN"),
            created_at=paypal_time(body.get("create_time")),
            raw=body,
        )


def paypal_payment_token(body: Mapping[str, Any]) -> values.SavedPaymentMethod:
    """A vault payment token (card: brand and last digits; or a PayPal wallet)."""
    with reading_response(PROVIDER, "payment token"):
        source = body["payment_source"]
        customer = (body.get("customer") or {}).get("id")
        if "card" in source:
            card = source["card"]
            year, _, month = str(card.get("expiry") or "").partition("-")
            return values.SavedPaymentMethod(
                PROVIDER,
                str(body["id"]),
                str(customer) if customer else None,
                PaymentMethod.CARD,
                brand=str(card.get("brand") or "").lower() or None,
                last4=card.get("last_digits"),
                exp_month=int(month) if month else None,
                exp_year=int(year) if year else None,
                raw=body,
            )
        return values.SavedPaymentMethod(
            PROVIDER,
            str(body["id"]),
            str(customer) if customer else None,
            PaymentMethod.PAYPAL,
            raw=body,
        )


def paypal_transaction(detail: Mapping[str, Any]) -> values.ProviderTransaction:
    """A reporting ``transaction_details`` item (fees come negative: we keep them positive)."""
    with reading_response(PROVIDER, "reporting transaction"):
        info = detail["transaction_info"]
        created = paypal_time(info["transaction_initiation_date"])
        if created is None:
            raise MalformedResponse("transaction without a date", provider=PROVIDER)
        amount = _value(info["transaction_amount"])
        fee = -_value(info.get("fee_amount"))
        return values.ProviderTransaction(
            PROVIDER,
            str(info["transaction_id"]),
            str(info["transaction_event_code"]),
            amount,
            fee,
            amount - fee,
            str(info.get("transaction_status") or ""),
            created,
            currency=str(info["transaction_amount"].get("currency_code") or "MXN"),
            source_id=info.get("paypal_reference_id"),
            raw=detail,
        )


def paypal_settlement(detail: Mapping[str, Any]) -> values.ProviderSettlement:
    """A T0400 withdrawal to the bank as a settlement (its amount is money out: negated)."""
    line = paypal_transaction(detail)
    status = {"S": "paid", "P": "pending", "D": "failed", "V": "reversed"}
    return values.ProviderSettlement(
        PROVIDER,
        line.provider_id,
        -line.amount,
        status.get(line.status, line.status),
        line.created_at,
        currency=line.currency,
        raw=detail,
    )
