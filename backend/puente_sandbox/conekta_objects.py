"""Conekta object shapes, test tokens, error bodies and the webhook key (pure builders).

Shapes follow Conekta's API 2.x OpenAPI (``conekta/openapi``): orders holding a ``charges``
list, ``card_payment`` / ``cash_payment`` / ``bank_transfer_payment`` payment methods, amounts
in centavos, unix-second timestamps, error bodies ``{object: "error", type, log_id,
details: [{code, message, debug_message, param}]}``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from puente_sandbox.core import IdGenerator
from puente_sandbox.lifecycle import Dialect, Phase

__all__ = [
    "CONEKTA",
    "TEST_TOKENS",
    "ConektaError",
    "SandboxCard",
    "charge_object",
    "conekta_fee",
    "customer_object",
    "event_object",
    "hex_id",
    "order_object",
    "payment_source_object",
    "public_pem",
    "sandbox_signing_key",
    "transaction_object",
]

# Conekta's dialect of the shared lifecycle (payment_status of an order).
CONEKTA = Dialect(
    {
        "pending_payment": Phase.REQUIRES_ACTION,
        "paid": Phase.SUCCEEDED,
        "declined": Phase.FAILED,
        "expired": Phase.EXPIRED,
        "canceled": Phase.CANCELED,
        "partially_refunded": Phase.PARTIALLY_REFUNDED,
        "refunded": Phase.REFUNDED,
        "charged_back": Phase.DISPUTED,
    }
)

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SandboxCard:
    """A Conekta test token and what charging it does."""

    brand: str
    last4: str
    # (details code, charge failure_code, message to the payer, debug message) of a decline
    decline: tuple[str, str, str, str] | None = None


TEST_TOKENS: dict[str, SandboxCard] = {
    "tok_test_visa_4242": SandboxCard("visa", "4242"),
    "tok_test_mastercard_4444": SandboxCard("mastercard", "4444"),
    "tok_test_amex_0005": SandboxCard("american_express", "0005"),
    "tok_test_card_declined": SandboxCard(
        "visa",
        "0002",
        (
            "conekta.errors.processing.bank.declined",
            "card_declined",
            "Esta tarjeta fue declinada. Por favor intenta con otro método de pago.",
            "The card was declined by the bank.",
        ),
    ),
    "tok_test_insufficient_funds": SandboxCard(
        "visa",
        "0127",
        (
            "conekta.errors.processing.bank.insufficient_funds",
            "insufficient_funds",
            "Esta tarjeta no tiene suficientes fondos para completar la compra.",
            "The card has insufficient funds.",
        ),
    ),
    # Simulator-only: Conekta publishes no expired-card token.
    "tok_test_expired_card": SandboxCard(
        "visa",
        "0069",
        (
            "conekta.errors.processing.bank.expired_card",
            "expired_card",
            "Esta tarjeta está vencida. Por favor intenta con otro método de pago.",
            "The card has expired.",
        ),
    ),
}


class ConektaError(Exception):
    """An error Conekta would answer with; ``body(log_id)`` is its exact JSON shape."""

    def __init__(
        self,
        status: int,
        type: str,
        code: str,
        message: str,
        debug_message: str | None = None,
        *,
        param: str | None = None,
        data: Obj | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.detail: Obj = {
            "code": code,
            "message": message,
            "debug_message": debug_message or message,
            "param": param,
        }
        self.data = data

    def body(self, log_id: str) -> Obj:
        """``{"object": "error", ...}`` (with ``data``: the declined order, when there is one)."""
        body: Obj = {
            "object": "error",
            "type": self.type,
            "log_id": log_id,
            "details": [dict(self.detail)],
        }
        if self.data is not None:
            body["data"] = self.data
        return body

    @classmethod
    def invalid(cls, param: str, message: str, code: str | None = None) -> ConektaError:
        """A ``parameter_validation_error`` (422)."""
        code = code or f"conekta.errors.parameter_validation.{param.split('.')[0]}"
        return cls(422, "parameter_validation_error", code, message, param=param)

    @classmethod
    def not_found(cls, kind: str, object_id: str) -> ConektaError:
        """``resource_not_found_error`` (404)."""
        return cls(
            404,
            "resource_not_found_error",
            "conekta.errors.resource_not_found.entity",
            "El recurso no ha sido encontrado.",
            f'The object {kind} "{object_id}" could not be found.',
        )


def hex_id(ids: IdGenerator, now: float) -> str:
    """A 24-hex id like Conekta's charges, refunds, events and logs (Mongo ObjectId style)."""
    return f"{int(now):08x}" + f"{int(ids.digits(20)) % 16**16:016x}"


@functools.cache
def sandbox_signing_key() -> rsa.RSAPrivateKey:
    """The sandbox's own webhook key pair, generated once per process."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    """The PEM public key ``POST /webhook_keys`` hands out."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def conekta_fee(amount: int, method: str) -> int:
    """Fee in centavos with 16% IVA: card 2.9% + $2.50, OXXO 3.9%, SPEI $12.50 (list prices)."""
    if method == "card_payment":
        base = (amount * 29 + 500) // 1000 + 250
    elif method == "cash_payment":
        base = (amount * 39 + 500) // 1000
    else:
        base = 1250
    return (base * 116 + 50) // 100


def _list(data: list[Obj] | None = None) -> Obj:
    data = data or []
    return {"object": "list", "has_more": False, "total": len(data), "data": data}


def customer_object(cus_id: str, created: int, params: Mapping[str, Any]) -> Obj:
    """A customer from ``POST /customers`` parameters."""
    return {
        "id": cus_id,
        "object": "customer",
        "livemode": False,
        "created_at": created,
        "name": params.get("name"),
        "email": params.get("email"),
        "phone": params.get("phone"),
        "corporate": bool(params.get("corporate", False)),
        "custom_reference": params.get("custom_reference") or "",
        "default_payment_source_id": None,
        "metadata": dict(params.get("metadata") or {}),
        "payment_sources": _list(),
    }


def payment_source_object(src_id: str, customer_id: str, card: SandboxCard, created: int) -> Obj:
    """A card payment source attached to a customer."""
    return {
        "id": src_id,
        "object": "payment_source",
        "type": "card",
        "created_at": created,
        "last4": card.last4,
        "bin": "424242",
        "card_type": "credit",
        "exp_month": "12",
        "exp_year": "34",
        "brand": card.brand,
        "name": "Puente Sandbox",
        "parent_id": customer_id,
        "default": True,
        "visible_on_checkout": False,
        "payment_source_status": "active",
    }


def order_object(
    ord_id: str, amount: int, created: int, params: Mapping[str, Any], customer_info: Obj
) -> Obj:
    """An order as ``POST /orders`` creates it, before its charge is attached."""
    items = [
        {
            "id": f"line_item_{ord_id[4:]}_{n}",
            "object": "line_item",
            "name": item.get("name"),
            "unit_price": item.get("unit_price"),
            "quantity": item.get("quantity"),
            "parent_id": ord_id,
        }
        for n, item in enumerate(params.get("line_items") or [])
    ]
    return {
        "id": ord_id,
        "object": "order",
        "livemode": False,
        "amount": amount,
        "amount_refunded": 0,
        "currency": "MXN",
        "payment_status": None,
        "is_refundable": False,
        "customer_info": customer_info,
        "line_items": {**_list(items), "next_page_url": None, "previous_page_url": None},
        "charges": _list(),
        "metadata": dict(params.get("metadata") or {}),
        "created_at": created,
        "updated_at": created,
        "processing_mode": "ecommerce",
    }


def charge_object(ch_id: str, order: Obj, created: int, payment_method: Obj) -> Obj:
    """A charge of ``order`` paid (or to be paid) with ``payment_method``."""
    return {
        "id": ch_id,
        "object": "charge",
        "livemode": False,
        "created_at": created,
        "currency": "MXN",
        "amount": order["amount"],
        "description": "Payment from order",
        "status": "pending_payment",
        "fee": conekta_fee(order["amount"], payment_method["object"]),
        "order_id": order["id"],
        "customer_id": order["customer_info"].get("customer_id") or "",
        "paid_at": None,
        "failure_code": None,
        "failure_message": None,
        "payment_method": payment_method,
        "refunds": _list(),
    }


def transaction_object(
    txn_id: str, amount: int, fee: int, charge: Obj, kind: str, created: int
) -> Obj:
    """A balance transaction (``capture`` for a charge, ``refund`` for a refund); it names
    its charge's order, and once paid out, the transfer that carried it (``transfer_id``)."""
    return {
        "id": txn_id,
        "object": "transaction",
        "amount": amount,
        "fee": fee,
        "net": amount - fee,
        "charge": charge["id"],
        "order_id": charge.get("order_id"),
        "transfer_id": None,
        "type": kind,
        "status": "pending",
        "currency": "MXN",
        "created_at": created,
        "livemode": False,
    }


def event_object(evt_id: str, event_type: str, obj: Obj, created: int) -> Obj:
    """An event as ``GET /events`` shows it and webhooks deliver it."""
    return {
        "id": evt_id,
        "object": "event",
        "type": event_type,
        "created_at": created,
        "livemode": False,
        "data": {"object": obj, "previous_attributes": {}},
        "webhook_status": "pending",
        "webhook_logs": [],
    }
