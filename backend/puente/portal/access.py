"""Who may open each portal page: one gate in front of the views (Starlette ``requires``-style).

The route table wraps each view in the rule it needs, so no view starts with "who is this":

    Route("/", gate.signed_in(portal.dashboard))                 # the view gets the user
    Route("/prestamos/{id}/eventos", gate.signed_in(pages.events, refusal=not_authorised))
    Route("/seguridad/mfa", gate.with_session(portal.mfa_page))  # any scope (enrolment)

``signed_in`` applies the one rule of ``accounts.access.authorized_user`` (full scope, staff
enrolled in MFA, session alive: revocation is checked by ``AuthService.portal_session``) and,
when given, the roles the page is for. A visitor it refuses is sent to log in, or to MFA
enrolment when they are staff who still owe it; a stream (SSE) is answered 403 instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from functools import wraps

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from puente.accounts.access import Session, authorized_user, needs_mfa_enrolment
from puente.accounts.models import User
from puente.accounts.service import AuthService
from puente.enums import Role
from puente.security.tokens import bearer_token

__all__ = [
    "PUBLIC_PAGES",
    "SESSION_COOKIE",
    "Endpoint",
    "PortalGate",
    "Refusal",
    "not_authorised",
    "to_login",
]

SESSION_COOKIE = "puente_session"

# The only portal routes open without a session (method, path): logging in, the public
# simulador, logout (it ends whatever session the cookie names) and password recovery.
PUBLIC_PAGES = frozenset(
    {
        ("GET", "/login"),
        ("POST", "/login"),
        ("POST", "/logout"),
        ("GET", "/simulador"),
        ("GET", "/simulador/resultado"),
        ("GET", "/recuperar"),
        ("POST", "/recuperar"),
        ("GET", "/recuperar/{token}"),
        ("POST", "/recuperar/{token}"),
    }
)

Endpoint = Callable[[Request], Awaitable[Response]]
UserView = Callable[[Request, User], Awaitable[Response]]
SessionView = Callable[[Request, Session], Awaitable[Response]]
Refusal = Callable[[Session | None], Response]


def to_login(session: Session | None) -> Response:
    """Where a page sends a visitor it refuses: MFA enrolment for staff who owe it, else login."""
    if session is not None and needs_mfa_enrolment(session.user):
        return RedirectResponse("/seguridad/mfa", status_code=303)
    return RedirectResponse("/login", status_code=303)


def not_authorised(session: Session | None) -> Response:
    """A stream's refusal: EventSource cannot follow a redirect to a page."""
    return Response("no autorizado", status_code=403, media_type="text/plain")


class PortalGate:
    """Resolves the session behind the cookie once per request and guards the views."""

    def __init__(self, auth: AuthService) -> None:
        self.auth = auth

    async def session(self, request: Request) -> Session | None:
        """The session behind the cookie (any scope), checked once per request."""
        if not hasattr(request.state, "session"):
            cookie = request.cookies.get(SESSION_COOKIE)
            request.state.session = await self.auth.portal_session(cookie)
        return request.state.session

    async def user(self, request: Request) -> User | None:
        """The user every page but MFA enrolment acts for (``authorized_user``), or None."""
        return authorized_user(await self.session(request))

    async def bearer_session(self, request: Request) -> Session | None:
        """The session behind ``Authorization: Bearer <token>`` (as ``/graphql``), or None."""
        if not hasattr(request.state, "bearer_session"):
            token = bearer_token(request.headers.get("authorization"))
            request.state.bearer_session = await self.auth.authenticate(token) if token else None
        return request.state.bearer_session

    def downloadable(self, view: UserView) -> Endpoint:
        """``view`` for a document URL an app may fetch: the portal cookie or a Bearer token.

        Documents (receipts, statements, invoices) are linked from GraphQL, so an app fetches
        them with the same ``Authorization: Bearer`` it sends to ``/graphql``; a browser sends
        its portal cookie. Anyone else, and anyone the view finds no document for, gets 404:
        a document's existence is not disclosed.
        """

        @wraps(view)
        async def endpoint(request: Request) -> Response:
            user = authorized_user(await self.bearer_session(request))
            if user is None:
                user = authorized_user(await self.session(request))
            if user is None:
                return Response("no encontrado", status_code=404, media_type="text/plain")
            return await view(request, user)

        endpoint.portal_access = "downloadable"  # type: ignore[attr-defined]  (read by tests)
        return endpoint

    def signed_in(
        self,
        view: UserView,
        *,
        roles: Collection[Role] | None = None,
        refusal: Refusal = to_login,
    ) -> Endpoint:
        """``view`` for a user ``authorized_user`` accepts (and of one of ``roles``)."""
        allowed = frozenset(roles) if roles is not None else None

        @wraps(view)
        async def endpoint(request: Request) -> Response:
            session = await self.session(request)
            user = authorized_user(session)
            if user is None:
                return refusal(session)
            if allowed is not None and Role(user.role) not in allowed:
                # Signed in, but the page is not for them: as if it did not exist.
                return Response("no encontrado", status_code=404, media_type="text/plain")
            return await view(request, user)

        endpoint.portal_access = "signed_in"  # type: ignore[attr-defined]  (read by tests)
        return endpoint

    def with_session(self, view: SessionView) -> Endpoint:
        """``view`` for any live session, whatever its scope (the MFA enrolment pages)."""

        @wraps(view)
        async def endpoint(request: Request) -> Response:
            session = await self.session(request)
            if session is None:
                return RedirectResponse("/login", status_code=303)
            return await view(request, session)

        endpoint.portal_access = "session"  # type: ignore[attr-defined]  (read by tests)
        return endpoint
