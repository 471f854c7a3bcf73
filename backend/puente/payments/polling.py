"""The polling fallback: a lost webhook or a lost answer must not leave a borrower unpaid.

Open payments (pending, waiting for the payer) older than a threshold are asked about
directly; references whose deadline passed long ago are expired. Payments still CREATED with
no provider reference (the answer to our request was lost) have their request sent again
under the same provider idempotency key (``payments/submission.py``): the provider answers
with the payment it made, never a second one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from tortoise.expressions import Q

from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.payments.gateways import GatewayDirectory, NoProviderAccount
from puente.payments.models import Payment
from puente.payments.outcomes import apply_provider_payment
from puente.payments.submission import submit_payment
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
    """Ask providers about open or unanswered payments older than ``older_than``; returns
    how many moved."""
    now = runtime.now()
    open_ones = Q(status__in=list(OPEN), provider_reference__isnull=False)
    unanswered = Q(
        status=S.CREATED, provider_reference__isnull=True, provider_request__isnull=False
    )
    rows = (
        await Payment.filter(open_ones | unanswered, updated_at__lte=now - older_than)
        .order_by("updated_at")
        .limit(limit)
    )
    moved = 0
    for payment in rows:
        try:
            moved += await _poll(runtime, gateways, payment, now)
        except (ProviderError, NoProviderAccount) as exc:
            logger.warning("poll of payment %s failed: %s", payment.id, exc)
    return moved


async def _poll(
    runtime: Runtime, gateways: GatewayDirectory, payment: Payment, now: datetime
) -> bool:
    institution = await Institution.get(id=payment.institution_id)
    connector = await gateways.gateway(institution, str(payment.provider))
    if payment.provider_reference is None:
        await submit_payment(runtime, connector, payment)
        return S((await Payment.get(id=payment.id)).status) is not S.CREATED
    current = await connector.get_payment(payment.provider_reference)
    # Still waiting for the payer long after the deadline: Puente calls it expired.
    status = S.EXPIRED if not current.status.is_final and _expired(payment, now) else None
    transition = await apply_provider_payment(
        runtime, payment.id, current, source="poll", at=now, status=status
    )
    return transition.applied
