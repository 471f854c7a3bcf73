"""Notices: stored first (the outbox), delivered after, never in the payment's way.

``send_notice`` is the one entry point. It renders the notice for each channel the person
accepts, stores one row per channel under ``(dedupe_key, channel)`` (a second report of the
same event stores nothing), and starts delivery in the background. Delivery claims a row
(PENDING → SENDING, with a lease so a dead process's row is taken over), hands it to the
channel, and records SENT, or PENDING again with a later attempt, or FAILED when the
attempts run out. ``deliver_due`` is the outbox pass the server runs every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from puente.accounts.models import BorrowerProfile, User
from puente.config import Settings
from puente.notifications.channels import (
    Attachment,
    DeliveryError,
    EmailSender,
    OutgoingMessage,
    TwilioSender,
    channel_configured,
)
from puente.notifications.messages import render_notice
from puente.notifications.models import (
    Channel,
    DeliveryStatus,
    Notification,
    NotificationPreference,
)
from puente.runtime import Runtime

__all__ = [
    "MAX_ATTEMPTS",
    "channels_for",
    "deliver",
    "deliver_due",
    "drain_deliveries",
    "send_notice",
    "set_attachment_renderer",
    "spawn",
    "store_notice",
]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
LEASE = timedelta(minutes=2)
# Kinds the person asked for just now: they go by email whatever the preferences say.
REQUESTED = frozenset({"password_reset"})

# Renders a notice's documents at delivery time (set by notifications.documents).
AttachmentRenderer = Callable[[dict[str, Any]], Awaitable[Attachment | None]]
_attachment_renderer: list[AttachmentRenderer] = []
_TASKS: set[asyncio.Task[None]] = set()


def _backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8, 16 minutes: a mail server's bad minute, not a bad day."""
    return timedelta(minutes=2 ** max(attempts - 1, 0))


async def channels_for(user: User, kind: str) -> list[Channel]:
    """The channels a notice of ``kind`` goes to for ``user`` (empty: opted out)."""
    if kind in REQUESTED:
        return [Channel.EMAIL]
    prefs = await NotificationPreference.get_or_none(user_id=user.id)
    if prefs is None:
        return [Channel.EMAIL]
    if prefs.opted_out:
        return []
    chosen = (
        (Channel.EMAIL, prefs.email),
        (Channel.SMS, prefs.sms),
        (Channel.WHATSAPP, prefs.whatsapp),
    )
    return [channel for channel, wanted in chosen if wanted]


async def _recipient(user: User, channel: Channel) -> str | None:
    if channel is Channel.EMAIL:
        return user.email
    profile = await BorrowerProfile.get_or_none(user_id=user.id)
    digits = "".join(ch for ch in (profile.phone or "") if ch.isdigit()) if profile else ""
    if len(digits) == 10:  # a Mexican national number: E.164 is +52 and the ten digits
        return f"+52{digits}"
    if len(digits) == 12 and digits.startswith("52"):
        return f"+{digits}"
    return None


async def store_notice(
    settings: Settings,
    *,
    kind: str,
    user_id: int,
    context: dict[str, Any],
    dedupe_key: str,
    loan_id: int | None = None,
    payment_id: int | None = None,
    attachments: Sequence[dict[str, Any]] = (),
) -> list[Notification]:
    """Store the notice once per accepted channel; the rows already stored are not repeated."""
    user = await User.get_or_none(id=user_id).prefetch_related("institution")
    if user is None or not user.is_active:
        return []
    stored: list[Notification] = []
    for channel in await channels_for(user, kind):
        if await Notification.exists(dedupe_key=dedupe_key, channel=channel):
            continue
        recipient = await _recipient(user, channel)
        if recipient is None:
            continue  # no phone on file: this channel cannot reach them
        rendered = render_notice(
            kind,
            {
                "nombre": user.full_name.split()[0] if user.full_name else "",
                "institucion": user.institution.name,
                "base_url": settings.base_url,
                **context,
            },
        )
        email = channel is Channel.EMAIL
        try:
            row = await Notification.create(
                user_id=user.id,
                loan_id=loan_id,
                payment_id=payment_id,
                kind=kind,
                channel=channel,
                dedupe_key=dedupe_key,
                recipient=recipient,
                subject=rendered.subject[:200],
                body_text=rendered.text if email else rendered.sms,
                body_html=rendered.html if email else None,
                attachments=list(attachments) if email else [],
            )
        except IntegrityError:
            continue  # another process stored it a moment ago
        stored.append(row)
    return stored


async def send_notice(
    runtime: Runtime,
    *,
    kind: str,
    user_id: int,
    context: dict[str, Any],
    dedupe_key: str,
    loan_id: int | None = None,
    payment_id: int | None = None,
    attachments: Sequence[dict[str, Any]] = (),
) -> list[Notification]:
    """Tell a person something, once per ``dedupe_key``: store it, then deliver it in the
    background (a failure is retried by the outbox pass, never raised to the caller)."""
    stored = await store_notice(
        runtime.settings,
        kind=kind,
        user_id=user_id,
        context=context,
        dedupe_key=dedupe_key,
        loan_id=loan_id,
        payment_id=payment_id,
        attachments=attachments,
    )
    for row in stored:
        spawn(deliver(runtime.settings, row.id, runtime.now()))
    return stored


def spawn(work: Awaitable[object]) -> None:
    """Run ``work`` after the caller returns, logging (never raising) its failure."""

    async def guarded() -> None:
        try:
            await work
        except Exception:  # noqa: BLE001 - a notice must never break whoever sent it
            log.exception("notification delivery failed")

    task = asyncio.get_running_loop().create_task(guarded())
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


async def drain_deliveries() -> None:
    """Wait for background deliveries in flight (tests, shutdown)."""
    while _TASKS:
        await asyncio.gather(*list(_TASKS), return_exceptions=True)


def set_attachment_renderer(renderer: AttachmentRenderer) -> None:
    """How the documents named in ``Notification.attachments`` become files."""
    _attachment_renderer[:] = [renderer]


async def _message(row: Notification) -> OutgoingMessage:
    files = []
    for spec in row.attachments or []:
        if _attachment_renderer and (made := await _attachment_renderer[0](spec)) is not None:
            files.append(made)
    return OutgoingMessage(
        notification_id=row.id,
        channel=Channel(row.channel),
        recipient=row.recipient,
        subject=row.subject,
        text=row.body_text,
        html=row.body_html,
        attachments=tuple(files),
    )


async def _claim(notification_id: int, now: datetime) -> bool:
    """PENDING (due) or SENDING past its lease → SENDING for us; False if someone has it."""
    due = Q(status=DeliveryStatus.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    abandoned = Q(status=DeliveryStatus.SENDING) & Q(lease_until__lt=now)
    claimed = await Notification.filter(Q(id=notification_id) & (due | abandoned)).update(
        status=DeliveryStatus.SENDING, lease_until=now + LEASE, attempts=F("attempts") + 1
    )
    return claimed == 1


def sender_for(
    settings: Settings, channel: Channel, transport: httpx.AsyncBaseTransport | None = None
) -> EmailSender | TwilioSender:
    """The wire for ``channel`` (``transport``: Twilio's HTTP seam, for tests)."""
    if channel is Channel.EMAIL:
        return EmailSender(settings)
    return TwilioSender(settings, transport=transport)


async def deliver(
    settings: Settings,
    notification_id: int,
    now: datetime,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> DeliveryStatus | None:
    """Try to hand one stored notice to its channel; the status it is left in (None: not ours)."""
    row = await Notification.get_or_none(id=notification_id)
    if row is None or not channel_configured(settings, Channel(row.channel)):
        return None  # stays PENDING until a process that can send picks it up
    if not await _claim(notification_id, now):
        return None
    row = await Notification.get(id=notification_id)
    try:
        sender = sender_for(settings, Channel(row.channel), transport)
        provider_id = await sender.send(await _message(row))
    except DeliveryError as exc:
        final = exc.permanent or row.attempts >= MAX_ATTEMPTS
        status = DeliveryStatus.FAILED if final else DeliveryStatus.PENDING
        await Notification.filter(id=row.id, status=DeliveryStatus.SENDING).update(
            status=status,
            last_error=str(exc)[:300],
            next_attempt_at=None if final else now + _backoff(row.attempts),
            lease_until=None,
        )
        log.warning("notification %s not delivered (%s): %s", row.id, status, exc)
        return status
    sent = {"provider_id": provider_id[:200], "sent_at": now, "lease_until": None}
    moved = await Notification.filter(id=row.id, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.SENT, last_error=None, **sent
    )
    if not moved:  # Twilio's delivery report came back before its answer: keep the report
        await Notification.filter(id=row.id).update(**sent)
    return DeliveryStatus.SENT


async def deliver_due(settings: Settings, now: datetime, *, limit: int = 100) -> int:
    """The outbox pass: deliver what is due (new, retried, or abandoned mid-send)."""
    channels = [c for c in Channel if channel_configured(settings, c)]
    if not channels:
        return 0
    due = Q(status=DeliveryStatus.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    abandoned = Q(status=DeliveryStatus.SENDING) & Q(lease_until__lt=now)
    ids = (
        await Notification.filter((due | abandoned) & Q(channel__in=channels))
        .order_by("id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    sent = 0
    for notification_id in ids:
        if await deliver(settings, int(notification_id), now) is DeliveryStatus.SENT:
            sent += 1
    return sent
