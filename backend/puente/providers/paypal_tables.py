"""PayPal's names for things, as data (``ProviderTables``, read by ``tables.py``)."""

from __future__ import annotations

from puente.providers.errors import ExpiredCard, InsufficientFunds, PaymentDeclined
from puente.providers.tables import ProviderTables
from puente.providers.values import EventKind as K
from puente.providers.values import PaymentStatus as S
from puente.providers.values import RefundStatus as R

__all__ = ["PAYPAL_TABLES"]

PAYPAL_TABLES = ProviderTables(
    provider="paypal",
    # a capture's status (an order waiting for its payer is read in paypal_mapping)
    statuses={
        "COMPLETED": S.SUCCEEDED,
        "PENDING": S.PENDING,
        "DECLINED": S.FAILED,
        "FAILED": S.FAILED,
        "REFUNDED": S.REFUNDED,
        "PARTIALLY_REFUNDED": S.PARTIALLY_REFUNDED,
    },
    refund_statuses={
        "COMPLETED": R.SUCCEEDED,
        "PENDING": R.PENDING,
        "FAILED": R.FAILED,
        "CANCELLED": R.CANCELED,
    },
    # Processor response codes of declined card captures (PayPal's card testing table).
    declines={
        "5120": (InsufficientFunds, "INSUFFICIENT_FUNDS"),
        "5400": (ExpiredCard, "EXPIRED_CARD"),
        "0500": (PaymentDeclined, "DO_NOT_HONOR"),
        "5100": (PaymentDeclined, "GENERIC_DECLINE"),
        "9500": (PaymentDeclined, "SUSPECTED_FRAUD"),
        "5180": (PaymentDeclined, "INVALID_OR_RESTRICTED_CARD"),
        "9520": (PaymentDeclined, "LOST_OR_STOLEN"),
        "1330": (PaymentDeclined, "INVALID_ACCOUNT"),
        "00N7": (PaymentDeclined, "CVV2_FAILURE_POSSIBLE_RETRY_WITH_CVV"),
    },
    event_kinds={
        "CHECKOUT.ORDER.APPROVED": K.PAYMENT_PENDING,  # payer approved: capture it now
        "CHECKOUT.ORDER.VOIDED": K.PAYMENT_CANCELED,
        "CHECKOUT.PAYMENT-APPROVAL.REVERSED": K.PAYMENT_CANCELED,
        "PAYMENT.CAPTURE.COMPLETED": K.PAYMENT_SUCCEEDED,
        "PAYMENT.CAPTURE.PENDING": K.PAYMENT_PENDING,
        "PAYMENT.CAPTURE.DENIED": K.PAYMENT_FAILED,
        "PAYMENT.CAPTURE.DECLINED": K.PAYMENT_FAILED,
        "PAYMENT.CAPTURE.REFUNDED": K.PAYMENT_REFUNDED,
        "PAYMENT.CAPTURE.REVERSED": K.CHARGEBACK,
        "CUSTOMER.DISPUTE.CREATED": K.CHARGEBACK,
    },
    # Known families that repeat what the events above say, or do not concern a payment.
    ignored_prefixes=(
        "CHECKOUT.ORDER.",
        "CUSTOMER.DISPUTE.",
        "PAYMENT.AUTHORIZATION.",
        "VAULT.PAYMENT-TOKEN.",
        "PAYMENT.PAYOUTS",
    ),
)
