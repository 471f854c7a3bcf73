"""Reading Stripe objects and error bodies into Puente's normalised values; pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from puente.money import from_centavos
from puente.providers import values
from puente.providers.answers import error_body
from puente.providers.errors import (
    AuthenticationError,
    ErrorCode,
    ExpiredCard,
    InsufficientFunds,
    InvalidRequest,
    MalformedResponse,
    PaymentDeclined,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    carried_payment,
    error_class_for_status,
    error_for_status,
    reading_response,
)
from puente.providers.spei_tracking import STRIPE_SPEI, read_spei_transfer
from puente.providers.stripe_tables import STRIPE_TABLES
from puente.providers.stripe_webhooks import EXPIRED_CODE
from puente.providers.timestamps import from_unix_seconds
from puente.providers.values import PaymentMethod, PaymentStatus

__all__ = [
    "STRIPE_METHODS",
    "stripe_customer",
    "stripe_error",
    "stripe_payment",
    "stripe_payment_method",
    "stripe_refund",
    "stripe_settlement",
    "stripe_transaction",
]

PROVIDER = "stripe"
STRIPE_METHODS = STRIPE_TABLES.methods


def _currency(obj: Mapping[str, Any]) -> str:
    return str(obj.get("currency") or "mxn").upper()


def _decline_class(code: str | None, decline_code: str | None) -> type[PaymentDeclined]:
    if "insufficient_funds" in (code, decline_code):
        return InsufficientFunds
    if "expired_card" in (code, decline_code):
        return ExpiredCard
    return PaymentDeclined


def _status(pi: Mapping[str, Any], charge: Mapping[str, Any] | None) -> PaymentStatus:
    raw = pi["status"]
    if raw == "succeeded":
        if charge and charge.get("disputed"):
            return PaymentStatus.CHARGED_BACK
        refunded = charge.get("amount_refunded", 0) if charge else 0
        if refunded and refunded >= pi["amount"]:
            return PaymentStatus.REFUNDED
        return PaymentStatus.PARTIALLY_REFUNDED if refunded else PaymentStatus.SUCCEEDED
    if raw == "requires_payment_method":
        # Stripe reuses this status for "never tried", "declined" and "voucher lapsed".
        error = pi.get("last_payment_error")
        if not error:
            return PaymentStatus.PENDING
        return PaymentStatus.EXPIRED if error.get("code") == EXPIRED_CODE else PaymentStatus.FAILED
    return STRIPE_TABLES.status(raw, what="PaymentIntent status")


def _next_action(action: Mapping[str, Any] | None) -> values.NextAction | None:
    if not action:
        return None
    kind = action.get("type")
    if kind == "redirect_to_url":
        return values.NextAction(redirect_url=action["redirect_to_url"]["url"])
    if kind == "oxxo_display_details":
        details = action["oxxo_display_details"]
        return values.NextAction(
            reference=details.get("number"),
            expires_at=from_unix_seconds(details.get("expires_after")),
            voucher_url=details.get("hosted_voucher_url"),
        )
    if kind == "display_bank_transfer_instructions":
        details = action["display_bank_transfer_instructions"]
        addresses = details.get("financial_addresses") or []
        spei: Mapping[str, Any] = next(
            (a["spei"] for a in addresses if a.get("type") == "spei"), {}
        )
        remaining = details.get("amount_remaining")
        return values.NextAction(
            clabe=spei.get("clabe"),
            bank=spei.get("bank_name"),
            reference=details.get("reference"),
            voucher_url=details.get("hosted_instructions_url"),
            amount_remaining=from_centavos(remaining) if isinstance(remaining, int) else None,
        )
    return values.NextAction()  # e.g. use_stripe_sdk: the payer acts inside Stripe.js


def stripe_payment(pi: Mapping[str, Any]) -> values.ProviderPayment:
    """A PaymentIntent (``latest_charge`` expanded or not) as a ``ProviderPayment``."""
    with reading_response(PROVIDER, "PaymentIntent"):
        if pi.get("object") != "payment_intent":
            raise MalformedResponse("expected a payment_intent object", provider=PROVIDER)
        types = pi.get("payment_method_types") or []
        method = STRIPE_METHODS.get(types[0]) if types else None
        if method is None:
            raise MalformedResponse(
                f"unsupported payment method types {types!r}", provider=PROVIDER
            )
        latest = pi.get("latest_charge")
        charge = latest if isinstance(latest, Mapping) else None
        error = pi.get("last_payment_error") or {}
        failure_code = None
        if error:
            is_card = error.get("type") == "card_error"
            failure_code = (
                _decline_class(error.get("code"), error.get("decline_code")).code.value
                if is_card
                else ErrorCode.INVALID_REQUEST.value
            )
        customer = pi.get("customer")
        return values.ProviderPayment(
            provider=PROVIDER,
            provider_id=pi["id"],
            status=_status(pi, charge),
            amount=from_centavos(pi["amount"]),
            method=method,
            currency=_currency(pi),
            raw_status=pi["status"],
            next_action=_next_action(pi.get("next_action")),
            failure_code=failure_code,
            failure_message=error.get("message"),
            provider_failure_code=error.get("decline_code") or error.get("code"),
            amount_refunded=from_centavos(charge.get("amount_refunded", 0) if charge else 0),
            customer_id=customer if isinstance(customer, str) else None,
            created_at=from_unix_seconds(pi.get("created")),
            metadata=dict(pi.get("metadata") or {}),
            raw=pi,
            spei=read_spei_transfer(STRIPE_SPEI, pi) if method is PaymentMethod.SPEI else None,
        )


def stripe_error(response: httpx.Response) -> ProviderError:
    """A non-2xx Stripe answer as the normalised error, keeping Stripe's code and message."""
    status = response.status_code
    error = error_body(response).get("error")
    if not isinstance(error, Mapping):
        return error_for_status(
            status, provider=PROVIDER, message=f"HTTP {status} without a Stripe error body"
        )
    kind, code, decline = error.get("type"), error.get("code"), error.get("decline_code")
    # The status first (a 402 without a card error is our mistake), then what Stripe's
    # error type says, except that refused credentials and throttling stay what they are.
    cls = error_class_for_status(status, payment_required=InvalidRequest)
    if cls not in (AuthenticationError, RateLimited):
        if code in ("rate_limit", "lock_timeout"):
            cls = RateLimited
        elif kind == "card_error":
            cls = _decline_class(code, decline)
        elif kind == "api_error":
            cls = ProviderUnavailable
    payment = carried_payment(stripe_payment, error.get("payment_intent"))
    message, code = error.get("message"), decline or code or kind
    return cls.answered(
        status, error, provider=PROVIDER, message=message, code=code, payment=payment
    )


def stripe_customer(body: Mapping[str, Any]) -> values.ProviderCustomer:
    """A Stripe customer."""
    with reading_response(PROVIDER, "customer"):
        return values.ProviderCustomer(
            PROVIDER, body["id"], body.get("name"), body.get("email"), raw=body
        )


def stripe_payment_method(body: Mapping[str, Any]) -> values.SavedPaymentMethod:
    """An attached card PaymentMethod (brand and last four only)."""
    with reading_response(PROVIDER, "payment method"):
        card = body.get("card") or {}
        return values.SavedPaymentMethod(
            PROVIDER,
            body["id"],
            body.get("customer"),
            PaymentMethod.CARD,
            brand=card.get("brand"),
            last4=card.get("last4"),
            exp_month=card.get("exp_month"),
            exp_year=card.get("exp_year"),
            raw=body,
        )


def stripe_refund(body: Mapping[str, Any], payment_id: str) -> values.ProviderRefund:
    """A Stripe refund; an unknown status is a ``MalformedResponse``."""
    with reading_response(PROVIDER, "refund"):
        return values.ProviderRefund(
            PROVIDER,
            body["id"],
            body.get("payment_intent") or payment_id,
            from_centavos(body["amount"]),
            STRIPE_TABLES.refund_status(body["status"]),
            raw_status=body["status"],
            currency=_currency(body),
            created_at=from_unix_seconds(body.get("created")),
            raw=body,
        )


def stripe_transaction(
    item: Mapping[str, Any], payout_id: str | None = None
) -> values.ProviderTransaction:
    """A balance transaction (charge, refund, fee, adjustment, payout)."""
    return STRIPE_TABLES.transaction_from(item, payout_id)


def stripe_settlement(item: Mapping[str, Any]) -> values.ProviderSettlement:
    """A payout to the institution's bank account."""
    return STRIPE_TABLES.settlement_from(item)
