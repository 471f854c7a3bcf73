"""Access and refresh JWTs (HS256 only) with the checks Puente relies on.

Access tokens are short-lived. Refresh tokens carry a ``jti``; both carry the session's
family id (``fam``), the user's session version (``sv``) and a scope (``scp``): ``full``, or
``mfa_enrolment`` for staff who must enrol TOTP before anything else. The caller stores issued
jtis, rotates on every use, and when an already-used jti comes back it revokes the whole
family (reuse means the token was stolen); it checks ``fam`` and ``sv`` on every request so a
revoked session ends at once, not when its access token expires.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import jwt

from puente.security._clock import require_aware

__all__ = [
    "ALGORITHM",
    "AUDIENCE",
    "ISSUER",
    "MIN_SECRET_BYTES",
    "SCOPES",
    "SCOPE_FULL",
    "SCOPE_MFA_ENROLMENT",
    "TOKEN_EXPIRED",
    "TOKEN_INVALID",
    "TOKEN_WRONG_TYPE",
    "TokenClaims",
    "TokenError",
    "TokenType",
    "decode_token",
    "issue_access_token",
    "issue_refresh_token",
    "new_family_id",
]

ALGORITHM: Final = "HS256"
ISSUER: Final = "puente"
AUDIENCE: Final = "puente-api"
# RFC 7518 §3.2: an HS256 key must be at least as long as the hash output (32 bytes).
MIN_SECRET_BYTES: Final = 32
# Tolerated clock skew for "issued in the future"; expiry itself is enforced to the second.
_IAT_LEEWAY_SECONDS: Final = 30

TOKEN_EXPIRED: Final = "TOKEN_EXPIRED"
TOKEN_INVALID: Final = "TOKEN_INVALID"
TOKEN_WRONG_TYPE: Final = "TOKEN_WRONG_TYPE"

SCOPE_FULL: Final = "full"
SCOPE_MFA_ENROLMENT: Final = "mfa_enrolment"
SCOPES: Final = frozenset({SCOPE_FULL, SCOPE_MFA_ENROLMENT})

TokenType = Literal["access", "refresh"]
_REQUIRED: Final = ("sub", "typ", "iat", "exp", "jti", "iss", "aud", "fam", "sv", "scp")


class TokenError(Exception):
    """A token was refused; ``code`` is stable for the API edge, ``message`` is for humans."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The verified claims of an access or refresh token (ids are strings, as in the JWT)."""

    type: TokenType
    user_id: str
    jti: str
    issued_at: datetime
    expires_at: datetime
    family_id: str
    session_version: int
    scope: str
    institution_id: str | None = None  # access tokens only
    role: str | None = None  # access tokens only


def _key(secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if len(key) < MIN_SECRET_BYTES:
        # Refuse instead of letting PyJWT warn: a short HMAC key is brute-forceable offline.
        raise ValueError(f"JWT secret must be at least {MIN_SECRET_BYTES} bytes long")
    return key


def _ttl_seconds(ttl: int | timedelta) -> int:
    seconds = int(ttl.total_seconds()) if isinstance(ttl, timedelta) else int(ttl)
    if seconds <= 0:
        raise ValueError("token ttl must be positive")
    return seconds


def _encode(
    secret: str | bytes, claims: dict[str, Any], ttl: int | timedelta, now: datetime | None
) -> tuple[str, str]:
    issued = int(require_aware(now).timestamp())
    jti = secrets.token_urlsafe(16)
    payload = {
        **claims,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + _ttl_seconds(ttl),
        "jti": jti,
    }
    return jwt.encode(payload, _key(secret), algorithm=ALGORITHM), jti


def new_family_id() -> str:
    """Return a fresh refresh-token family id (one per login)."""
    return secrets.token_urlsafe(16)


def _session_claims(family_id: str, session_version: int, scope: str) -> dict[str, Any]:
    if not family_id:
        raise ValueError("family_id must not be empty")
    if scope not in SCOPES:
        raise ValueError(f"unknown token scope {scope!r}")
    return {"fam": family_id, "sv": int(session_version), "scp": scope}


def issue_access_token(
    secret: str | bytes,
    user_id: str | int,
    institution_id: str | int,
    role: str,
    ttl: int | timedelta,
    now: datetime | None = None,
    *,
    family_id: str,
    session_version: int,
    scope: str = SCOPE_FULL,
) -> str:
    """Sign a short-lived access token for ``user_id`` acting in ``institution_id``."""
    claims = {
        "sub": str(user_id),
        "inst": str(institution_id),
        "role": role,
        "typ": "access",
        **_session_claims(family_id, session_version, scope),
    }
    token, _ = _encode(secret, claims, ttl, now)
    return token


def issue_refresh_token(
    secret: str | bytes,
    user_id: str | int,
    family_id: str,
    ttl: int | timedelta,
    now: datetime | None = None,
    *,
    session_version: int = 0,
    scope: str = SCOPE_FULL,
) -> tuple[str, str]:
    """Sign a refresh token in ``family_id``; return ``(token, jti)`` so the caller can store it."""
    claims = {
        "sub": str(user_id),
        "typ": "refresh",
        **_session_claims(family_id, session_version, scope),
    }
    return _encode(secret, claims, ttl, now)


def _timestamp(payload: dict[str, Any], name: str) -> int:
    value = payload[name]
    # bool is an int subclass; a float exp would be legal JSON but is never issued by us.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TokenError(TOKEN_INVALID, f"claim {name!r} must be an integer timestamp")
    return value


def _string(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise TokenError(TOKEN_INVALID, f"claim {name!r} is missing or not a string")
    return value


def decode_token(
    secret: str | bytes,
    token: str,
    expected_type: TokenType,
    now: datetime | None = None,
) -> TokenClaims:
    """Verify signature, issuer, audience, expiry and type; raise :class:`TokenError` on failure."""
    key = _key(secret)
    moment = int(require_aware(now).timestamp())
    try:
        payload = jwt.decode(
            token,
            key,
            # Pinning the list is what refuses alg=none and RS/HS confusion.
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            # Time claims are checked below against the injectable ``now``.
            options={
                "require": list(_REQUIRED),
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "strict_aud": True,
            },
        )
    except jwt.InvalidTokenError as exc:
        # The library's message names the failing check (signature, audience, …), never the token.
        raise TokenError(TOKEN_INVALID, f"token rejected: {exc}") from None

    issued_at = _timestamp(payload, "iat")
    expires_at = _timestamp(payload, "exp")
    if moment >= expires_at:
        raise TokenError(TOKEN_EXPIRED, "token has expired; refresh or sign in again")
    if issued_at > moment + _IAT_LEEWAY_SECONDS:
        raise TokenError(TOKEN_INVALID, "token is issued in the future")

    token_type = payload.get("typ")
    if token_type != expected_type:
        raise TokenError(TOKEN_WRONG_TYPE, f"expected a {expected_type} token")

    scope = _string(payload, "scp")
    if scope not in SCOPES:
        raise TokenError(TOKEN_INVALID, "unknown token scope")
    session = {
        "user_id": _string(payload, "sub"),
        "jti": _string(payload, "jti"),
        "issued_at": _from_timestamp(issued_at),
        "expires_at": _from_timestamp(expires_at),
        "family_id": _string(payload, "fam"),
        "session_version": _timestamp(payload, "sv"),  # an integer claim, like the times
        "scope": scope,
    }
    if expected_type == "access":
        return TokenClaims(
            type="access",
            institution_id=_string(payload, "inst"),
            role=_string(payload, "role"),
            **session,
        )
    return TokenClaims(type="refresh", **session)


def _from_timestamp(value: int) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def bearer_token(value: object) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, or None for anything else."""
    # connection_init payloads are arbitrary JSON: a number or a list is simply no token.
    if not value or not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token.strip()
