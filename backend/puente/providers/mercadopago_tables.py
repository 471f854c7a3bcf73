"""Mercado Pago's names for things, as data (``ProviderTables``, read by ``tables.py``)."""

from __future__ import annotations

from puente.providers.errors import ExpiredCard, InsufficientFunds, PaymentDeclined
from puente.providers.tables import ProviderTables
from puente.providers.values import PaymentMethod as M
from puente.providers.values import RefundStatus as R

__all__ = ["MERCADOPAGO_TABLES"]

MERCADOPAGO_TABLES = ProviderTables(
    provider="mercadopago",
    # payment_type_id
    methods={
        "credit_card": M.CARD,
        "debit_card": M.CARD,
        "prepaid_card": M.CARD,
        "ticket": M.CASH,  # OXXO, Paycash
        "atm": M.CASH,  # BBVA/Citibanamex ventanilla references
        "bank_transfer": M.SPEI,
    },
    # A payment's status depends on status_detail and method: read in mercadopago_mapping.
    refund_statuses={
        "approved": R.SUCCEEDED,
        "in_process": R.PENDING,
        "pending": R.PENDING,
        "authorized": R.PENDING,
        "rejected": R.FAILED,
        "cancelled": R.CANCELED,
    },
    # status_detail of a rejected card payment -> (error class, message for people)
    declines={
        "cc_rejected_insufficient_amount": (InsufficientFunds, "The card has insufficient funds."),
        "cc_rejected_bad_filled_date": (ExpiredCard, "The card expiry date was refused."),
        "cc_rejected_call_for_authorize": (
            PaymentDeclined,
            "The payer must authorize with the bank.",
        ),
        "cc_rejected_bad_filled_security_code": (PaymentDeclined, "The security code was refused."),
        "cc_rejected_bad_filled_other": (PaymentDeclined, "The card data was refused."),
        "cc_rejected_card_disabled": (PaymentDeclined, "The card is disabled."),
        "cc_rejected_high_risk": (PaymentDeclined, "The payment was refused as high risk."),
        "cc_rejected_other_reason": (PaymentDeclined, "The card issuer refused the payment."),
    },
    # Notifications name an object and are resolved by fetching it (mercadopago_webhooks).
)
