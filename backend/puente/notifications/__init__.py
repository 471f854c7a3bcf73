"""Notifications: email (SMTP) and SMS/WhatsApp (Twilio) notices, stored first, sent after.

Importing the package registers its observers (the app and the CLI import it at start):
payment transitions send instructions, receipts and declines (``payments.observers``);
the daily job stores reminders, overdue notices and each month's estado de cuenta
(``loans.jobs.register_daily_step``).
The one entry point for everything else is :func:`send_notice`.
"""

from __future__ import annotations

from puente.collections.notices import register_notice_sender
from puente.loans.jobs import register_daily_step
from puente.notifications.collection_notices import send_collection_notice
from puente.notifications.documents import render_attachment, send_statements
from puente.notifications.payment_notices import on_payment_transition
from puente.notifications.reminders import remind_borrowers
from puente.notifications.service import (
    deliver_due,
    drain_deliveries,
    send_notice,
    set_attachment_renderer,
)
from puente.payments.observers import register_transition_observer

__all__ = ["deliver_due", "drain_deliveries", "send_notice"]

register_transition_observer("notifications", on_payment_transition)
register_notice_sender("notifications", send_collection_notice)
register_daily_step("notices", remind_borrowers)
register_daily_step("statements", send_statements)
set_attachment_renderer(render_attachment)
