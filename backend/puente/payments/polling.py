"""The polling fallback: a lost webhook must not leave a paid borrower marked unpaid.

Pending payments older than a threshold are asked about directly; references whose
deadline passed long ago are expired.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.payments.gateways import GatewayDirectory, NoProviderAccount
from puente.payments.lifecycle import from_provider_status
from puente.payments.lifecycle_service import advance_payment
from puente.payments.models import Payment
from puente.payments.notify import notify_transition
from puente.providers.errors import ProviderError
from puente.runtime import Runtime

__all__ = ["EXPIRY_GRACE", "poll_pending_payments"]

logger = logging.getLogger("puente.payments")

OPEN = (S.PENDING, S.REQUIRES_ACTION)
# A provider may confirm a store/SPEI payment made just before the deadline a little later.
EXPIRY_GRACE = timedelta(days=1)


def _expired(payment: Payment, now: datetime) -> bool:
    deadline = (payment.next_action or {}).get("expires_at")
    if not deadline:
        return False
    return datetime.fromisoformat(deadline) + EXPIRY_GRACE < now


async def poll_pending_payments(
    runtime: Runtime,
    gateways: GatewayDirectory,
    *,
    older_than: timedelta = timedelta(minutes=10),
    limit: int = 200,
) -> int:
    """Ask providers about open payments older than ``older_than``; returns how many moved."""
    now = runtime.now()
    rows = (
        await Payment.filter(
            status__in=list(OPEN),
            provider_reference__isnull=False,
            updated_at__lte=now - older_than,
        )
        .order_by("updated_at")
        .limit(limit)
    )
    moved = 0
    for payment in rows:
        institution = await Institution.get(id=payment.institution_id)
        try:
            connector = await gateways.connector(institution, payment.provider.value)
            current = await connector.get_payment(payment.provider_reference or "")
        except (ProviderError, NoProviderAccount) as exc:
            logger.warning("poll of payment %s failed: %s", payment.id, exc)
            continue
        status = from_provider_status(current.status)
        if status in OPEN and _expired(payment, now):
            status = S.EXPIRED
        transition = await advance_payment(
            payment.id,
            status,
            source="poll",
            at=now,
            refunded=current.amount_refunded or None,
            reported_amount=current.amount,  # a PAID for another amount is an exception
        )
        await notify_transition(runtime.bus, transition)
        moved += int(transition.applied)
    return moved
