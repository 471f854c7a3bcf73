"""Stripe's names for things, as data (``ProviderTables``, read by ``tables.py``)."""

from __future__ import annotations

from puente.money import from_centavos
from puente.providers.tables import ProviderTables, RecordFields
from puente.providers.timestamps import from_unix_seconds
from puente.providers.values import EventKind as K
from puente.providers.values import PaymentMethod as M
from puente.providers.values import PaymentStatus as S
from puente.providers.values import RefundStatus

__all__ = ["STRIPE_TABLES"]

STRIPE_TABLES = ProviderTables(
    provider="stripe",
    # payment_method_types[0] of a PaymentIntent
    methods={"card": M.CARD, "oxxo": M.CASH, "customer_balance": M.SPEI},
    # The PaymentIntent statuses that mean one thing; "succeeded" (refunds, disputes) and
    # "requires_payment_method" (never tried, declined, voucher lapsed) are read in code.
    statuses={
        "requires_action": S.REQUIRES_ACTION,
        "canceled": S.CANCELED,
        "requires_confirmation": S.PENDING,
        "processing": S.PENDING,
        "requires_capture": S.PENDING,
    },
    refund_statuses={s.value: s for s in RefundStatus},
    event_kinds={
        # payment_intent.succeeded and .payment_failed are read in code (amount, expiry).
        "payment_intent.succeeded": K.PAYMENT_SUCCEEDED,
        "payment_intent.payment_failed": K.PAYMENT_FAILED,
        "payment_intent.canceled": K.PAYMENT_CANCELED,
        "payment_intent.requires_action": K.PAYMENT_REQUIRES_ACTION,
        "payment_intent.processing": K.PAYMENT_PENDING,
        "payment_intent.partially_funded": K.PAYMENT_PENDING,
        "payment_intent.created": K.IGNORED,
        "payment_intent.amount_capturable_updated": K.IGNORED,
        "charge.refunded": K.PAYMENT_REFUNDED,
        "charge.dispute.created": K.CHARGEBACK,
        "payout.paid": K.PAYOUT_PAID,
        "payout.failed": K.PAYOUT_FAILED,
    },
    # Known families that never change a payment in Puente's eyes; charges and refunds
    # repeat what the PaymentIntent events say (one source of truth).
    ignored_prefixes=(
        "charge.",
        "refund.",
        "payout.",
        "customer.",
        "customer_cash_balance_transaction.",
        "cash_balance.",
        "payment_method.",
        "balance.",
    ),
    settlement=RecordFields(
        "payout", "created", from_centavos, from_unix_seconds, arrival="arrival_date"
    ),
    transaction=RecordFields(
        "balance transaction",
        "created",
        from_centavos,
        from_unix_seconds,
        available="available_on",
        source="source",
        payment="source.payment_intent",  # with expand[]=data.source
    ),
)
