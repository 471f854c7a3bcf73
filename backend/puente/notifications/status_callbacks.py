"""Twilio's status callbacks: what became of an SMS or WhatsApp message after we sent it.

Twilio POSTs the form (MessageSid, MessageStatus, ErrorCode …) to the StatusCallback URL we
gave it, signed with X-Twilio-Signature (HMAC-SHA1 under the account's auth token over the
URL and the sorted parameters). An unsigned or wrongly signed request changes nothing (403).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tortoise.expressions import Q

from puente.notifications.channels import STATUS_CALLBACK_PATH, twilio_signature
from puente.notifications.models import DeliveryStatus, Notification
from puente.runtime import Runtime

__all__ = ["apply_message_status", "twilio_status_routes"]

# Twilio's MessageStatus → ours; the earlier ones (queued, sending) change nothing.
FINAL = {
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.UNDELIVERED,
}


async def apply_message_status(
    notification_id: int | None,
    message_sid: str,
    status: str,
    error_code: str | None,
    runtime: Runtime,
) -> bool:
    """Record a final status for the message Twilio names (once: a final status stays).

    The report may arrive before Twilio's answer to our request was recorded, so the notice
    is found by the id in the callback URL and its message SID is recorded here as well.
    """
    final = FINAL.get(status)
    if final is None or not message_sid:
        return False
    if notification_id is not None:
        target = Notification.filter(id=notification_id).filter(
            Q(provider_id__isnull=True) | Q(provider_id=message_sid)
        )
    else:
        target = Notification.filter(provider_id=message_sid)
    updated = await target.filter(status__in=[DeliveryStatus.SENT, DeliveryStatus.SENDING]).update(
        status=final,
        provider_id=message_sid,
        delivered_at=runtime.now() if final is DeliveryStatus.DELIVERED else None,
        last_error=f"Twilio {error_code}" if error_code else None,
    )
    return updated > 0


def twilio_status_routes(runtime: Runtime) -> list[Route]:
    async def status_callback(request: Request) -> Response:
        token = runtime.settings.twilio_auth_token
        form = await request.form(max_files=0, max_fields=60)
        params = {key: str(value) for key, value in form.items()}
        # The URL Twilio was given (and signed), query string included.
        query = f"?{request.url.query}" if request.url.query else ""
        url = f"{runtime.settings.base_url}{STATUS_CALLBACK_PATH}{query}"
        given = request.headers.get("x-twilio-signature", "")
        if not token or not hmac.compare_digest(given, twilio_signature(token, url, params)):
            return Response("firma inválida", status_code=403, media_type="text/plain")
        if params.get("AccountSid") != runtime.settings.twilio_account_sid:
            return Response("cuenta desconocida", status_code=403, media_type="text/plain")
        reference = request.query_params.get("n", "")
        await apply_message_status(
            int(reference) if reference.isdigit() and len(reference) < 18 else None,
            params.get("MessageSid", ""),
            params.get("MessageStatus", ""),
            params.get("ErrorCode") or None,
            runtime,
        )
        return Response(status_code=204)

    return [Route(STATUS_CALLBACK_PATH, status_callback, methods=["POST"])]
