"""PayPal's offline webhook verification, the certificate allowlist and cache, online checks."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509

from puente.providers.base import (
    EventKind,
    InvalidSignature,
    MalformedWebhook,
    ProviderConfig,
    ProviderUnavailable,
    StaleSignature,
)
from puente.providers.paypal import PayPalConnector
from puente.providers.paypal_certs import CertificateStore
from puente.providers.paypal_webhooks import (
    normalise_paypal_event,
    sign_paypal_transmission,
    transmission_message,
    verify_paypal_signature,
)
from puente_sandbox.paypal_objects import signing_identity

KEY, PEM = signing_identity()
CERT = x509.load_pem_x509_certificate(PEM)
CERT_URL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1"
WEBHOOK_ID = "8PT597110X687430LKGECATA"
SENT = "2024-05-10T19:43:14Z"
NOW = datetime(2024, 5, 10, 19, 43, 20, tzinfo=UTC)
BODY = json.dumps(
    {
        "id": "WH-1",
        "event_version": "1.0",
        "create_time": SENT,
        "resource_type": "capture",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "resource": {
            "id": "CAP1",
            "status": "COMPLETED",
            "amount": {"currency_code": "MXN", "value": "150.00"},
            "supplementary_data": {"related_ids": {"order_id": "ORDER1"}},
        },
    }
).encode()


def headers(
    body: bytes = BODY, *, webhook_id: str = WEBHOOK_ID, cert_url: str = CERT_URL, when: str = SENT
) -> dict[str, str]:
    return {
        "PAYPAL-TRANSMISSION-ID": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
        "PAYPAL-TRANSMISSION-TIME": when,
        "PAYPAL-TRANSMISSION-SIG": sign_paypal_transmission(
            KEY, "69cd13f0-d67a-11e5-baa3-778b53f4ae55", when, webhook_id, body
        ),
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }


def test_message_is_ids_time_webhook_id_and_unsigned_crc32() -> None:
    crc = zlib.crc32(BODY) & 0xFFFFFFFF
    assert transmission_message("t-1", SENT, WEBHOOK_ID, BODY) == (
        f"t-1|{SENT}|{WEBHOOK_ID}|{crc}".encode()
    )


def test_valid_delivery_is_normalised() -> None:
    event = verify_paypal_signature(BODY, headers(), WEBHOOK_ID, CERT, now=NOW)
    assert event.kind is EventKind.PAYMENT_SUCCEEDED
    assert event.provider_payment_id == "ORDER1" and str(event.amount) == "150.00"


def test_any_change_breaks_the_signature() -> None:
    with pytest.raises(InvalidSignature):
        verify_paypal_signature(BODY + b" ", headers(), WEBHOOK_ID, CERT, now=NOW)
    with pytest.raises(InvalidSignature):  # signed for another subscription
        verify_paypal_signature(BODY, headers(webhook_id="OTHER"), WEBHOOK_ID, CERT, now=NOW)
    with pytest.raises(InvalidSignature):
        verify_paypal_signature(
            BODY, {**headers(), "PAYPAL-AUTH-ALGO": "SHA1withRSA"}, WEBHOOK_ID, CERT, now=NOW
        )
    with pytest.raises(MalformedWebhook):
        verify_paypal_signature(BODY, {"PAYPAL-TRANSMISSION-ID": "x"}, WEBHOOK_ID, CERT, now=NOW)
    with pytest.raises(StaleSignature):
        verify_paypal_signature(BODY, headers(), WEBHOOK_ID, CERT, now=NOW + timedelta(minutes=6))


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("CHECKOUT.ORDER.APPROVED", EventKind.PAYMENT_PENDING),
        ("PAYMENT.CAPTURE.DECLINED", EventKind.PAYMENT_FAILED),
        ("PAYMENT.CAPTURE.REFUNDED", EventKind.PAYMENT_REFUNDED),
        ("PAYMENT.CAPTURE.REVERSED", EventKind.CHARGEBACK),
        ("CHECKOUT.ORDER.COMPLETED", EventKind.IGNORED),
        ("SOMETHING.NEW", EventKind.UNKNOWN),
    ],
)
def test_event_kinds(event_type: str, kind: EventKind) -> None:
    event = normalise_paypal_event(
        {"id": "WH-2", "event_type": event_type, "create_time": SENT, "resource": {"id": "R1"}}
    )
    assert event.kind is kind


def test_certificates_come_only_from_allowed_hosts() -> None:
    store = CertificateStore(base_url="http://127.0.0.1:8000/sandbox/paypal")
    store.check(CERT_URL)
    store.check("http://127.0.0.1:8000/sandbox/paypal/v1/notifications/certs/CERT-1")
    for url in (
        "http://api.sandbox.paypal.com/v1/notifications/certs/CERT-1",  # not https
        "https://evil.example.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com.evil.example/cert",
        "http://127.0.0.1:8000/sandbox/other/cert",
    ):
        with pytest.raises(InvalidSignature):
            store.check(url)


def connector(handler) -> PayPalConnector:
    return PayPalConnector(
        ProviderConfig(
            credentials={"client_id": "id", "client_secret": "secret", "webhook_id": WEBHOOK_ID},
            transport=httpx.MockTransport(handler),
        )
    )


@pytest.mark.anyio
async def test_connector_downloads_the_certificate_once_and_caches_it() -> None:
    fetched: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200, content=PEM)

    paypal = connector(handler)
    now = datetime.now(UTC)
    fresh = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    for _ in range(3):
        event = await paypal.verify_webhook(BODY, headers(when=fresh), now=now)
    assert event.event_id == "WH-1"
    assert fetched == [CERT_URL] and paypal.certificates.downloads == 1


@pytest.mark.anyio
async def test_unknown_certificate_is_invalid_and_an_outage_is_retryable() -> None:
    fresh = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(InvalidSignature):
        await connector(lambda r: httpx.Response(404)).verify_webhook(BODY, headers(when=fresh))
    with pytest.raises(ProviderUnavailable):
        await connector(lambda r: httpx.Response(503)).verify_webhook(BODY, headers(when=fresh))
    with pytest.raises(InvalidSignature):  # never fetched: the host is not PayPal's
        await connector(lambda r: httpx.Response(200, content=PEM)).verify_webhook(
            BODY, headers(cert_url="https://evil.example/cert", when=fresh)
        )


@pytest.mark.anyio
async def test_a_stale_delivery_is_refused_before_any_certificate_download() -> None:
    fetched: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200, content=PEM)

    paypal = connector(handler)
    stale = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(StaleSignature):
        await paypal.verify_webhook(BODY, headers(when=stale))
    assert fetched == []  # an attacker replaying old deliveries costs us no network call


@pytest.mark.anyio
async def test_a_failed_certificate_download_is_remembered_briefly() -> None:
    fetched: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(503)

    paypal = connector(handler)
    fresh = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for _ in range(5):
        with pytest.raises(ProviderUnavailable):
            await paypal.verify_webhook(BODY, headers(when=fresh))
    assert len(fetched) == 1  # a flood of deliveries does not become a flood of downloads
    paypal.certificates.failure_ttl = 0.0  # the negative cache expires: PayPal is asked again
    with pytest.raises(ProviderUnavailable):
        await paypal.verify_webhook(BODY, headers(when=fresh))
    assert len(fetched) == 2


def test_certificates_come_only_from_paypal_certificate_paths() -> None:
    store = CertificateStore(base_url="https://api-m.paypal.com")
    store.check(CERT_URL)
    for url in (
        "https://api.paypal.com/v1/oauth2/token",  # a PayPal host, but not a certificate
        "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",  # another port
        "https://user@api.paypal.com/v1/notifications/certs/CERT-1",  # credentials in URL
        "https://api-m.paypal.com/v2/checkout/orders/1",  # under the connector base URL
    ):
        with pytest.raises(InvalidSignature):
            store.check(url)
