"""Where a payer may be sent back after a redirect (PayPal approval, 3-D Secure).

An app passes ``returnUrl`` with ``createPayment``; it must match one of its institution's
allowed return targets, stored in ``Institution.settings["return_urls"]`` (configurable per
institution). An entry is either an app deep-link scheme (``puente-demo://``: any URL of that
scheme) or a web origin (``https://app.example.mx``: any URL on exactly that origin). A URL
that matches none is refused: a lender's payer must never be bounced to a stranger's page
with the payment's identifiers in the query (an open redirect).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["RETURN_URLS_KEY", "ReturnUrlRefused", "allowed_return_url"]

RETURN_URLS_KEY = "return_urls"
MAX_LENGTH = 2000
_WEB = ("http", "https")


class ReturnUrlRefused(ValueError):
    """The URL is not one of the institution's allowed return targets."""


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _matches(url: str, entry: str) -> bool:
    scheme, netloc = _origin(url)
    allowed_scheme, allowed_netloc = _origin(entry.strip())
    if not allowed_scheme or scheme != allowed_scheme:
        return False
    if allowed_scheme in _WEB:
        return bool(netloc) and netloc == allowed_netloc
    return True  # an app's own scheme: the app decides what its paths mean


def allowed_return_url(url: str, allowed: Iterable[str]) -> str:
    """``url`` when it is an allowed return target, else ``ReturnUrlRefused``."""
    candidate = url.strip()
    if not candidate or len(candidate) > MAX_LENGTH or any(ord(c) < 33 for c in candidate):
        raise ReturnUrlRefused("La URL de regreso no es válida.")
    scheme, _ = _origin(candidate)
    if scheme in ("javascript", "data", "file", "vbscript"):
        raise ReturnUrlRefused("La URL de regreso no es válida.")
    if not any(_matches(candidate, entry) for entry in allowed if entry and entry.strip()):
        raise ReturnUrlRefused(
            "Esa URL de regreso no está autorizada para esta institución; pide que la agreguen "
            "a sus URL permitidas."
        )
    return candidate
