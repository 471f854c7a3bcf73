"""Portal pages: thin views over the auth and loan services."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from puente.accounts.access import Session, client_address, enrolling_user
from puente.accounts.models import User
from puente.accounts.service import AuthFailure, AuthService, AuthTokens
from puente.enums import LoanStatus
from puente.graphql.sessions import qr_data_uri
from puente.loans.access import can_see_loan, is_staff, visible_loans
from puente.loans.lifecycle import OPEN_STATUSES
from puente.loans.models import Loan
from puente.loans.payoff import payoff_quote
from puente.loans.state import load_loan_views
from puente.payments.gateways import GatewayDirectory
from puente.portal.access import SESSION_COOKIE, PortalGate
from puente.portal.saved_cards import collection_context
from puente.portal.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    csrf_binding,
    csrf_key,
    csrf_token_for,
    csrf_valid,
)
from puente.portal.simulator import METHODS, PERIODICITIES, run_simulator
from puente.portal.templates import portal_templates
from puente.runtime import Runtime
from puente.security.tokens import SCOPE_FULL
from puente.statements.data import statement_periods
from puente.tuition.service import tuition_quotes

__all__ = ["SESSION_COOKIE", "portal_routes", "portal_templates"]

MAX_FORM_FIELD = 1024


class Portal:
    """The portal's views; each parses input, asks a service, renders a template."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.auth = AuthService(runtime)
        self.gate = PortalGate(self.auth)
        self.templates = portal_templates()
        self.csrf_key = csrf_key(runtime.settings.secret_key)

    # -- helpers ---------------------------------------------------------------------------

    def render(
        self, request: Request, name: str, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        token, new_cookie = csrf_token_for(request, self.csrf_key, csrf_binding(request))
        response = self.templates.TemplateResponse(
            request, name, {"csrf_token": token, **context}, status_code=status_code
        )
        response.headers["cache-control"] = "no-store"
        if new_cookie:
            self._set_cookie(response, CSRF_COOKIE, new_cookie, max_age=None)
        return response

    def _set_cookie(self, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=True,
            secure=self.runtime.settings.cookie_secure,
            samesite="lax",
            path="/",
        )

    async def current_session(self, request: Request) -> Session | None:
        """The session behind the cookie (any scope), checked once per request."""
        return await self.gate.session(request)

    async def form(self, request: Request) -> FormData | None:
        """The submitted form if its CSRF token is valid for this browser and session."""
        await self.current_session(request)
        form = await request.form(max_files=0, max_fields=20, max_part_size=MAX_FORM_FIELD)
        token = form.get(CSRF_FIELD)
        submitted = token if isinstance(token, str) else None
        if not csrf_valid(request, submitted, self.csrf_key, csrf_binding(request)):
            return None
        return form

    def start_session(self, response: Response, tokens: AuthTokens) -> None:
        """Put a new session's refresh token in the cookie."""
        self._set_cookie(
            response,
            SESSION_COOKIE,
            tokens.refresh_token,
            max_age=self.runtime.settings.refresh_token_ttl_seconds,
        )

    def forbidden(self, request: Request) -> Response:
        return self.render(
            request,
            "pages/error.html",
            {
                "title": "Sesión expirada",
                "message": "El formulario expiró. Vuelve a intentarlo.",
            },
            status_code=403,
        )

    # -- pages -----------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        if await self.current_session(request):
            return RedirectResponse("/", status_code=303)
        return self.render(request, "pages/login.html", {"email": "", "error": None})

    async def login(self, request: Request) -> Response:
        form = await self.form(request)
        if form is None:
            return self.forbidden(request)
        email = str(form.get("email", "")).strip()[:254]
        password = str(form.get("password", ""))[:MAX_FORM_FIELD]
        otp = str(form.get("otp", "")).strip()[:12] or None
        outcome = await self.auth.login(email, password, otp, client_ip=client_address(request))
        if isinstance(outcome, AuthFailure):
            return self.render(
                request,
                "pages/login.html",
                {
                    "email": email,
                    "error": outcome,
                    "ask_otp": outcome.code.endswith("OTP") or outcome.code == "OTP_REQUIRED",
                },
                status_code=429 if outcome.code in ("LOCKED", "RATE_LIMITED") else 400,
            )
        target = "/" if outcome.scope == SCOPE_FULL else "/seguridad/mfa"
        response = RedirectResponse(target, status_code=303)
        self.start_session(response, outcome)
        return response

    async def logout(self, request: Request) -> Response:
        form = await self.form(request)
        if form is None:
            return self.forbidden(request)
        await self.auth.logout(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def dashboard(self, request: Request, user: User) -> Response:
        staff = is_staff(user)
        query = visible_loans(user)
        loans = await query.order_by("id").limit(200).prefetch_related("product", "student")
        views = await load_loan_views(loans, self.runtime.today())
        return self.render(
            request, "pages/dashboard.html", {"user": user, "views": views, "staff": staff}
        )

    async def loan_page(self, request: Request, user: User) -> Response:
        loan_id = request.path_params["loan_id"]
        loan = await Loan.filter(id=loan_id).prefetch_related("product", "student").first()
        if loan is None or not can_see_loan(user, loan):
            return self.render(
                request,
                "pages/error.html",
                {"title": "No encontrado", "message": "Ese crédito no existe o no es tuyo."},
                status_code=404,
            )
        today = self.runtime.today()
        (view,) = await load_loan_views([loan], today)
        is_open = LoanStatus(loan.status) in OPEN_STATUSES
        payoff = (await payoff_quote(loan, today)).total if is_open else None
        quotes = await tuition_quotes(loan, today) if is_open else []
        return self.render(
            request,
            "pages/loan.html",
            {
                "user": user,
                "view": view,
                "payoff": payoff,
                "tuition_quotes": quotes,
                "today": today,
                **await collection_context(loan.id),
                "statements": statement_periods(loan, today),
                "paid_off": LoanStatus(loan.status) is LoanStatus.PAID_OFF,
            },
        )

    async def simulator_page(self, request: Request) -> Response:
        """Public simulador de crédito; works without JavaScript (plain GET form)."""
        result = run_simulator(request.query_params, self.runtime.today())
        return self.render(
            request,
            "pages/simulador.html",
            {
                "user": await self.gate.user(request),
                "result": result,
                "periodicities": PERIODICITIES,
                "methods": METHODS,
            },
        )

    async def simulator_result(self, request: Request) -> Response:
        """The figures as the person types (htmx); bad input is a message, never an error."""
        result = run_simulator(request.query_params, self.runtime.today())
        response = self.render(request, "partials/simulador_resultado.html", {"result": result})
        response.headers["hx-push-url"] = result.share_url  # the address bar keeps the inputs
        return response

    async def mfa_page(self, request: Request, session: Session) -> Response:
        if session.user.mfa_enabled:
            context = {"user": session.user, "enabled": True}
            return self.render(request, "pages/mfa.html", context)
        return await self._enrolment_page(request, session, error=None)

    async def _enrolment_page(
        self, request: Request, session: Session, error: str | None, status_code: int = 200
    ) -> Response:
        user = enrolling_user(session)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        enrolment = await self.auth.start_mfa_enrolment(user)
        context = {
            "user": user,
            "enabled": False,
            "secret": enrolment.secret,
            "qr": qr_data_uri(enrolment.uri),
            "error": error,
        }
        return self.render(request, "pages/mfa.html", context, status_code=status_code)

    async def mfa_confirm(self, request: Request, session: Session) -> Response:
        form = await self.form(request)
        if form is None:
            return self.forbidden(request)
        user = enrolling_user(session)
        code = str(form.get("code", "")).strip()[:12]
        tokens = await self.auth.confirm_mfa_enrolment(user, code) if user else None
        if tokens is not None:
            # Enrolment ended every earlier session, this one included: start the new one.
            response = RedirectResponse("/", status_code=303)
            self.start_session(response, tokens)
            return response
        error = "El código no coincide. Revisa la hora de tu teléfono e intenta de nuevo."
        return await self._enrolment_page(request, session, error, status_code=400)

    async def password_page(self, request: Request, user: User) -> Response:
        return self.render(request, "pages/password.html", {"user": user, "error": None})

    async def password_change(self, request: Request, user: User) -> Response:
        form = await self.form(request)
        if form is None:
            return self.forbidden(request)
        current = str(form.get("actual", ""))[:MAX_FORM_FIELD]
        new = str(form.get("nueva", ""))[:MAX_FORM_FIELD]
        if new != str(form.get("confirmacion", ""))[:MAX_FORM_FIELD]:
            return self._password_error(request, user, "Las contraseñas nuevas no coinciden.")
        session = await self.current_session(request)
        assert session is not None  # the gate let a signed-in user in
        outcome = await self.auth.change_password(session, current, new)
        if isinstance(outcome, AuthFailure):
            return self._password_error(request, user, outcome.message)
        # Every session ended, this one included: the cookie gets the new one.
        response = RedirectResponse("/seguridad/contrasena?cambiada=1", status_code=303)
        self.start_session(response, outcome)
        return response

    def _password_error(self, request: Request, user: User, message: str) -> Response:
        context = {"user": user, "error": message}
        return self.render(request, "pages/password.html", context, status_code=400)


def portal_routes(runtime: Runtime, gateways: GatewayDirectory | None = None) -> list[BaseRoute]:
    from puente.portal.console import console_routes  # they build on Portal
    from puente.portal.documents import document_routes
    from puente.portal.fiscal import fiscal_routes
    from puente.portal.onboarding import onboarding_routes
    from puente.portal.payments import payment_routes
    from puente.portal.reconciliation import reconciliation_routes
    from puente.portal.recovery import recovery_routes
    from puente.portal.saved_cards import saved_card_routes

    portal = Portal(runtime)
    gate = portal.gate
    signed_in, with_session = gate.signed_in, gate.with_session
    gateways = gateways or GatewayDirectory(runtime)
    return [
        *document_routes(portal),
        *recovery_routes(portal),
        *payment_routes(portal, gateways),
        *saved_card_routes(portal, gateways),
        *onboarding_routes(portal),
        *console_routes(portal, gateways),
        *reconciliation_routes(portal, gateways),
        *fiscal_routes(portal),
        Route("/", signed_in(portal.dashboard), methods=["GET"]),
        # Public: the login form, the simulator, and logout (CSRF-checked, ends any session).
        Route("/login", portal.login_page, methods=["GET"]),
        Route("/login", portal.login, methods=["POST"]),
        Route("/logout", portal.logout, methods=["POST"]),
        Route("/prestamos/{loan_id:int}", signed_in(portal.loan_page), methods=["GET"]),
        Route("/simulador", portal.simulator_page, methods=["GET"]),
        Route("/simulador/resultado", portal.simulator_result, methods=["GET"]),
        # Any session, enrolment-scoped too: staff enrol MFA here before anything else.
        Route("/seguridad/mfa", with_session(portal.mfa_page), methods=["GET"]),
        Route("/seguridad/mfa", with_session(portal.mfa_confirm), methods=["POST"]),
        Route("/seguridad/contrasena", signed_in(portal.password_page), methods=["GET"]),
        Route("/seguridad/contrasena", signed_in(portal.password_change), methods=["POST"]),
    ]
