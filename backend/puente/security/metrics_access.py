"""Who may read ``GET /metrics``: an authorised scraper, never the public.

Metrics name providers, error rates and circuit states: useful to an attacker choosing when
to strike. With ``PUENTE_METRICS_TOKEN`` set, a scraper sends ``Authorization: Bearer
<token>`` (Prometheus ``authorization: {credentials: …}``). Without it, ``puente serve``
refuses every scrape (a reverse proxy on the same host would make "loopback only" mean
"everyone"), and ``puente demo`` answers loopback clients only.
"""

from __future__ import annotations

import hmac
import ipaddress

__all__ = ["MetricsAccess", "metrics_access"]


class MetricsAccess:
    """The answer for one scrape: 200 allowed, 401 bad or missing token, 403 closed."""

    ALLOWED = 200
    UNAUTHORISED = 401
    CLOSED = 403


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metrics_access(
    *, token: str | None, demo: bool, authorization: str | None, client_host: str | None
) -> int:
    """Decide a scrape from the configured token, the mode and what the request carries."""
    if token:
        scheme, _, given = (authorization or "").partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )
        return MetricsAccess.ALLOWED if ok else MetricsAccess.UNAUTHORISED
    if demo and _loopback(client_host):
        return MetricsAccess.ALLOWED
    return MetricsAccess.CLOSED
