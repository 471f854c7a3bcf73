"""What every door asks about the caller: who the session is, and what it may do.

``authorized_user`` is the one check every staff door (GraphQL queries, mutations and
subscriptions, portal pages, the SSE stream) goes through: a session opens a door only when it
has the full scope and its user is not staff still owing MFA enrolment. An enrolment-scoped
session opens only the enrolment doors (``enrolling_user``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from puente.accounts.models import User
from puente.enums import Role
from puente.security.tokens import SCOPE_FULL, SCOPE_MFA_ENROLMENT

__all__ = [
    "STAFF_ROLES",
    "Session",
    "authorized_user",
    "client_address",
    "enrolling_user",
    "needs_mfa_enrolment",
    "scope_for",
]

STAFF_ROLES = frozenset({Role.STAFF, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Session:
    """A checked token: whose it is, what it may do, its family and when it ends."""

    user: User
    scope: str
    family_id: str
    expires_at: datetime


def needs_mfa_enrolment(user: User) -> bool:
    """Staff and admins must enrol TOTP before they may do anything else."""
    return Role(user.role) in STAFF_ROLES and not user.mfa_enabled


def scope_for(user: User) -> str:
    """The scope a new session of ``user`` gets: enrolment only, until staff have enrolled."""
    return SCOPE_MFA_ENROLMENT if needs_mfa_enrolment(user) else SCOPE_FULL


def authorized_user(session: Session | None) -> User | None:
    """The user a session may act as on any door but MFA enrolment, or None."""
    if session is None or session.scope != SCOPE_FULL:
        return None
    # Checked on the user too: a full token minted for staff who never enrolled opens nothing.
    if needs_mfa_enrolment(session.user):
        return None
    return session.user


def enrolling_user(session: Session | None) -> User | None:
    """The user of a session that may enrol MFA now (staff owing enrolment, or anyone opting in)."""
    if session is None or session.user.mfa_enabled:
        return None
    if session.scope == SCOPE_MFA_ENROLMENT or authorized_user(session) is not None:
        return session.user
    return None


def client_address(request: Any) -> str | None:
    """The peer address of an HTTP request or WebSocket (the proxy's, behind one).

    Behind a reverse proxy run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips``
    so this is the client's; never read X-Forwarded-For here, anyone can send it.
    """
    client = getattr(request, "client", None)
    host = getattr(client, "host", None)
    return host if isinstance(host, str) and host else None
