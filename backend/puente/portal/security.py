"""Portal protections: security headers (CSP without inline script) and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SecurityHeadersMiddleware",
    "content_security_policy",
    "csrf_binding",
    "csrf_key",
    "csrf_token_for",
    "csrf_valid",
]

CSRF_COOKIE = "puente_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def content_security_policy(gateway_origin: str = "") -> str:
    """The portal's CSP; ``gateway_origin`` is added (script, its API calls, its iframes) on
    the card page only, for the gateway's own tokenisation script (``payments.card_step``)."""
    extra = f" {gateway_origin}" if gateway_origin else ""
    directives = [
        "default-src 'self'",
        f"script-src 'self'{extra}",
        "style-src 'self'",
        "img-src 'self' data:",
        f"connect-src 'self'{extra}",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    if gateway_origin:
        directives.insert(1, f"frame-src{extra}")
    return "; ".join(directives)


# No inline script or style anywhere: htmx is loaded from /static and configured by a <meta>.
CONTENT_SECURITY_POLICY = content_security_policy()

HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(self)"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeadersMiddleware:
    """Adds security headers to every HTTP response (HSTS too when served over HTTPS)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in HEADERS:
                    if name not in present:
                        headers.append((name, value))
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_key(secret_key: str) -> bytes:
    """The HMAC key for CSRF tokens, derived so it is never the JWT signing key itself."""
    return hashlib.sha256(b"puente-csrf:" + secret_key.encode()).digest()


def _sign(key: bytes, nonce: str, binding: str) -> str:
    return hmac.new(key, f"{nonce}|{binding}".encode(), hashlib.sha256).hexdigest()


def _nonce(request: Request) -> str | None:
    nonce = request.cookies.get(CSRF_COOKIE)
    return nonce if nonce and 20 <= len(nonce) <= 100 else None


def csrf_token_for(request: Request, key: bytes, binding: str) -> tuple[str, str | None]:
    """The token forms carry, and a new cookie value when the browser has none yet.

    The token is an HMAC of the browser's cookie *and* the session (``binding``, its refresh
    family; empty before login), so a token taken from another session — or planted together
    with its cookie — is refused.
    """
    nonce = _nonce(request)
    new = None if nonce else secrets.token_urlsafe(32)
    return _sign(key, nonce or new or "", binding), new


def csrf_valid(request: Request, submitted: str | None, key: bytes, binding: str) -> bool:
    """The form (or htmx header) must carry this browser's token for this session."""
    nonce = _nonce(request)
    candidate = submitted or request.headers.get(CSRF_HEADER)
    if not nonce or not candidate:
        return False
    return hmac.compare_digest(_sign(key, nonce, binding).encode(), candidate.encode())


def csrf_binding(request: Request) -> str:
    """What CSRF tokens are tied to: the session's refresh family ('' before login)."""
    session = getattr(request.state, "session", None)
    return session.family_id if session is not None else ""
