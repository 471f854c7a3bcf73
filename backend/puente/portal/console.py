"""The staff console, ``/consola``: thin doors onto ``puente.backoffice``.

    GET  /consola                              live feed (filters) and the queues' counts
    GET  /consola/eventos                      the feed as SSE (institution:{id} on the bus)
    GET  /consola/colas                        expiring references, failed webhooks, suspense,
                                               reconciliation exceptions, delinquency buckets
    POST /consola/webhooks/{id}/reintentar     replay a failed or dead event
    POST /consola/excepciones/{id}/resolver    resolve a reconciliation exception (confirmed)
    POST /consola/suspenso/{id}/resolver       close a suspense item with a note (confirmed)
    GET  /consola/salud                        provider health
    GET  /consola/buscar                       find a borrower
    GET  /consola/creditos/{id}                a loan's file and its actions
    POST /consola/pagos/{id}/reembolso         refund, full or partial (confirmed)
    POST /consola/creditos/{id}/efectivo       cash at the branch (confirmed)
    POST /consola/creditos/{id}/dispersar      approve and disburse (confirmed, admin)
    POST /consola/creditos/{id}/reestructurar  restructure (confirmed, admin)
    POST /consola/creditos/{id}/castigar       write off (confirmed, admin)
    GET  /consola/graficas                     SVG charts

Every route is behind ``PortalGate.signed_in(roles=...)`` with the roles of
``backoffice.roles`` (staff without MFA enrolment are sent to enrol); every action checks the
role again in its service. Every POST carries the CSRF token; every action that moves money
or changes a loan first shows a confirmation page with the amounts, then runs when that page
is submitted (``confirmado=1``).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from puente.accounts.models import User
from puente.accounts.streams import session_check
from puente.backoffice import actions
from puente.backoffice.charts import bar_chart, line_chart
from puente.backoffice.feed import (
    DISBURSEMENT_STATUS,
    FEED_KINDS,
    WEBHOOK_STATUS,
    parse_feed_filter,
    recent_feed,
)
from puente.backoffice.loan_file import ENTRY_KINDS, open_loan_file
from puente.backoffice.queues import (
    REASONS,
    load_queues,
    replay_webhook,
    resolve_reconciliation_exception,
    resolve_suspense,
)
from puente.backoffice.roles import CONSOLE_ROLES, ConsoleAction, ConsoleRefused, may, roles_for
from puente.backoffice.search import search_borrowers
from puente.backoffice.stats import (
    DailySeries,
    collections_by_day,
    delinquency_over_time,
    disbursed_vs_collected,
)
from puente.enums import PaymentMethodType
from puente.institutions.models import Institution
from puente.money import format_mxn
from puente.payments.change_notices import institution_channel
from puente.payments.gateways import GatewayDirectory
from puente.portal.access import not_authorised
from puente.portal.live import EventStreamResponse, live_events
from puente.portal.loan_text import BUCKET
from puente.portal.payment_text import method_text, provider_text
from puente.providers.registry import available_providers
from puente.reconciliation.enums import Resolution
from puente.webhooks.health import provider_health
from puente.webhooks.inbox import WebhookInbox

if TYPE_CHECKING:
    from puente.portal.routes import Portal

__all__ = ["console_routes"]

MAX_ID = 2**31 - 1
DONE = {
    "reembolso": "Reembolso solicitado al proveedor.",
    "efectivo": "Pago en efectivo registrado y aplicado.",
    "dispersion": "Crédito aprobado; dispersión enviada.",
    "reestructura": "Crédito reestructurado.",
    "castigo": "Crédito castigado.",
    "reintento": "Evento reprocesado.",
    "excepcion": "Excepción resuelta.",
    "suspenso": "Partida en suspenso resuelta.",
}
RESOLUTIONS = {
    Resolution.MATCHED_BY_HAND.value: "Es el pago número… (conciliado a mano)",
    Resolution.APPLIED_TO_LOAN.value: "Aplicar al crédito número…",
    Resolution.RETURNED.value: "Se devolvió al ordenante",
    Resolution.NOT_A_LOAN_PAYMENT.value: "No es pago de un crédito (la nota dice qué es)",
}


def _id(value: object) -> int | None:
    text = str(value or "")
    if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID:
        return int(text)
    return None


def _field(form: FormData, name: str, limit: int = 300) -> str:
    value = form.get(name, "")
    return str(value)[:limit].strip() if isinstance(value, str) else ""


class Console:
    """The console's views; ``puente.backoffice`` decides, these parse and render."""

    def __init__(self, portal: Portal, gateways: GatewayDirectory) -> None:
        self.portal = portal
        self.runtime = portal.runtime
        self.gateways = gateways
        self.inbox = WebhookInbox(
            portal.runtime, gateways, lease_seconds=portal.runtime.settings.webhook_lease_seconds
        )

    def _render(
        self, request: Request, user: User, name: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        base = {
            "user": user,
            "console": True,
            "may": partial(may, user),
            "Action": ConsoleAction,
            "done": DONE.get(request.query_params.get("hecho", "")),
        }
        return self.portal.render(request, name, {**base, **context}, status_code=status)

    def _refused(self, request: Request, user: User, message: str, back: str) -> Response:
        context = {"title": "No se pudo", "message": message, "back": back}
        return self._render(request, user, "pages/consola_error.html", context, status=400)

    def _not_found(self, request: Request, user: User) -> Response:
        context = {
            "title": "No encontrado",
            "message": "No existe en tu institución.",
            "back": "/consola",
        }
        return self._render(request, user, "pages/consola_error.html", context, status=404)

    async def _confirmed(
        self,
        request: Request,
        user: User,
        form: FormData,
        *,
        preview: Callable[[], Awaitable[actions.Preview]],
        run: Callable[[], Awaitable[object]],
        back: str,
        done: str,
        fields: dict[str, str],
    ) -> Response:
        """Show the confirmation with the amounts, or run the action once confirmed."""
        try:
            if form.get("confirmado") != "1":
                shown = await preview()
                context = {
                    "preview": shown,
                    "action": request.url.path,
                    "fields": fields,
                    "back": back,
                }
                return self._render(request, user, "pages/consola_confirmar.html", context)
            await run()
        except ConsoleRefused as refused:
            return self._refused(request, user, refused.message, back)
        return RedirectResponse(f"{back}?hecho={done}", status_code=303)

    # -- feed -------------------------------------------------------------------------------

    async def home(self, request: Request, user: User) -> Response:
        wanted, problem = parse_feed_filter(request.query_params)
        items = await recent_feed(user.institution_id, wanted)
        queues = await load_queues(self.runtime, user.institution_id)
        context = {
            "items": items,
            "filter": wanted,
            "filter_problem": problem,
            "stream": "/consola/eventos?" + urlencode(wanted.as_query()),
            "kinds": FEED_KINDS,
            "methods": list(PaymentMethodType),
            "providers": available_providers(),
            "counts": queues.counts,
        }
        return self._render(request, user, "pages/consola.html", context)

    async def feed_events(self, request: Request, user: User) -> Response:
        wanted, _ = parse_feed_filter(request.query_params)
        session = await self.portal.current_session(request)
        assert session is not None  # the gate let a signed-in user in

        async def render() -> list[tuple[str, str]]:
            items = await recent_feed(user.institution_id, wanted)
            template = self.portal.templates.get_template("partials/consola_feed.html")
            return [("feed", template.render(items=items))]

        stream = live_events(
            self.runtime.bus,
            institution_channel(user.institution_id),
            render,
            still_valid=session_check(self.portal.auth, session),
            recheck=self.runtime.settings.session_recheck_seconds,
            stopping=self.runtime.stopping,
        )
        return EventStreamResponse(stream)

    # -- queues -----------------------------------------------------------------------------

    async def queues(self, request: Request, user: User) -> Response:
        queues = await load_queues(self.runtime, user.institution_id)
        context = {"queues": queues, "now": self.runtime.now(), "resolutions": RESOLUTIONS}
        return self._render(request, user, "pages/consola_colas.html", context)

    async def replay(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        event_id = _id(request.path_params["event_id"])
        try:
            if event_id is None:
                raise ConsoleRefused("NOT_FOUND", "Ese evento no existe.")
            await replay_webhook(self.runtime, self.inbox, user, event_id)
        except ConsoleRefused as refused:
            return self._refused(request, user, refused.message, "/consola/colas")
        return RedirectResponse("/consola/colas?hecho=reintento", status_code=303)

    async def resolve(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        exception_id = _id(request.path_params["exception_id"]) or 0
        resolution = _field(form, "resolucion", 40)
        note = _field(form, "nota")
        target = _field(form, "referencia", 12)
        payment_id = _id(target) if resolution == Resolution.MATCHED_BY_HAND.value else None
        loan_id = _id(target) if resolution == Resolution.APPLIED_TO_LOAN.value else None

        async def preview() -> actions.Preview:
            if resolution not in RESOLUTIONS:
                raise ConsoleRefused("INVALID_RESOLUTION", "Elige cómo se resolvió la excepción.")
            if not note:
                raise ConsoleRefused("NOTE_REQUIRED", "Escribe cómo se resolvió.")
            return actions.Preview(
                title=f"Resolver la excepción {exception_id}",
                lines=(
                    ("Resolución", RESOLUTIONS[resolution]),
                    ("Referencia", target or "—"),
                    ("Nota", note),
                ),
            )

        async def run() -> object:
            return await resolve_reconciliation_exception(
                self.runtime,
                user,
                exception_id,
                resolution,
                note,
                payment_id=payment_id,
                loan_id=loan_id,
            )

        fields = {"resolucion": resolution, "nota": note, "referencia": target}
        return await self._confirmed(
            request,
            user,
            form,
            preview=preview,
            run=run,
            back="/consola/colas",
            done="excepcion",
            fields=fields,
        )

    async def resolve_suspense(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        item_id = _id(request.path_params["item_id"]) or 0
        note = _field(form, "nota")

        async def preview() -> actions.Preview:
            if not note:
                raise ConsoleRefused("NOTE_REQUIRED", "Escribe cómo se resolvió.")
            return actions.Preview(
                title=f"Cerrar la partida en suspenso {item_id}", lines=(("Nota", note),)
            )

        return await self._confirmed(
            request,
            user,
            form,
            preview=preview,
            run=lambda: resolve_suspense(self.runtime, user, item_id, note),
            back="/consola/colas",
            done="suspenso",
            fields={"nota": note},
        )

    # -- health, search, charts --------------------------------------------------------------

    async def health(self, request: Request, user: User) -> Response:
        institution = await Institution.get(id=user.institution_id)
        rows = await provider_health(institution)
        return self._render(request, user, "pages/consola_salud.html", {"rows": rows})

    async def search(self, request: Request, user: User) -> Response:
        text = request.query_params.get("q", "")[:100]
        matches = await search_borrowers(self.runtime, user.institution_id, text)
        context = {"q": text, "matches": matches, "searched": bool(text.strip())}
        return self._render(request, user, "pages/consola_buscar.html", context)

    async def charts(self, request: Request, user: User) -> Response:
        today = self.runtime.today()
        inst = user.institution_id
        by_method, by_provider = await collections_by_day(inst, today)
        flows = await disbursed_vs_collected(inst, today)
        aging = await delinquency_over_time(inst, today)

        def days(series: DailySeries) -> list[str]:
            return [d.strftime("%d/%m") for d in series.days]

        def named(series: DailySeries, words: Callable[[str], str]) -> dict[str, Any]:
            return {words(name): values for name, values in series.series.items()}

        def bucket(name: str) -> str:
            return BUCKET.get(name, name)

        titles = (
            "Cobranza por día y método",
            "Cobranza por día y proveedor",
            "Dispersado contra cobrado",
            "Créditos por tramo de atraso, cada semana",
        )
        drawn = (
            bar_chart(titles[0], days(by_method), named(by_method, method_text), fmt=format_mxn),
            bar_chart(
                titles[1], days(by_provider), named(by_provider, provider_text), fmt=format_mxn
            ),
            line_chart(titles[2], days(flows), named(flows, str.capitalize), fmt=format_mxn),
            line_chart(titles[3], days(aging), named(aging, bucket), counts=True),
        )
        context = {"charts": list(zip(titles, drawn, strict=True))}
        return self._render(request, user, "pages/consola_graficas.html", context)

    # -- a loan and its actions -------------------------------------------------------------

    async def loan(self, request: Request, user: User) -> Response:
        loan_id = _id(request.path_params["loan_id"])
        found = (
            await open_loan_file(user.institution_id, loan_id, self.runtime.today())
            if loan_id
            else None
        )
        if found is None:
            return self._not_found(request, user)
        context = {"file": found, "key": secrets.token_urlsafe(12)}
        return self._render(request, user, "pages/consola_credito.html", context)

    async def refund(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        payment_id = _id(request.path_params["payment_id"]) or 0
        amount = _field(form, "monto", 32) or None
        back = f"/consola/creditos/{_id(form.get('credito')) or ''}"
        return await self._confirmed(
            request,
            user,
            form,
            preview=lambda: actions.preview_refund(user, payment_id, amount),
            run=lambda: actions.refund(self.runtime, self.gateways, user, payment_id, amount),
            back=back if back != "/consola/creditos/" else "/consola",
            done="reembolso",
            fields={"monto": amount or "", "credito": _field(form, "credito", 12)},
        )

    async def cash(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        loan_id = _id(request.path_params["loan_id"]) or 0
        amount = _field(form, "monto", 32)
        key = _field(form, "clave", 40) or secrets.token_urlsafe(12)
        return await self._confirmed(
            request,
            user,
            form,
            preview=lambda: actions.preview_cash_payment(self.runtime, user, loan_id, amount),
            run=lambda: actions.record_cash_payment(self.runtime, user, loan_id, amount, key),
            back=f"/consola/creditos/{loan_id}",
            done="efectivo",
            fields={"monto": amount, "clave": key},
        )

    async def disburse(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        loan_id = _id(request.path_params["loan_id"]) or 0
        clabe, name = _field(form, "clabe", 40), _field(form, "beneficiario", 120)
        return await self._confirmed(
            request,
            user,
            form,
            preview=lambda: actions.preview_disbursement(user, loan_id, clabe, name),
            run=lambda: actions.approve_and_disburse(
                self.runtime, self.gateways, user, loan_id, clabe, name
            ),
            back=f"/consola/creditos/{loan_id}",
            done="dispersion",
            fields={"clabe": clabe, "beneficiario": name},
        )

    async def restructure(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        loan_id = _id(request.path_params["loan_id"]) or 0
        count, reason = _field(form, "pagos", 4), _field(form, "motivo")
        return await self._confirmed(
            request,
            user,
            form,
            preview=lambda: actions.preview_restructure(self.runtime, user, loan_id, count, reason),
            run=lambda: actions.restructure(self.runtime, user, loan_id, count, reason),
            back=f"/consola/creditos/{loan_id}",
            done="reestructura",
            fields={"pagos": count, "motivo": reason},
        )

    async def write_off(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        loan_id = _id(request.path_params["loan_id"]) or 0
        reason = _field(form, "motivo")
        return await self._confirmed(
            request,
            user,
            form,
            preview=lambda: actions.preview_write_off(self.runtime, user, loan_id, reason),
            run=lambda: actions.write_off(self.runtime, user, loan_id, reason),
            back=f"/consola/creditos/{loan_id}",
            done="castigo",
            fields={"motivo": reason},
        )


def console_routes(portal: Portal, gateways: GatewayDirectory | None) -> list[BaseRoute]:
    """The console's routes, each behind the gate with the roles its action needs."""
    console = Console(portal, gateways or GatewayDirectory(portal.runtime))
    portal.templates.env.filters.update(
        estado_webhook=lambda value: WEBHOOK_STATUS.get(str(value), str(value)),
        estado_dispersion=lambda value: DISBURSEMENT_STATUS.get(str(value), str(value)),
        movimiento=lambda value: ENTRY_KINDS.get(str(value), str(value)),
        motivo_cola=lambda value: REASONS.get(str(value), str(value)),
    )
    gate = portal.gate

    def staff(view: Any, action: ConsoleAction | None = None, **options: Any) -> Any:
        roles = roles_for(action) if action is not None else CONSOLE_ROLES
        return gate.signed_in(view, roles=roles, **options)

    A = ConsoleAction
    return [
        Route("/consola", staff(console.home), methods=["GET"]),
        Route(
            "/consola/eventos", staff(console.feed_events, refusal=not_authorised), methods=["GET"]
        ),
        Route("/consola/colas", staff(console.queues), methods=["GET"]),
        Route(
            "/consola/webhooks/{event_id:int}/reintentar",
            staff(console.replay, A.REPLAY_WEBHOOK),
            methods=["POST"],
        ),
        Route(
            "/consola/excepciones/{exception_id:int}/resolver",
            staff(console.resolve, A.RESOLVE_EXCEPTION),
            methods=["POST"],
        ),
        Route(
            "/consola/suspenso/{item_id:int}/resolver",
            staff(console.resolve_suspense, A.RESOLVE_SUSPENSE),
            methods=["POST"],
        ),
        Route("/consola/salud", staff(console.health), methods=["GET"]),
        Route("/consola/buscar", staff(console.search), methods=["GET"]),
        Route("/consola/graficas", staff(console.charts), methods=["GET"]),
        Route("/consola/creditos/{loan_id:int}", staff(console.loan), methods=["GET"]),
        Route(
            "/consola/pagos/{payment_id:int}/reembolso",
            staff(console.refund, A.REFUND),
            methods=["POST"],
        ),
        Route(
            "/consola/creditos/{loan_id:int}/efectivo",
            staff(console.cash, A.CASH_PAYMENT),
            methods=["POST"],
        ),
        Route(
            "/consola/creditos/{loan_id:int}/dispersar",
            staff(console.disburse, A.APPROVE_DISBURSE),
            methods=["POST"],
        ),
        Route(
            "/consola/creditos/{loan_id:int}/reestructurar",
            staff(console.restructure, A.RESTRUCTURE),
            methods=["POST"],
        ),
        Route(
            "/consola/creditos/{loan_id:int}/castigar",
            staff(console.write_off, A.WRITE_OFF),
            methods=["POST"],
        ),
    ]
