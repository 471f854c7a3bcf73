"""Telling subscribers that a payment or a loan changed (after the change committed)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from puente.events.bus import EventBus
from puente.payments.lifecycle_service import Transition

__all__ = [
    "institution_channel",
    "loan_channel",
    "notify_institution",
    "notify_transition",
    "payment_channel",
]

logger = logging.getLogger("puente.payments")


def payment_channel(payment_id: int) -> str:
    return f"payment:{payment_id}"


def loan_channel(loan_id: int) -> str:
    return f"loan:{loan_id}"


def institution_channel(institution_id: int) -> str:
    """Everything staff dashboards of one institution follow (``institutionEvents``)."""
    return f"institution:{institution_id}"


async def notify_institution(
    bus: EventBus,
    institution_id: int | None,
    kind: str,
    at: datetime,
    *,
    payment_id: int | None = None,
    loan_id: int | None = None,
    subject_id: int | None = None,
) -> None:
    """Tell the institution's dashboards that ``kind`` happened (e.g. ``payment.paid``,
    ``disbursement.settled``, ``webhook.dead``, ``exception.resolved``); best effort."""
    if institution_id is None:
        return
    message = {
        "kind": kind,
        "at": at.isoformat(),
        "payment": payment_id,
        "loan": loan_id,
        "subject": subject_id,
    }
    try:
        await bus.publish(institution_channel(institution_id), message)
    except Exception:  # noqa: BLE001 - the bus is best effort by design
        logger.exception("could not publish %s to institution %s", kind, institution_id)


async def notify_transition(
    bus: EventBus, transition: Transition, at: datetime | None = None
) -> None:
    """Publish a committed transition; a failed publish is logged, never fatal (the state is
    in the database and subscribers reload it). One left for staff (an amount that does not
    match) reaches only the institution's dashboards."""
    at = at or datetime.now(UTC)
    if transition.exception:
        await notify_institution(
            bus,
            transition.institution_id,
            f"exception.{transition.exception.lower()}",
            at,
            payment_id=transition.payment_id,
            loan_id=transition.loan_id,
        )
    if not transition.applied:
        return
    message = {"payment": transition.payment_id, "status": transition.after.value}
    try:
        await bus.publish(payment_channel(transition.payment_id), message)
        await bus.publish(loan_channel(transition.loan_id), {"loan": transition.loan_id})
    except Exception:  # noqa: BLE001 - the bus is best effort by design
        logger.exception("could not publish payment %s change", transition.payment_id)
    await notify_institution(
        bus,
        transition.institution_id,
        f"payment.{transition.after.value}",
        at,
        payment_id=transition.payment_id,
        loan_id=transition.loan_id,
    )
