"""Payments that have settled: record them and apply them to the loan, atomically."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal

from tortoise.transactions import in_transaction

from puente.audit.service import record_audit
from puente.enums import PaymentMethodType, PaymentStatus, ProviderName
from puente.loans.models import Loan
from puente.loans.service import AppliedPayment, apply_payment
from puente.money import parse_amount, to_centavos
from puente.payments.models import Payment

__all__ = ["record_settled_payment"]


async def record_settled_payment(
    loan: Loan,
    amount: Decimal,
    *,
    provider: ProviderName,
    method: PaymentMethodType,
    idempotency_key: str,
    received_at: datetime,
    received_on: date,
    provider_reference: str | None = None,
    user_id: int | None = None,
) -> tuple[Payment, AppliedPayment]:
    """A payment confirmed by its provider (or by a cashier): stored PAID and applied.

    The payment row and its ledger entry commit in one transaction; the same key twice is
    refused by the unique constraint, so nothing is applied twice.
    """
    amount = parse_amount(amount)
    if amount <= 0:
        raise ValueError("a payment must be greater than zero")
    fingerprint = hashlib.sha256(
        f"{loan.id}|{amount}|{provider.value}|{method.value}".encode()
    ).hexdigest()
    async with in_transaction() as tx:
        payment = await Payment.create(
            institution_id=loan.institution_id,
            loan_id=loan.id,
            user_id=user_id or loan.borrower_id,
            provider=provider,
            method=method,
            amount_centavos=to_centavos(amount),
            status=PaymentStatus.PAID,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
            provider_reference=provider_reference,
            paid_at=received_at,
            using_db=tx,
        )
        applied = await apply_payment(
            loan,
            amount,
            received_on=received_on,
            provider=provider,
            payment_id=payment.id,
            idempotency_key=f"payment-{payment.id}",
            conn=tx,
        )
        await record_audit(
            "payment.applied",
            actor_id=user_id,
            institution_id=loan.institution_id,
            subject_type="payment",
            subject_id=payment.id,
            data={"loan": loan.id, "amount": str(amount), "entry": applied.entry_id},
            conn=tx,
        )
    return payment, applied
