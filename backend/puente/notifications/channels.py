"""The wires a notice leaves on: SMTP (aiosmtplib) and Twilio's Messaging API (SMS, WhatsApp).

Each sender takes an :class:`OutgoingMessage` and returns the provider's id for it, or raises
:class:`DeliveryError` (``permanent`` when retrying cannot help, e.g. an invalid number).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
import httpx

from puente.config import Settings
from puente.notifications.models import Channel

__all__ = [
    "Attachment",
    "DeliveryError",
    "EmailSender",
    "OutgoingMessage",
    "TwilioSender",
    "channel_configured",
    "twilio_signature",
]


class DeliveryError(Exception):
    """A message could not be handed over; ``permanent``: do not try again."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str = "application/pdf"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    notification_id: int
    channel: Channel
    recipient: str
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = field(default=())


def channel_configured(settings: Settings, channel: Channel) -> bool:
    """Whether this installation can send on ``channel`` (else its notices wait, stored)."""
    if channel is Channel.EMAIL:
        return bool(settings.smtp_host)
    return bool(settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from)


class EmailSender:
    """Email through the configured SMTP server (STARTTLS unless PUENTE_SMTP_STARTTLS=0)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def build(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.settings.smtp_from
        email["To"] = message.recipient
        email["Subject"] = message.subject
        email["Message-ID"] = make_msgid(domain="puente.mx")
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        for item in message.attachments:
            main, _, sub = item.mime_type.partition("/")
            email.add_attachment(item.content, maintype=main, subtype=sub, filename=item.filename)
        return email

    async def send(self, message: OutgoingMessage) -> str:
        email = self.build(message)
        s = self.settings
        try:
            await aiosmtplib.send(
                email,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user,
                password=s.smtp_password,
                start_tls=s.smtp_starttls if s.smtp_user else None,
                timeout=15,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                "el servidor de correo rechazó al destinatario", permanent=True
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP: {type(exc).__name__}") from exc
        return str(email["Message-ID"])


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by each POST key+value, sorted."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class TwilioSender:
    """SMS and WhatsApp through POST /2010-04-01/Accounts/{AccountSid}/Messages.json."""

    def __init__(
        self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.transport = transport

    def status_callback(self, notification_id: int) -> str:
        """Where Twilio reports; the notice's id rides along (a report may beat the answer)."""
        return f"{self.settings.base_url}{STATUS_CALLBACK_PATH}?n={notification_id}"

    async def send(self, message: OutgoingMessage) -> str:
        s = self.settings
        assert s.twilio_account_sid and s.twilio_auth_token and s.twilio_from
        prefix = "whatsapp:" if message.channel is Channel.WHATSAPP else ""
        form = {
            "To": f"{prefix}{message.recipient}",
            "From": f"{prefix}{s.twilio_from}",
            "Body": message.text,
            "StatusCallback": self.status_callback(message.notification_id),
        }
        url = f"{s.twilio_api_url}/2010-04-01/Accounts/{s.twilio_account_sid}/Messages.json"
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=15) as client:
                response = await client.post(
                    url, data=form, auth=(s.twilio_account_sid, s.twilio_auth_token)
                )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"Twilio: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            try:
                code = response.json().get("code")
            except ValueError:
                code = None
            # 4xx (bad number, unverified sender, auth): retrying the same request cannot help,
            # except 429 (too many requests).
            permanent = response.status_code < 500 and response.status_code != 429
            raise DeliveryError(f"Twilio {response.status_code} ({code})", permanent=permanent)
        return str(response.json()["sid"])


# Where Twilio reports what became of a message (notifications/routes.py).
STATUS_CALLBACK_PATH = "/webhooks/twilio/estado"
