"""Telling subscribers that a payment or a loan changed (after the change committed)."""

from __future__ import annotations

import logging

from puente.events.bus import EventBus
from puente.payments.lifecycle_service import Transition

__all__ = ["loan_channel", "notify_transition", "payment_channel"]

logger = logging.getLogger("puente.payments")


def payment_channel(payment_id: int) -> str:
    return f"payment:{payment_id}"


def loan_channel(loan_id: int) -> str:
    return f"loan:{loan_id}"


async def notify_transition(bus: EventBus, transition: Transition) -> None:
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
