"""Password recovery pages (/recuperar): ask for a link, then choose a new password."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from puente.accounts.password_reset import reset_password
from puente.notifications.account_notices import send_password_reset

if TYPE_CHECKING:
    from puente.portal.routes import Portal

__all__ = ["recovery_routes"]

MAX_FIELD = 1024


class RecoveryPages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    async def ask_page(self, request: Request) -> Response:
        return self.portal.render(request, "pages/recuperar.html", {"sent": False})

    async def ask(self, request: Request) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        # The same answer whether the account exists or not.
        await send_password_reset(self.portal.runtime, str(form.get("email", ""))[:254])
        return self.portal.render(request, "pages/recuperar.html", {"sent": True})

    async def choose_page(self, request: Request) -> Response:
        context = {"token": request.path_params["token"][:100], "error": None}
        return self.portal.render(request, "pages/recuperar_nueva.html", context)

    async def choose(self, request: Request) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        token = request.path_params["token"][:100]
        new = str(form.get("nueva", ""))[:MAX_FIELD]
        if new != str(form.get("confirmacion", ""))[:MAX_FIELD]:
            return self._error(request, token, "Las contraseñas no coinciden.")
        failure = await reset_password(self.portal.runtime, token, new)
        if failure is not None:
            return self._error(request, token, failure.message)
        return RedirectResponse("/login?restablecida=1", status_code=303)

    def _error(self, request: Request, token: str, message: str) -> Response:
        context = {"token": token, "error": message}
        return self.portal.render(request, "pages/recuperar_nueva.html", context, status_code=400)


def recovery_routes(portal: Portal) -> list[BaseRoute]:
    pages = RecoveryPages(portal)
    return [
        Route("/recuperar", pages.ask_page, methods=["GET"]),
        Route("/recuperar", pages.ask, methods=["POST"]),
        Route("/recuperar/{token}", pages.choose_page, methods=["GET"]),
        Route("/recuperar/{token}", pages.choose, methods=["POST"]),
    ]
