"""Stripe object shapes, test cards and error bodies for the simulator (pure builders).

Shapes follow Stripe API version ``2024-06-20`` closely enough for stripe-python to build its
objects from them: every object has ``id``, ``object`` and the fields Puente reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "API_VERSION",
    "MAGIC_PAYMENT_METHODS",
    "MIN_AMOUNT",
    "TEST_CARDS",
    "TEST_TOKENS",
    "StripeError",
    "TestCard",
    "balance_transaction",
    "card_details",
    "charge",
    "customer_object",
    "int_param",
    "oxxo_expiry",
    "payment_intent",
    "payment_method_object",
    "stripe_fee",
]

API_VERSION = "2024-06-20"
MIN_AMOUNT = 1000  # Stripe's minimum charge in MXN is $10.00 (1000 centavos)
MEXICO_CITY = ZoneInfo("America/Mexico_City")
DOCS = "https://stripe.com/docs/error-codes/"


@dataclass(frozen=True, slots=True)
class TestCard:
    """A Stripe test card and what happens when it is charged."""

    brand: str
    last4: str
    exp_month: int = 12
    exp_year: int = 2034
    funding: str = "credit"
    # (code, decline_code, message) exactly as Stripe reports the decline
    decline: tuple[str, str | None, str] | None = None
    # The issuer asks for 3-D Secure on every charge (Stripe's 4000 0027 6000 3184).
    three_d_secure: bool = False


TEST_CARDS: dict[str, TestCard] = {
    "visa": TestCard("visa", "4242"),
    "mastercard": TestCard("mastercard", "4444"),
    "chargeDeclined": TestCard(
        "visa", "0002", decline=("card_declined", "generic_decline", "Your card was declined.")
    ),
    "chargeDeclinedInsufficientFunds": TestCard(
        "visa",
        "9995",
        decline=("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ),
    "chargeDeclinedExpiredCard": TestCard(
        "visa", "0069", decline=("expired_card", "expired_card", "Your card has expired.")
    ),
    "threeDSecure2Required": TestCard("visa", "3184", three_d_secure=True),
    "chargeDeclinedStolenCard": TestCard(
        "visa", "9979", decline=("card_declined", "stolen_card", "Your card was declined.")
    ),
    "chargeDeclinedLostCard": TestCard(
        "visa", "9987", decline=("card_declined", "lost_card", "Your card was declined.")
    ),
    # Stripe reports a processing error without a decline_code.
    "chargeDeclinedProcessingError": TestCard(
        "visa",
        "0119",
        decline=(
            "processing_error",
            None,
            "An error occurred while processing your card. Try again in a little bit.",
        ),
    ),
}
TEST_TOKENS = {f"tok_{name}": name for name in TEST_CARDS}
MAGIC_PAYMENT_METHODS = {f"pm_card_{name}": name for name in TEST_CARDS}


class StripeError(Exception):
    """An error Stripe would answer with; ``body()`` is its exact JSON shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"message": message, "type": type}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = DOCS + code.replace("_", "-")
        if param:
            self.error["param"] = param
        self.error.update({k: v for k, v in extra.items() if v is not None})

    def body(self) -> dict[str, Any]:
        """``{"error": {...}}``."""
        return {"error": self.error}

    @classmethod
    def missing(cls, param: str) -> StripeError:
        """``parameter_missing``."""
        return cls(400, f"Missing required param: {param}.", code="parameter_missing", param=param)

    @classmethod
    def no_such(cls, kind: str, object_id: str, param: str | None = None) -> StripeError:
        """``resource_missing`` (404)."""
        return cls(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def int_param(params: Mapping[str, Any], name: str, *, required: bool = False) -> int | None:
    """An integer parameter as Stripe validates it."""
    value = params.get(name)
    if value in (None, ""):
        if required:
            raise StripeError.missing(name)
        return None
    try:
        return int(str(value))
    except ValueError:
        raise StripeError(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name
        ) from None


def stripe_fee(amount: int) -> tuple[int, int]:
    """(fee, IVA on the fee) in centavos: Stripe Mexico's 3.6% + $3.00 MXN, plus 16% IVA."""
    base = (amount * 36 + 500) // 1000 + 300
    return base, (base * 16 + 50) // 100


def oxxo_expiry(now: float, days: int) -> int:
    """Unix time of 23:59:59 Mexico City, ``days`` calendar days from now (Stripe's rule)."""
    local = datetime.fromtimestamp(now, UTC).astimezone(MEXICO_CITY)
    end = (local + timedelta(days=days)).replace(hour=23, minute=59, second=59, microsecond=0)
    return int(end.timestamp())


def customer_object(
    cus_id: str, invoice_prefix: str, created: int, params: Mapping[str, Any]
) -> dict[str, Any]:
    """A Customer from ``POST /v1/customers`` parameters."""
    return {
        "id": cus_id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description"),
        "discount": None,
        "email": params.get("email"),
        "invoice_prefix": invoice_prefix,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": dict(params.get("metadata") or {}),
        "name": params.get("name"),
        "phone": params.get("phone"),
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def payment_method_object(
    pm_id: str, pm_type: str, details: dict[str, Any], billing: Mapping[str, Any], created: int
) -> dict[str, Any]:
    """A PaymentMethod of ``pm_type`` (card, oxxo, customer_balance)."""
    return {
        "id": pm_id,
        "object": "payment_method",
        "billing_details": {
            "address": None,
            "email": billing.get("email"),
            "name": billing.get("name"),
            "phone": billing.get("phone"),
        },
        "created": created,
        "customer": None,
        "livemode": False,
        "metadata": {},
        "type": pm_type,
        pm_type: details,
    }


def card_details(card: TestCard, fingerprint: str) -> dict[str, Any]:
    """The ``card`` hash of a card PaymentMethod: brand and last four, never the number."""
    return {
        "brand": card.brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass",
        },
        "country": "US",
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "fingerprint": fingerprint,
        "funding": card.funding,
        "last4": card.last4,
        "networks": {"available": [card.brand], "preferred": None},
    }


def payment_intent(
    pi_id: str,
    secret: str,
    *,
    amount: int,
    created: int,
    customer: str | None,
    description: str | None,
    metadata: dict[str, Any],
    types: list[str],
    options: dict[str, Any],
) -> dict[str, Any]:
    """A new PaymentIntent in ``requires_payment_method``."""
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{pi_id}_secret_{secret}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": "mxn",
        "customer": customer,
        "description": description,
        "invoice": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": options,
        "payment_method_types": types,
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def charge(
    ch_id: str,
    pi: dict[str, Any],
    pm: dict[str, Any],
    *,
    created: int,
    balance_transaction: str | None,
    decline: tuple[str, str | None, str] | None = None,
) -> dict[str, Any]:
    """The Charge behind a PaymentIntent attempt, succeeded or failed (``decline``)."""
    ok = decline is None
    details: dict[str, Any] = {"type": pm["type"], pm["type"]: dict(pm.get(pm["type"]) or {})}
    if pm["type"] == "card":
        details["card"]["network"] = pm["card"]["brand"]
    if ok:
        outcome = {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 20,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    else:
        outcome = {
            "network_status": "declined_by_network",
            "reason": decline[1] if decline else None,
            "risk_level": "normal",
            "risk_score": 20,
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined",
        }
    return {
        "id": ch_id,
        "object": "charge",
        "amount": pi["amount"],
        "amount_captured": pi["amount"] if ok else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": balance_transaction,
        "billing_details": pm.get("billing_details"),
        "calculated_statement_descriptor": "PUENTE SANDBOX",
        "captured": ok,
        "created": created,
        "currency": "mxn",
        "customer": pi.get("customer"),
        "description": pi.get("description"),
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": decline[0] if decline else None,
        "failure_message": decline[2] if decline else None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(pi.get("metadata") or {}),
        "outcome": outcome,
        "paid": ok,
        "payment_intent": pi["id"],
        "payment_method": pm["id"],
        "payment_method_details": details,
        "receipt_email": None,
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": None,
        "status": "succeeded" if ok else "failed",
    }


def balance_transaction(
    txn_id: str,
    *,
    amount: int,
    created: int,
    source: str,
    type: str,
    category: str,
    description: str | None = None,
    with_fee: bool = False,
    available_after_days: int = 2,
) -> dict[str, Any]:
    """A line in the Stripe balance."""
    fee, iva = stripe_fee(amount) if with_fee else (0, 0)
    fee_details = []
    if with_fee:
        fee_details = [
            {
                "amount": fee,
                "application": None,
                "currency": "mxn",
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            },
            {
                "amount": iva,
                "application": None,
                "currency": "mxn",
                "description": "IVA",
                "type": "tax",
            },
        ]
    return {
        "id": txn_id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created + available_after_days * 86400,
        "created": created,
        "currency": "mxn",
        "description": description,
        "exchange_rate": None,
        "fee": fee + iva,
        "fee_details": fee_details,
        "net": amount - fee - iva,
        "reporting_category": category,
        "source": source,
        "status": "pending",
        "type": type,
    }
