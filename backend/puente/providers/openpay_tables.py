"""Openpay's names for things, as data (``ProviderTables``, read by ``tables.py``)."""

from __future__ import annotations

from puente.money import parse_amount
from puente.providers.errors import (
    AuthenticationError,
    ExpiredCard,
    InsufficientFunds,
    InvalidRequest,
    NotFound,
    PaymentDeclined,
    ProviderUnavailable,
)
from puente.providers.tables import ProviderTables, RecordFields
from puente.providers.timestamps import iso_mexico_city
from puente.providers.values import EventKind as K
from puente.providers.values import PaymentMethod as M
from puente.providers.values import RefundStatus as R

__all__ = ["OPENPAY_TABLES"]

OPENPAY_TABLES = ProviderTables(
    provider="openpay",
    methods={"card": M.CARD, "bank_account": M.SPEI, "store": M.CASH},
    # A charge's status depends on its method and refunds: read in openpay_mapping.
    refund_statuses={
        "completed": R.SUCCEEDED,
        "in_progress": R.PENDING,
        "failed": R.FAILED,
        "cancelled": R.CANCELED,
    },
    # error_code -> normalised error (Openpay's documented codes; 3xxx are issuer refusals).
    errors={
        1000: ProviderUnavailable,  # internal server error
        1001: InvalidRequest,  # malformed request
        1002: AuthenticationError,  # bad api key or merchant id
        1003: InvalidRequest,  # invalid parameter
        1004: ProviderUnavailable,  # a required service is down
        1005: NotFound,  # no such resource
        1006: InvalidRequest,  # order_id already used (our idempotency signal)
        1007: InvalidRequest,  # funds transfer between accounts refused
        1008: InvalidRequest,  # account deactivated
        1009: InvalidRequest,  # request body too large
        1010: AuthenticationError,  # public key used where the private key is required
        1011: NotFound,  # resource deleted
        1012: InvalidRequest,  # amount outside the allowed limits
        1013: InvalidRequest,  # operation not allowed on the resource
        1014: AuthenticationError,  # account inactive
        1015: ProviderUnavailable,  # no answer from the payment gateway
        1016: InvalidRequest,  # merchant already processed
        1017: ProviderUnavailable,  # payment gateway unavailable
        2001: InvalidRequest,  # CLABE already registered
        2002: InvalidRequest,  # card already registered
        2003: InvalidRequest,  # customer external_id already used
        2004: InvalidRequest,  # card number fails Luhn
        2005: ExpiredCard,  # expiry date in the past
        2006: InvalidRequest,  # CVV required
        2007: InvalidRequest,  # test card used in production
        2008: InvalidRequest,  # card not valid for points
        2009: InvalidRequest,  # bad CVV
        2010: PaymentDeclined,  # 3-D Secure authentication failed
        2011: InvalidRequest,  # card type not supported
        3001: PaymentDeclined,  # declined by the bank
        3002: ExpiredCard,
        3003: InsufficientFunds,
        3004: PaymentDeclined,  # reported stolen
        3005: PaymentDeclined,  # refused by the antifraud system
        3006: PaymentDeclined,  # operation not allowed for this card
        3008: PaymentDeclined,  # card not valid for online purchases
        3009: PaymentDeclined,  # reported lost
        3010: PaymentDeclined,  # restricted by the bank
        3011: PaymentDeclined,  # bank asks to retain the card
        3012: PaymentDeclined,  # bank authorisation required
        4001: InvalidRequest,  # not enough funds in the Openpay account (refunds, payouts)
    },
    # charge.created and charge.cancelled depend on the method: read in openpay_webhooks.
    event_kinds={
        "charge.succeeded": K.PAYMENT_SUCCEEDED,
        "charge.failed": K.PAYMENT_FAILED,
        "charge.rescored.to.decline": K.PAYMENT_FAILED,
        "charge.refunded": K.PAYMENT_REFUNDED,
        "transaction.expired": K.PAYMENT_EXPIRED,
        "chargeback.created": K.CHARGEBACK,
        "chargeback.rejected": K.IGNORED,
        "chargeback.accepted": K.IGNORED,
        "payout.succeeded": K.PAYOUT_PAID,
        "payout.failed": K.PAYOUT_FAILED,
        "payout.created": K.IGNORED,
        "verification": K.IGNORED,
        # Money into the Openpay account that is not a charge of ours, or bookkeeping.
        "spei.received": K.IGNORED,
        "transfer.succeeded": K.IGNORED,
        "fee.succeeded": K.IGNORED,
        "fee.refund.succeeded": K.IGNORED,
        "subscription.charge.failed": K.IGNORED,
    },
    ignored_prefixes=("order.",),
    # Balance lines are built from charges and their refunds (openpay_mapping).
    settlement=RecordFields(
        "payout", "creation_date", parse_amount, iso_mexico_city, arrival="operation_date"
    ),
)
