"""How the PayPal connector authenticates webhooks: offline (certificate), or online.

``verify_webhook`` (the interface's one async check) downloads PayPal's certificate once per
URL (allowlisted hosts only, see ``paypal_certs``) without blocking the event loop, caches it,
and checks the signature offline; ``verify_webhook_online`` asks PayPal
(``POST /v1/notifications/verify-webhook-signature``).
``resolve_event`` names the order in events that only name a capture.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from puente.providers.base import (
    InvalidSignature,
    NormalisedEvent,
    PaymentGateway,
    WebhookDelivery,
    reading_response,
)
from puente.providers.paypal_certs import CertificateStore
from puente.providers.paypal_webhooks import (
    Transmission,
    check_transmission_age,
    normalise_paypal_event,
    paypal_transmission,
    verify_paypal_signature,
)
from puente.providers.signatures import webhook_json

__all__ = ["PayPalWebhookVerification"]


class PayPalWebhookVerification(PaymentGateway):
    """Webhook checks of ``PayPalConnector`` (its base: the connector's plumbing is typed)."""

    certificates: CertificateStore

    async def authenticate_webhook(self, delivery: WebhookDelivery) -> NormalisedEvent:
        """Offline verification; the certificate is downloaded (once) on a cache miss."""
        transmission = self._fresh_transmission(delivery.headers, delivery.now)
        certificate = await self.certificates.get(transmission.cert_url)
        return verify_paypal_signature(
            delivery.raw_body,
            delivery.headers,
            self.credential("webhook_id"),
            certificate,
            now=delivery.now,
            tolerance=self.config.webhook_tolerance,
        )

    def _fresh_transmission(self, headers: Mapping[str, str], now: datetime | None) -> Transmission:
        """The transmission headers, refused when stale before any network call (a replayed
        delivery must cost us nothing)."""
        transmission = paypal_transmission(headers)
        check_transmission_age(transmission, now=now, tolerance=self.config.webhook_tolerance)
        return transmission

    async def verify_webhook_online(
        self, raw_body: bytes, headers: Mapping[str, str], *, now: datetime | None = None
    ) -> NormalisedEvent:
        """PayPal's own check (``POST /v1/notifications/verify-webhook-signature``)."""
        transmission = self._fresh_transmission(headers, now)
        self.certificates.check(transmission.cert_url)
        event_body = webhook_json(raw_body)
        body = {
            "auth_algo": transmission.auth_algo,
            "cert_url": transmission.cert_url,
            "transmission_id": transmission.transmission_id,
            "transmission_sig": transmission.signature,
            "transmission_time": transmission.transmission_time,
            "webhook_id": self.credential("webhook_id"),
            "webhook_event": event_body,
        }
        answer = await self.call("POST", "/v1/notifications/verify-webhook-signature", body)
        if not isinstance(answer, Mapping) or answer.get("verification_status") != "SUCCESS":
            raise InvalidSignature("PayPal did not confirm the signature")
        check_transmission_age(transmission, now=now, tolerance=self.config.webhook_tolerance)
        # PayPal checked the signature over this very event: its body is authenticated.
        event = replace(normalise_paypal_event(event_body), body_authenticated=True)
        return self._log_event(event)

    async def resolve_event(self, event: NormalisedEvent) -> NormalisedEvent:
        """Name the order in events that only name a capture (refunds, disputes)."""
        resource = event.raw.get("resource") or {}
        names_capture = (
            event.type == "PAYMENT.CAPTURE.REFUNDED"
            or event.type.startswith("CUSTOMER.DISPUTE.")
            or (
                event.type.startswith("PAYMENT.CAPTURE.")
                and event.provider_payment_id == resource.get("id")
            )
        )
        related = (resource.get("supplementary_data") or {}).get("related_ids") or {}
        if not event.provider_payment_id or related.get("order_id") or not names_capture:
            return event
        capture = await self.call("GET", f"/v2/payments/captures/{event.provider_payment_id}")
        with reading_response(self.name, "capture"):
            order = ((capture.get("supplementary_data") or {}).get("related_ids") or {}).get(
                "order_id"
            )
        return replace(event, provider_payment_id=str(order)) if order else event
