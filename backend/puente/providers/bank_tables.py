"""The generic bank API's names for things, as data (``ProviderTables``, see ``tables.py``)."""

from __future__ import annotations

from puente.providers.errors import (
    AuthenticationError,
    InsufficientFunds,
    NotFound,
    PaymentDeclined,
    RateLimited,
)
from puente.providers.tables import ProviderTables
from puente.providers.values import EventKind as K
from puente.providers.values import TransferStatus as T

__all__ = ["BANK_TABLES"]

BANK_TABLES = ProviderTables(
    provider="bank",
    transfer_statuses={
        "pending": T.PENDING,
        "processing": T.PENDING,
        "settled": T.SUCCEEDED,
        "returned": T.RETURNED,
        "rejected": T.FAILED,
        "failed": T.FAILED,
    },
    # error.code -> normalised error (others, and any 5xx, by HTTP status)
    errors={
        "invalid_token": AuthenticationError,
        "forbidden": AuthenticationError,
        "not_found": NotFound,
        "insufficient_funds": InsufficientFunds,
        "payment_rejected": PaymentDeclined,
        "rate_limited": RateLimited,
    },
    event_kinds={
        "payment.settled": K.TRANSFER_SUCCEEDED,
        "payment.returned": K.TRANSFER_FAILED,
        "payment.rejected": K.TRANSFER_FAILED,
        "deposit.received": K.TRANSFER_RECEIVED,
        "payment.created": K.IGNORED,
        "payment.processing": K.IGNORED,
    },
)
