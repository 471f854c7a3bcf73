"""Document downloads (PDF receipts, estados de cuenta, constancia, CSV) and the
"Notificaciones" page. Documents use ``PortalGate.downloadable``: the portal cookie or the
app's Bearer token; anyone else, and any document that is not theirs, gets 404."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from puente.accounts.models import User
from puente.notifications.preferences import preferences_of, save_preferences
from puente.statements.service import (
    Document,
    no_debt_document,
    payment_history_csv,
    receipt_document,
    statement_document,
)

if TYPE_CHECKING:
    from puente.portal.routes import Portal

__all__ = ["document_routes"]


def _download(document: Document | None) -> Response:
    if document is None:
        return Response("no encontrado", status_code=404, media_type="text/plain")
    return Response(
        document.content,
        media_type=document.media_type,
        headers={
            "content-disposition": f'attachment; filename="{document.filename}"',
            "cache-control": "private, no-store",
        },
    )


class DocumentPages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    async def receipt(self, request: Request, user: User) -> Response:
        return _download(await receipt_document(user, request.path_params["payment_id"]))

    async def statement(self, request: Request, user: User) -> Response:
        params = request.path_params
        today = self.portal.runtime.today()
        return _download(await statement_document(user, params["loan_id"], params["period"], today))

    async def no_debt(self, request: Request, user: User) -> Response:
        today = self.portal.runtime.today()
        return _download(await no_debt_document(user, request.path_params["loan_id"], today))

    async def history_csv(self, request: Request, user: User) -> Response:
        return _download(await payment_history_csv(user, request.path_params["loan_id"]))

    async def preferences_page(self, request: Request, user: User) -> Response:
        context = {
            "user": user,
            "prefs": await preferences_of(user),
            "saved": "guardado" in request.query_params,
        }
        return self.portal.render(request, "pages/notificaciones.html", context)

    async def preferences_save(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        await save_preferences(
            user,
            email=form.get("email") == "1",
            sms=form.get("sms") == "1",
            whatsapp=form.get("whatsapp") == "1",
            opted_out=form.get("ninguno") == "1",
        )
        return RedirectResponse("/cuenta/notificaciones?guardado=1", status_code=303)


def document_routes(portal: Portal) -> list[BaseRoute]:
    pages = DocumentPages(portal)
    downloadable, signed_in = portal.gate.downloadable, portal.gate.signed_in
    return [
        Route("/pagos/{payment_id:int}/comprobante.pdf", downloadable(pages.receipt)),
        Route("/prestamos/{loan_id:int}/estados/{period}.pdf", downloadable(pages.statement)),
        Route("/prestamos/{loan_id:int}/constancia-no-adeudo.pdf", downloadable(pages.no_debt)),
        Route("/prestamos/{loan_id:int}/pagos.csv", downloadable(pages.history_csv)),
        Route("/cuenta/notificaciones", signed_in(pages.preferences_page), methods=["GET"]),
        Route("/cuenta/notificaciones", signed_in(pages.preferences_save), methods=["POST"]),
    ]
