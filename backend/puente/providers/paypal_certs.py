"""PayPal's webhook signing certificates: fetched only from allowed hosts, then cached.

``PAYPAL-CERT-URL`` comes from the (not yet trusted) request, so a certificate is downloaded
only from PayPal's certificate path (``/v1/notifications/certs/``) on PayPal's API hosts over
HTTPS on the default port, or the same path under the connector's configured base URL (the
sandbox simulator); anything else (another path, port, user info) cannot authenticate a
webhook (``InvalidSignature``) and is never fetched. A downloaded certificate is kept until it
expires; a failed download is remembered for ``failure_ttl`` seconds, so a flood of
deliveries naming a broken or unknown certificate costs one request, not one each. Chain
validation up to PayPal's CA is left out: trust comes from the allowlist and TLS.

``get`` is async like ``Connector.verify_webhook``: a cache miss downloads without blocking
the event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from cryptography import x509

from puente.providers.errors import InvalidSignature, ProviderException, ProviderUnavailable

__all__ = ["CERT_PATH", "FAILURE_TTL_SECONDS", "PAYPAL_CERT_HOSTS", "CertificateStore"]

PAYPAL_CERT_HOSTS = frozenset(
    {"api.paypal.com", "api.sandbox.paypal.com", "api-m.paypal.com", "api-m.sandbox.paypal.com"}
)
CERT_PATH = "/v1/notifications/certs/"
# Long enough that a delivery storm naming a bad certificate is one download, short enough
# that a PayPal blip does not refuse good deliveries for long (PayPal retries for 3 days).
FAILURE_TTL_SECONDS = 30.0


class CertificateStore:
    """Allowlisted, cached PayPal certificates for one connector."""

    def __init__(
        self,
        *,
        base_url: str,
        hosts: Iterable[str] = PAYPAL_CERT_HOSTS,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        failure_ttl: float = FAILURE_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.hosts = frozenset(h.lower() for h in hosts)
        self.transport = transport
        self.timeout = timeout
        self.failure_ttl = failure_ttl
        self._monotonic = monotonic
        self._cache: dict[str, x509.Certificate] = {}
        self._failures: dict[str, tuple[float, ProviderException]] = {}
        self._lock = threading.Lock()
        self.downloads = 0

    def check(self, url: str) -> None:
        """Raise ``InvalidSignature`` unless ``url`` may serve a PayPal certificate."""
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None or parts.query:
            raise InvalidSignature("PAYPAL-CERT-URL is not a plain certificate URL")
        base = urlsplit(self.base_url)
        if (parts.scheme, parts.netloc) == (base.scheme, base.netloc) and parts.path.startswith(
            base.path + CERT_PATH
        ):
            return  # our own configured endpoint (the sandbox simulator)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (
            parts.scheme != "https"
            or (parts.hostname or "").lower() not in self.hosts
            or port is not None
            or not parts.path.startswith(CERT_PATH)
        ):
            raise InvalidSignature("PAYPAL-CERT-URL is not a PayPal certificate URL")

    def _recent_failure(self, url: str) -> None:
        """Raise the remembered error if downloading ``url`` failed moments ago."""
        with self._lock:
            failed = self._failures.get(url)
            if failed is None:
                return
            if self._monotonic() - failed[0] >= self.failure_ttl:
                del self._failures[url]
                return
        raise failed[1]

    def _remember_failure(self, url: str, error: ProviderException) -> None:
        with self._lock:
            if len(self._failures) > 1000:  # URLs come from requests: keep the map bounded
                self._failures.clear()
            self._failures[url] = (self._monotonic(), error)

    def _cached(self, url: str, now: datetime) -> x509.Certificate | None:
        with self._lock:
            cert = self._cache.get(url)
            if cert is not None and cert.not_valid_after_utc < now:
                del self._cache[url]
                cert = None
            return cert

    def _keep(self, url: str, pem: bytes, now: datetime) -> x509.Certificate:
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise InvalidSignature("PAYPAL-CERT-URL did not serve a PEM certificate") from None
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise InvalidSignature("the signing certificate is not valid now")
        with self._lock:
            self._cache[url] = cert
            self.downloads += 1
        return cert

    async def _download(self, url: str) -> bytes:
        client = httpx.AsyncClient(transport=self.transport, timeout=self.timeout)
        try:
            response = await client.get(url)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"certificate download failed: {type(exc).__name__}", provider="paypal"
            ) from None
        finally:
            if self.transport is None:  # a configured transport belongs to the connector
                await client.aclose()
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderUnavailable(
                f"certificate download answered HTTP {response.status_code}",
                provider="paypal",
                http_status=response.status_code,
            )
        if response.status_code != 200:
            raise InvalidSignature("PAYPAL-CERT-URL does not name a PayPal certificate")
        return response.content

    async def get(self, url: str, *, now: datetime | None = None) -> x509.Certificate:
        """The certificate at ``url``, downloaded once and kept until it expires."""
        self.check(url)
        now = now or datetime.now(UTC)
        cert = self._cached(url, now)
        if cert is not None:
            return cert
        self._recent_failure(url)
        try:
            return self._keep(url, await self._download(url), now)
        except ProviderException as exc:  # an outage, a 404, not a certificate: all remembered
            self._remember_failure(url, exc)
            raise
