"""What every door asks about the caller: where they connect from, and what they may do."""

from __future__ import annotations

from typing import Any

__all__ = ["client_address"]


def client_address(request: Any) -> str | None:
    """The peer address of an HTTP request or WebSocket (the proxy's, behind one).

    Behind a reverse proxy run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips``
    so this is the client's; never read X-Forwarded-For here, anyone can send it.
    """
    client = getattr(request, "client", None)
    host = getattr(client, "host", None)
    return host if isinstance(host, str) and host else None
