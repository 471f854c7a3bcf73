"""Reading Conekta objects and error bodies into Puente's normalised values; pure functions.

A Conekta payment is an *order* (``ord_...``) holding one or more *charges*; Puente creates
one charge per order, so the order's ``payment_status`` is the payment's status and its last
charge says how it was paid. Amounts are integer centavos.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from puente.money import from_centavos
from puente.providers import values
from puente.providers.answers import error_body
from puente.providers.conekta_tables import CONEKTA_METHOD_TYPES, CONEKTA_TABLES
from puente.providers.errors import (
    AuthenticationError,
    ExpiredCard,
    InsufficientFunds,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PaymentDeclined,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    carried_payment,
    error_for_status,
    reading_response,
)
from puente.providers.spei_tracking import CONEKTA_SPEI, read_spei_transfer
from puente.providers.timestamps import from_unix_seconds
from puente.providers.values import PaymentMethod, PaymentStatus, RefundStatus

__all__ = [
    "CONEKTA_METHODS",
    "conekta_customer",
    "conekta_decline_class",
    "conekta_error",
    "conekta_payment",
    "conekta_payment_source",
    "conekta_refund",
    "conekta_settlement",
    "conekta_transaction",
]

PROVIDER = "conekta"
CONEKTA_METHODS = CONEKTA_TABLES.methods
# Codes of a card the issuer refused (``processing`` errors that are not about our request).
_DECLINE_PREFIXES = (
    "conekta.errors.processing.bank.",
    "conekta.errors.processing.bank_bindings.",
    "conekta.errors.processing.charge.card_payment.",
)


def conekta_decline_class(code: str | None) -> type[PaymentDeclined]:
    """The decline class for a Conekta failure or error code."""
    text = (code or "").lower()
    if "insufficient_funds" in text:
        return InsufficientFunds
    if "expired" in text:
        return ExpiredCard
    return PaymentDeclined


def _last_charge(order: Mapping[str, Any]) -> Mapping[str, Any]:
    charges = order.get("charges") or {}
    data = charges.get("data") or []
    return data[-1] if data else {}


def _method(charge: Mapping[str, Any]) -> PaymentMethod:
    pm = charge.get("payment_method") or {}
    method = CONEKTA_METHODS.get(pm.get("object") or "") or CONEKTA_METHOD_TYPES.get(
        pm.get("type") or ""
    )
    if method is None:
        raise MalformedResponse(
            f"unsupported Conekta payment method {pm.get('object') or pm.get('type')!r}",
            provider=PROVIDER,
        )
    return method


def _status(order: Mapping[str, Any], method: PaymentMethod) -> PaymentStatus:
    raw = order.get("payment_status")
    if raw is None or raw == "pending_payment":
        # A voucher or CLABE waits for the payer; a card order is only processing.
        waiting = method in (PaymentMethod.CASH, PaymentMethod.SPEI) and raw is not None
        return PaymentStatus.REQUIRES_ACTION if waiting else PaymentStatus.PENDING
    return CONEKTA_TABLES.status(raw, what="order payment_status")


def _next_action(method: PaymentMethod, pm: Mapping[str, Any]) -> values.NextAction | None:
    if method is PaymentMethod.CASH:
        # Conekta has no hosted voucher: the barcode image (with the reference) is what the
        # payer shows at the store, so it doubles as the voucher link.
        return values.NextAction(
            reference=pm.get("reference"),
            expires_at=from_unix_seconds(pm.get("expires_at")),
            barcode_url=pm.get("barcode_url"),
            voucher_url=pm.get("barcode_url"),
        )
    if method is PaymentMethod.SPEI:
        clabe = pm.get("clabe") or pm.get("receiving_account_number")
        return values.NextAction(
            clabe=clabe,
            bank=pm.get("bank") or pm.get("receiving_account_bank"),
            # Each order gets its own CLABE, so the CLABE itself identifies the payment.
            reference=pm.get("reference") or pm.get("reference_number") or clabe,
            expires_at=from_unix_seconds(pm.get("expires_at")),
        )
    return None


def _failure_code(charge: Mapping[str, Any]) -> str | None:
    code = charge.get("failure_code")
    return conekta_decline_class(code).code.value if code else None


def conekta_payment(order: Mapping[str, Any]) -> values.ProviderPayment:
    """An order (with its charges) as a ``ProviderPayment``."""
    with reading_response(PROVIDER, "order"):
        if order.get("object") != "order":
            raise MalformedResponse("expected an order object", provider=PROVIDER)
        charge = _last_charge(order)
        if not charge:
            raise MalformedResponse("order has no charges", provider=PROVIDER)
        method = _method(charge)
        status = _status(order, method)
        waiting = status is PaymentStatus.REQUIRES_ACTION
        customer = (order.get("customer_info") or {}).get("customer_id")
        return values.ProviderPayment(
            provider=PROVIDER,
            provider_id=order["id"],
            status=status,
            amount=from_centavos(order["amount"]),
            method=method,
            currency=str(order.get("currency") or "MXN").upper(),
            raw_status=str(order.get("payment_status") or ""),
            next_action=_next_action(method, charge.get("payment_method") or {})
            if waiting
            else None,
            failure_code=_failure_code(charge),
            failure_message=charge.get("failure_message"),
            provider_failure_code=charge.get("failure_code"),
            amount_refunded=from_centavos(order.get("amount_refunded") or 0),
            customer_id=customer if isinstance(customer, str) else None,
            created_at=from_unix_seconds(order.get("created_at")),
            metadata={str(k): str(v) for k, v in (order.get("metadata") or {}).items()},
            raw=order,
            spei=read_spei_transfer(CONEKTA_SPEI, charge) if method is PaymentMethod.SPEI else None,
        )


def conekta_error(response: httpx.Response) -> ProviderError:
    """A non-2xx Conekta answer as the normalised error, keeping Conekta's code and message."""
    status = response.status_code
    body = error_body(response)
    try:
        details = body["details"]
        detail = details[0] if details else {}
        if not isinstance(detail, Mapping):
            raise TypeError
    except (KeyError, TypeError, IndexError):
        return error_for_status(
            status, provider=PROVIDER, message=f"HTTP {status} without a Conekta error body"
        )
    kind, code = body.get("type"), detail.get("code")
    cls: type[ProviderError]
    if status in (401, 403) or kind == "authentication_error":
        cls = AuthenticationError
    elif status == 429:
        cls = RateLimited
    elif status >= 500 or kind == "api_error":
        cls = ProviderUnavailable
    elif status == 404 or kind == "resource_not_found_error":
        cls = NotFound
    elif str(code or "").startswith(_DECLINE_PREFIXES) or "expiration_date.expired" in str(code):
        cls = conekta_decline_class(code)
    elif status == 402 and not str(code or "").startswith("conekta.errors.processing.tokeniz"):
        cls = conekta_decline_class(code)
    else:
        cls = InvalidRequest
    data = body.get("data")
    order = data if isinstance(data, Mapping) and data.get("object") == "order" else None
    message = detail.get("message") or detail.get("debug_message") or f"HTTP {status}"
    payment = carried_payment(conekta_payment, order)
    return cls.answered(
        status, body, provider=PROVIDER, message=message, code=code or kind, payment=payment
    )


def conekta_customer(body: Mapping[str, Any]) -> values.ProviderCustomer:
    """A Conekta customer."""
    with reading_response(PROVIDER, "customer"):
        return values.ProviderCustomer(
            PROVIDER, body["id"], body.get("name"), body.get("email"), raw=body
        )


def _month_or_year(value: Any, *, year: bool = False) -> int | None:
    if value in (None, ""):
        return None
    number = int(str(value))
    return number + 2000 if year and number < 100 else number


def conekta_payment_source(body: Mapping[str, Any]) -> values.SavedPaymentMethod:
    """A card payment source attached to a customer (brand and last four only)."""
    with reading_response(PROVIDER, "payment source"):
        if body.get("type") not in ("card", None):
            raise MalformedResponse(
                f"unexpected payment source {body.get('type')!r}", provider=PROVIDER
            )
        return values.SavedPaymentMethod(
            PROVIDER,
            body["id"],
            body.get("parent_id"),
            PaymentMethod.CARD,
            brand=body.get("brand"),
            last4=body.get("last4"),
            exp_month=_month_or_year(body.get("exp_month")),
            exp_year=_month_or_year(body.get("exp_year"), year=True),
            raw=body,
        )


def conekta_refund(order: Mapping[str, Any]) -> values.ProviderRefund:
    """The newest refund of an order, as ``POST /orders/{id}/refunds`` returns the order."""
    with reading_response(PROVIDER, "refund"):
        refunds = (_last_charge(order).get("refunds") or {}).get("data") or []
        if not refunds:
            raise MalformedResponse("refunded order shows no refund", provider=PROVIDER)
        refund = refunds[-1]
        raw_status = refund.get("status")
        # Card refunds carry no status: the order already counts them in amount_refunded.
        status = (
            RefundStatus.SUCCEEDED
            if raw_status is None
            else CONEKTA_TABLES.refund_status(raw_status)
        )
        return values.ProviderRefund(
            PROVIDER,
            refund["id"],
            order["id"],
            from_centavos(abs(refund["amount"])),  # Conekta reports refunds as negatives
            status,
            raw_status=str(raw_status or ""),
            currency=str(order.get("currency") or "MXN").upper(),
            created_at=from_unix_seconds(refund.get("created_at")),
            raw=refund,
        )


def conekta_transaction(item: Mapping[str, Any]) -> values.ProviderTransaction:
    """A balance transaction (``capture``, ``refund``, ``chargeback``...)."""
    return CONEKTA_TABLES.transaction_from(item)


def conekta_settlement(item: Mapping[str, Any]) -> values.ProviderSettlement:
    """A transfer (payout) from Conekta to the institution's bank account."""
    return CONEKTA_TABLES.settlement_from(item)
