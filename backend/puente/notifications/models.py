"""What Puente told a borrower, on which channel, and what became of it; and how they like it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

__all__ = [
    "Channel",
    "DeliveryStatus",
    "Notification",
    "NotificationPreference",
]


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"


class DeliveryStatus(StrEnum):
    """PENDING → SENDING → SENT (→ DELIVERED | UNDELIVERED, told by Twilio) or FAILED.

    A failed attempt goes back to PENDING with a later ``next_attempt_at`` until the attempts
    run out (FAILED); SKIPPED: the channel is not configured in this installation.
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SKIPPED = "skipped"


class Notification(Model):
    """One notice to one person on one channel: the outbox row and its delivery record.

    ``(dedupe_key, channel)`` is unique: the same event never produces a second message
    however many times (or in how many processes) it is reported.
    """

    id = fields.BigIntField(primary_key=True)
    user_id: int
    user = fields.ForeignKeyField("models.User", related_name="notifications")
    loan_id = fields.IntField(null=True, db_index=True)
    payment_id = fields.IntField(null=True, db_index=True)
    kind = fields.CharField(max_length=32)
    channel = fields.CharEnumField(Channel, max_length=10)
    dedupe_key = fields.CharField(max_length=160)
    recipient = fields.CharField(max_length=254)
    subject = fields.CharField(max_length=200, default="")
    body_text = fields.TextField()
    body_html = fields.TextField(null=True)
    # Documents rendered when the message is sent, e.g. [{"kind": "statement", "loan_id": 1,
    # "period": "2026-11"}]: the PDF comes from the ledger at that moment, never stored twice.
    attachments: Any = fields.JSONField(default=list)
    status = fields.CharEnumField(DeliveryStatus, max_length=12, default=DeliveryStatus.PENDING)
    attempts = fields.SmallIntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    lease_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=300, null=True)
    provider_id = fields.CharField(max_length=200, null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notifications"
        unique_together = (("dedupe_key", "channel"),)
        indexes = (("status", "next_attempt_at"),)


class NotificationPreference(Model):
    """A person's channels. Without a row: email only (they gave it to sign up)."""

    id = fields.IntField(primary_key=True)
    user_id: int
    user = fields.OneToOneField("models.User", related_name="notification_preference")
    email = fields.BooleanField(default=True)
    sms = fields.BooleanField(default=False)
    whatsapp = fields.BooleanField(default=False)
    # Opting out silences every notice except one the person asked for just now (a
    # password-reset link): a receipt stays downloadable from the portal.
    opted_out = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "notification_preferences"
