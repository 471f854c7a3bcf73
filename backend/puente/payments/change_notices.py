"""Telling subscribers that a payment or a loan changed (after the change committed).

Three channels, each message a small JSON object naming what changed (subscribers reload):

    payment:{id}      {"payment": 12, "status": "paid"}            the payment's own pages
    loan:{id}         {"loan": 3}                                  the loan's pages
    institution:{id}  {"kind": "payment", "payment": 12, "loan": 3,  staff console feed and
                       "occurredAt": "2026-12-05T13:00:00+00:00"}     dashboard subscriptions
"""

from __future__ import annotations

import logging
from datetime import datetime

from puente.events.bus import EventBus
from puente.payments.lifecycle_service import Transition

__all__ = [
    "INSTITUTION_EVENT_KINDS",
    "institution_channel",
    "loan_channel",
    "notify_institution",
    "notify_transition",
    "payment_channel",
]

logger = logging.getLogger("puente.payments")

# What an institution-level notice may be about.
INSTITUTION_EVENT_KINDS = frozenset({"payment", "disbursement", "webhook"})


def payment_channel(payment_id: int) -> str:
    return f"payment:{payment_id}"


def loan_channel(loan_id: int) -> str:
    return f"loan:{loan_id}"


def institution_channel(institution_id: int) -> str:
    return f"institution:{institution_id}"


async def notify_institution(
    bus: EventBus,
    institution_id: int,
    kind: str,
    *,
    at: datetime,
    payment: int | None = None,
    loan: int | None = None,
) -> None:
    """Tell the institution's staff something happened; best effort, like every notice."""
    message: dict[str, object] = {"kind": kind, "occurredAt": at.isoformat()}
    if payment is not None:
        message["payment"] = payment
    if loan is not None:
        message["loan"] = loan
    try:
        await bus.publish(institution_channel(institution_id), message)
    except Exception:  # noqa: BLE001 - the bus is best effort by design
        logger.exception("could not publish %s notice for institution %s", kind, institution_id)


async def notify_transition(
    bus: EventBus, transition: Transition, at: datetime | None = None
) -> None:
    """Publish a committed transition; a failed publish is logged, never fatal (the state is
    in the database and subscribers reload it)."""
    if not transition.applied:
        return
    message = {"payment": transition.payment_id, "status": transition.after.value}
    try:
        await bus.publish(payment_channel(transition.payment_id), message)
        await bus.publish(loan_channel(transition.loan_id), {"loan": transition.loan_id})
    except Exception:  # noqa: BLE001 - the bus is best effort by design
        logger.exception("could not publish payment %s change", transition.payment_id)
    if transition.institution_id is not None:
        await notify_institution(
            bus,
            transition.institution_id,
            "payment",
            at=at or datetime.now().astimezone(),
            payment=transition.payment_id,
            loan=transition.loan_id,
        )
