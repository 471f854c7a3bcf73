"""PayPal's webhook signing certificates: fetched only from allowed hosts, then cached.

``PAYPAL-CERT-URL`` comes from the (not yet trusted) request, so a certificate is downloaded
only from PayPal's API hosts over HTTPS, or from under the connector's configured base URL
(the sandbox simulator); anything else cannot authenticate a webhook (``InvalidSignature``).
A downloaded certificate is kept until it expires. Chain validation up to PayPal's CA is left
out: trust comes from the host allowlist and TLS.

``Connector.verify_webhook`` is synchronous, so ``get`` downloads on a cache miss in a worker
thread with its own event loop (once per certificate); async callers use ``aget``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import urlsplit

import anyio
import httpx
from cryptography import x509

from puente.providers.errors import InvalidSignature, ProviderUnavailable

__all__ = ["PAYPAL_CERT_HOSTS", "CertificateStore"]

PAYPAL_CERT_HOSTS = frozenset(
    {"api.paypal.com", "api.sandbox.paypal.com", "api-m.paypal.com", "api-m.sandbox.paypal.com"}
)


class CertificateStore:
    """Allowlisted, cached PayPal certificates for one connector."""

    def __init__(
        self,
        *,
        base_url: str,
        hosts: Iterable[str] = PAYPAL_CERT_HOSTS,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.hosts = frozenset(h.lower() for h in hosts)
        self.transport = transport
        self.timeout = timeout
        self._cache: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()
        self.downloads = 0

    def check(self, url: str) -> None:
        """Raise ``InvalidSignature`` unless ``url`` may serve a PayPal certificate."""
        if url.startswith(self.base_url):
            return  # our own configured endpoint (the sandbox simulator)
        parts = urlsplit(url)
        if parts.scheme != "https" or (parts.hostname or "").lower() not in self.hosts:
            raise InvalidSignature("PAYPAL-CERT-URL is not on an allowed PayPal host")

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

    async def aget(self, url: str, *, now: datetime | None = None) -> x509.Certificate:
        """The certificate at ``url``, downloaded once (async callers)."""
        self.check(url)
        now = now or datetime.now(UTC)
        cert = self._cached(url, now)
        return cert if cert is not None else self._keep(url, await self._download(url), now)

    def get(self, url: str, *, now: datetime | None = None) -> x509.Certificate:
        """The certificate at ``url``; a miss downloads it in a worker thread (sync callers)."""
        self.check(url)
        now = now or datetime.now(UTC)
        cert = self._cached(url, now)
        if cert is not None:
            return cert
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="paypal-cert") as pool:
            pem = pool.submit(anyio.run, self._download, url).result(self.timeout + 5)
        return self._keep(url, pem, now)
