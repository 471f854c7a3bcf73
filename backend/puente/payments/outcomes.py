"""The funnel: every provider outcome, whoever brings it, becomes a payment state here.

    connector answer (checkout, PayPal capture) ─┐
    webhook (inbox) ─────────────────────────────┤   lifecycle.from_provider_status
    poller, staff refund ────────────────────────┴─► apply_provider_payment ─► advance_payment
                                                                                (lock, forward
    provider refusal (decline, bad request) ─────────► fail_payment ──────────►  check, ledger,
    payer or staff decision (cancel) ────────────────► advance_and_notify ────►  audit) ─► bus

A ``ProviderPayment`` read from the provider is the whole truth about a payment at that
moment: its status, its provider id, how much was refunded, what the payer must do next.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from puente.enums import PaymentMethodType
from puente.enums import PaymentStatus as S
from puente.payments.change_notices import notify_transition
from puente.payments.lifecycle import from_provider_status
from puente.payments.lifecycle_service import Transition, advance_payment
from puente.payments.models import Payment
from puente.payments.observers import announce_transition
from puente.providers.errors import ProviderError
from puente.providers.values import ProviderPayment
from puente.runtime import Runtime

__all__ = ["advance_and_notify", "apply_provider_payment", "fail_payment", "next_action_of"]


def next_action_of(method: PaymentMethodType, result: ProviderPayment) -> dict[str, Any]:
    """The contract's PaymentNextAction as stored JSON (no secrets, no full card data)."""
    action = result.next_action
    if action is None:
        return {"type": "NONE"}
    expires = action.expires_at.isoformat() if action.expires_at else None
    if method is PaymentMethodType.SPEI:
        kind = "SPEI_TRANSFER"
    elif method is PaymentMethodType.CASH:
        kind = "CASH_VOUCHER"
    elif action.redirect_url:
        kind = "REDIRECT"
    else:
        kind = "NONE"
    return {
        "type": kind,
        "redirect_url": action.redirect_url,
        "clabe": action.clabe,
        "bank": action.bank,
        "reference": action.reference,
        "expires_at": expires,
        "voucher_url": action.voucher_url,
        "barcode_url": action.barcode_url,
    }


async def advance_and_notify(
    runtime: Runtime,
    payment_id: int,
    status: S,
    *,
    source: str,
    at: datetime,
    provider_reference: str | None = None,
    refunded: Decimal | None = None,
    failure_code: str | None = None,
    failure_message: str | None = None,
    next_action: dict[str, Any] | None = None,
    reported_amount: Decimal | None = None,
) -> Transition:
    """Propose ``status`` (``advance_payment``) and tell subscribers what happened."""
    transition = await advance_payment(
        payment_id,
        status,
        source=source,
        at=at,
        provider_reference=provider_reference,
        refunded=refunded,
        failure_code=failure_code,
        failure_message=failure_message,
        next_action=next_action,
        reported_amount=reported_amount,
    )
    await notify_transition(runtime.bus, transition, runtime.now())
    # Monitoring and notices run after the commit, in their own tasks: never block this.
    announce_transition(runtime, transition)
    return transition


async def apply_provider_payment(
    runtime: Runtime,
    payment_id: int,
    result: ProviderPayment,
    *,
    source: str,
    at: datetime,
    method: PaymentMethodType | None = None,
    status: S | None = None,
) -> Transition:
    """Move a payment to what the provider says it is now (status, reference, refunds).

    ``method`` stores the payer's next action (the answer to our own request); ``status``
    overrides the mapped one where Puente decides (an unpaid reference past its deadline).
    """
    return await advance_and_notify(
        runtime,
        payment_id,
        status or from_provider_status(result.status),
        source=source,
        at=at,
        provider_reference=result.provider_id or None,
        refunded=result.amount_refunded or None,
        failure_code=result.failure_code,
        failure_message=result.failure_message,
        next_action=next_action_of(method, result) if method is not None else None,
        # What the provider says was paid: a PAID for another amount is an exception.
        reported_amount=result.amount,
    )


async def fail_payment(
    runtime: Runtime,
    payment_id: int,
    exc: ProviderError,
    *,
    at: datetime,
    provider_reference: str | None = None,
) -> Transition:
    """The provider refused the payment: FAILED, keeping its code and message."""
    if exc.provider_code:  # the provider's own words, read by dunning (collections)
        await Payment.filter(id=payment_id, status=S.CREATED).update(
            provider_failure_code=str(exc.provider_code)[:64]
        )
    return await advance_and_notify(
        runtime,
        payment_id,
        S.FAILED,
        source="provider-response",
        at=at,
        provider_reference=provider_reference,
        failure_code=exc.code,
        failure_message=exc.provider_message or str(exc),
    )
