"""Conekta's names for things, as data (``ProviderTables``, read by ``tables.py``)."""

from __future__ import annotations

from puente.money import from_centavos
from puente.providers.tables import ProviderTables, RecordFields
from puente.providers.timestamps import from_unix_seconds
from puente.providers.values import EventKind as K
from puente.providers.values import PaymentMethod as M
from puente.providers.values import PaymentStatus as S
from puente.providers.values import RefundStatus as R

__all__ = ["CONEKTA_METHOD_TYPES", "CONEKTA_TABLES"]

# payment_method.type, the fallback for payloads older than API 2.x's ``object``
CONEKTA_METHOD_TYPES = {
    "card": M.CARD,
    "credit": M.CARD,
    "debit": M.CARD,
    "cash": M.CASH,
    "oxxo": M.CASH,
    "spei": M.SPEI,
}

CONEKTA_TABLES = ProviderTables(
    provider="conekta",
    # payment_method.object (API 2.x)
    methods={
        "card_payment": M.CARD,
        "cash_payment": M.CASH,
        "bank_transfer_payment": M.SPEI,
    },
    # order.payment_status; "pending_payment" depends on the method (read in code)
    statuses={
        "paid": S.SUCCEEDED,
        "pre_authorized": S.PENDING,
        "declined": S.FAILED,
        "expired": S.EXPIRED,
        "canceled": S.CANCELED,
        "voided": S.CANCELED,
        "refunded": S.REFUNDED,
        "partially_refunded": S.PARTIALLY_REFUNDED,
        "charged_back": S.CHARGED_BACK,
    },
    refund_statuses={
        "pending": R.PENDING,
        "refunded": R.SUCCEEDED,
        "succeeded": R.SUCCEEDED,
        "paid": R.SUCCEEDED,
        "failed": R.FAILED,
        "declined": R.FAILED,
        "canceled": R.CANCELED,
    },
    # Order events are the source of truth; order.pending_payment is read in code (it
    # depends on the method), the families below repeat what an order event says.
    event_kinds={
        "order.paid": K.PAYMENT_SUCCEEDED,
        "order.declined": K.PAYMENT_FAILED,
        "order.fraudulent": K.PAYMENT_FAILED,
        "order.expired": K.PAYMENT_EXPIRED,
        "order.canceled": K.PAYMENT_CANCELED,
        "order.voided": K.PAYMENT_CANCELED,
        "order.refunded": K.PAYMENT_REFUNDED,
        "order.partially_refunded": K.PAYMENT_REFUNDED,
        "order.charged_back": K.CHARGEBACK,
        "order.created": K.IGNORED,
        "order.updated": K.IGNORED,
        "order.pre_authorized": K.IGNORED,
        "order.under_fraud_review": K.IGNORED,
    },
    ignored_prefixes=(
        "charge.",
        "customer.",
        "payment_source.",
        "plan.",
        "subscription.",
        "webhook_",
        "checkout.",
    ),
    settlement=RecordFields("transfer", "created_at", from_centavos, from_unix_seconds),
    transaction=RecordFields(
        "transaction",
        "created_at",
        from_centavos,
        from_unix_seconds,
        source="charge",
        payment="order_id",  # the order Puente keeps (UNCONFIRMED on live transactions)
        settlement="transfer_id",  # the transfer that carried it (UNCONFIRMED)
    ),
)
