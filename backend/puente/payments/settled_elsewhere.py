"""Payments that settled outside a checkout (a cashier's receipt, imported history).

They go through the same state machine as every other payment: recorded CREATED, then moved
to PAID by ``advance_payment``, which applies them by prelación in one transaction.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal

from puente.enums import PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.loans.models import Loan
from puente.money import parse_amount, to_centavos
from puente.payments.lifecycle_service import advance_payment
from puente.payments.models import Payment

__all__ = ["record_settled_payment", "recorded_payment"]


async def record_settled_payment(
    loan: Loan,
    amount: Decimal,
    *,
    provider: ProviderName,
    method: PaymentMethodType,
    idempotency_key: str,
    received_at: datetime,
    provider_reference: str | None = None,
    user_id: int | None = None,
) -> Payment:
    """A payment its provider (or a cashier) already confirmed: recorded and applied once.

    The same idempotency key twice returns the first payment; nothing is applied twice.
    """
    payment = await recorded_payment(
        loan,
        amount,
        provider=provider,
        method=method,
        idempotency_key=idempotency_key,
        user_id=user_id,
    )
    await advance_payment(
        payment.id,
        S.PAID,
        source="recorded",
        at=received_at,
        provider_reference=provider_reference,
    )
    return await Payment.get(id=payment.id)


async def recorded_payment(
    loan: Loan,
    amount: Decimal,
    *,
    provider: ProviderName,
    method: PaymentMethodType,
    idempotency_key: str,
    user_id: int | None = None,
) -> Payment:
    """The CREATED row of a payment confirmed outside a checkout (once per idempotency key);
    the caller moves it to PAID through the funnel."""
    amount = parse_amount(amount)
    if amount <= 0:
        raise ValueError("a payment must be greater than zero")
    fingerprint = hashlib.sha256(
        f"{loan.id}|{amount}|{provider.value}|{method.value}".encode()
    ).hexdigest()
    payment, _ = await Payment.get_or_create(
        institution_id=loan.institution_id,
        idempotency_key=idempotency_key,
        defaults={
            "loan_id": loan.id,
            "user_id": user_id or loan.borrower_id,
            "provider": provider,
            "method": method,
            "amount_centavos": to_centavos(amount),
            "status": S.CREATED,
            "request_fingerprint": fingerprint,
        },
    )
    return payment
