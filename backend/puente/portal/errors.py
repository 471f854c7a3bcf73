"""Error pages in Spanish, in the portal's layout: 404, 403, 405 and 500.

Starlette answers an unknown URL with an English plain-text "Not Found"; a person in the
portal gets a page that says what happened and where to go instead. Machine doors (GraphQL,
webhooks, the sandbox, health and metrics) keep their plain answers: their clients parse
them, and a status code says enough.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.templating import Jinja2Templates

__all__ = ["ERROR_TEXT", "portal_error_handlers"]

log = logging.getLogger(__name__)

MACHINE_PREFIXES = (
    "/graphql",
    "/webhooks",
    "/sandbox",
    "/healthz",
    "/readyz",
    "/metrics",
    "/static",
)
ERROR_TEXT: Mapping[int, tuple[str, str]] = {
    403: ("Acceso no permitido", "No tienes permiso para ver esta página."),
    404: ("Página no encontrada", "La dirección que abriste no existe o cambió."),
    405: (
        "Acción no permitida",
        "Esta página no acepta esa acción. Vuelve a intentarlo desde el inicio.",
    ),
    500: (
        "Algo salió mal",
        "Tuvimos un problema al mostrar esta página. Tus pagos no se ven afectados; "
        "intenta de nuevo en unos minutos.",
    ),
}

Handler = Callable[[Request, Exception], Awaitable[Response]]


def _for_people(request: Request) -> bool:
    return not request.url.path.startswith(MACHINE_PREFIXES)


def portal_error_handlers(templates: Jinja2Templates) -> dict[int | type[Exception], Handler]:
    """Starlette ``exception_handlers`` rendering ``pages/error.html`` for people."""

    def page(request: Request, status: int) -> Response:
        title, message = ERROR_TEXT.get(status, ERROR_TEXT[500])
        context = {"title": title, "message": message, "user": None, "csrf_token": ""}
        response = templates.TemplateResponse(
            request, "pages/error.html", context, status_code=status
        )
        response.headers["cache-control"] = "no-store"
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if not _for_people(request) or status not in ERROR_TEXT:
            detail = exc.detail if isinstance(exc, HTTPException) else "Internal Server Error"
            headers = exc.headers if isinstance(exc, HTTPException) else None
            return PlainTextResponse(str(detail), status_code=status, headers=headers)
        return page(request, status)

    async def server_error(request: Request, exc: Exception) -> Response:
        # Logged here because this handler replaces Starlette's default traceback logging.
        log.error("unhandled error on %s", request.url.path, exc_info=exc)
        if not _for_people(request):
            return PlainTextResponse("Internal Server Error", status_code=500)
        return page(request, 500)

    return {HTTPException: http_error, Exception: server_error}
