"""Reading the credentials a request carries, as the providers' APIs read them."""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request

__all__ = ["authorization_key", "basic_credentials"]


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """User and password of an HTTP Basic ``Authorization``; None for another scheme.

    A Basic header that does not decode is ``("", "")``: present, but naming nobody.
    """
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


def authorization_key(request: Request, *, bearer: bool = True, basic: bool = True) -> str:
    """The API key in ``Authorization``: a Bearer token or a Basic user ("" when none)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if bearer and scheme.lower() == "bearer":
        return value.strip()
    pair = basic_credentials(request) if basic else None
    return pair[0] if pair is not None else ""
