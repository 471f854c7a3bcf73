"""Portal pages that show payments: status (live), receipt and history.

The status page and the pay-by-card result carry a block the htmx SSE extension keeps
current from ``GET /prestamos/{id}/eventos?pago={id}`` (see ``live.py``): the status panel
("Pendiente" → "Pagado") and the loan balance, re-rendered from the database on each notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from puente.accounts.models import User
from puente.accounts.streams import session_check
from puente.enums import PaymentMethodType
from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.loans.access import can_see_loan
from puente.loans.models import Loan
from puente.loans.state import LoanView, load_loan_views
from puente.payments.change_notices import loan_channel
from puente.payments.history import HistoryQuery, payment_history
from puente.payments.models import Payment
from puente.payments.receipt import payment_application, schedule_after_prepayment
from puente.portal.fiscal_text import fiscal_context
from puente.portal.live import EventStreamResponse, live_events
from puente.portal.loan_text import installment_names, is_tuition
from puente.portal.payment_text import STATUS_FILTERS, method_text, prepayment_text, status_text
from puente.reconciliation.reads import bank_facts_for_payments

if TYPE_CHECKING:
    from puente.portal.routes import Portal

__all__ = ["PAGE_SIZE", "PaymentPages"]

PAGE_SIZE = 20
PENDING = frozenset({S.CREATED, S.PENDING, S.REQUIRES_ACTION})


def not_found(portal: Portal, request: Request, user: User | None) -> Response:
    context = {"user": user, "title": "No encontrado", "message": "Ese pago o crédito no existe."}
    return portal.render(request, "pages/error.html", context, status_code=404)


MAX_ID = 2**31 - 1  # ids are 32-bit integers: a larger one in a URL is simply not found


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts "²", which ``int`` refuses."""
    return text.isascii() and text.isdigit()


def _id_param(text: str) -> int | None:
    """A positive database id from a query string, or None."""
    if not _digits(text) or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


async def visible_loan(user: User, loan_id: int) -> Loan | None:
    if not 0 < loan_id <= MAX_ID:
        return None
    loan = await Loan.filter(id=loan_id).prefetch_related("product", "student").first()
    return loan if loan is not None and can_see_loan(user, loan) else None


async def visible_payment(user: User, payment_id: int) -> Payment | None:
    if not 0 < payment_id <= MAX_ID:
        return None
    payment = await Payment.filter(id=payment_id).prefetch_related("loan").first()
    return payment if payment is not None and can_see_loan(user, payment.loan) else None


def status_context(payment: Payment, view: LoanView) -> dict[str, Any]:
    """What the status panel and the balance partial need (also rendered outside requests)."""
    status = S(payment.status)
    return {
        "payment": payment,
        "action": payment.next_action or {},
        "pending": status in PENDING,
        "paid": status in (S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED),
        "view": view,
    }


def panel_version(payment: Payment, applied: bool) -> str:
    """What the status panel says, in short: it changes only when the panel's words do."""
    return f"{S(payment.status).value}{'+aplicado' if applied else ''}"


async def applied_context(payment: Payment, view: LoanView) -> dict[str, Any]:
    """How a paid payment was applied (its ledger entry) in the payer's words; the
    ``partials/payment_application.html`` block of the status page, stream and receipt."""
    return {
        "application": await payment_application(payment.id),
        "tuition": is_tuition(view.loan),
        "names": installment_names(view),
    }


@dataclass(frozen=True, slots=True)
class HistoryFilters:
    estado: str = ""
    metodo: str = ""
    desde: date | None = None
    hasta: date | None = None
    prestamo: int | None = None
    pagina: int = 1
    error: str | None = None

    def query(self, **changes: object) -> str:
        values: dict[str, object] = {
            "estado": self.estado,
            "metodo": self.metodo,
            "desde": self.desde.isoformat() if self.desde else "",
            "hasta": self.hasta.isoformat() if self.hasta else "",
            "prestamo": self.prestamo or "",
            "pagina": self.pagina,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})

    def history_query(self) -> HistoryQuery:
        """The filters as the history service takes them."""
        return HistoryQuery(
            statuses=tuple(STATUS_FILTERS.get(self.estado, ())),
            method=PaymentMethodType(self.metodo) if self.metodo else None,
            since=self.desde,
            until=self.hasta,
            loan_id=self.prestamo,
        )


def parse_history_filters(params: Mapping[str, str]) -> HistoryFilters:
    """The history filters from a query string; nonsense is dropped with a message, never a 500."""
    errors: list[str] = []
    estado = params.get("estado", "")
    if estado and estado not in STATUS_FILTERS:
        estado = ""
    metodo = params.get("metodo", "")
    if metodo and metodo not in PaymentMethodType._value2member_map_:
        metodo = ""
    days: list[date | None] = []
    for name in ("desde", "hasta"):
        text = params.get(name, "").strip()
        try:
            days.append(date.fromisoformat(text) if text else None)
        except ValueError:
            days.append(None)
            errors.append("Escribe las fechas como AAAA-MM-DD.")
    desde, hasta = days
    if desde and hasta and desde > hasta:
        desde, hasta = hasta, desde
    prestamo = _id_param(params.get("prestamo", ""))
    pagina = params.get("pagina", "1")
    return HistoryFilters(
        estado=estado,
        metodo=metodo,
        desde=desde,
        hasta=hasta,
        prestamo=prestamo,
        pagina=max(1, min(int(pagina), 10_000)) if _digits(pagina) and len(pagina) < 6 else 1,
        error=errors[0] if errors else None,
    )


class PaymentPages:
    """Read-only payment views: status page, live events, receipt, history."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.runtime = portal.runtime

    async def _loan_view(self, loan: Loan) -> LoanView:
        (view,) = await load_loan_views([loan], self.runtime.today())
        return view

    def render_partial(self, name: str, context: Mapping[str, Any]) -> str:
        return self.portal.templates.get_template(name).render(context)

    async def status_page(self, request: Request, user: User) -> Response:
        payment = await visible_payment(user, request.path_params["payment_id"])
        if payment is None:
            return not_found(self.portal, request, user)
        loan = await visible_loan(user, payment.loan_id)
        assert loan is not None
        view = await self._loan_view(loan)
        context = {"user": user, "loan": loan, **status_context(payment, view)}
        context.update(await applied_context(payment, view))
        context["bank"] = (await bank_facts_for_payments([payment.id])).get(payment.id)
        return self.portal.render(request, "pages/pay_status.html", context)

    async def events(self, request: Request, user: User) -> Response:
        """``text/event-stream`` of the loan's balance and, with ``?pago=``, one payment."""
        loan = await visible_loan(user, request.path_params["loan_id"])
        if loan is None:
            return Response("no autorizado", status_code=403, media_type="text/plain")
        payment_id = _id_param(request.query_params.get("pago", ""))
        # The status panel is a live region: it is sent only when it says something new, so
        # a screen reader reads each change once (the page tells what it shows: ``visto``).
        shown = {"pago": request.query_params.get("visto", "")[:64]}

        async def render() -> list[tuple[str, str]]:
            fresh = await Loan.filter(id=loan.id).prefetch_related("product", "student").first()
            view = await self._loan_view(fresh or loan)
            events = [
                ("saldo", self.render_partial("partials/payment_balance.html", {"view": view}))
            ]
            payment = await Payment.filter(id=payment_id or 0, loan_id=loan.id).first()
            if payment is not None:
                context = status_context(payment, view) | await applied_context(payment, view)
                version = panel_version(payment, context["application"] is not None)
                if version != shown["pago"]:
                    shown["pago"] = version
                    panel = self.render_partial("partials/payment_status.html", context)
                    events.insert(0, ("pago", panel))
            return events

        session = await self.portal.current_session(request)
        assert session is not None  # the gate let a signed-in user in
        stream = live_events(
            self.runtime.bus,
            loan_channel(loan.id),
            render,
            still_valid=session_check(self.portal.auth, session),
            recheck=self.runtime.settings.session_recheck_seconds,
            stopping=self.runtime.stopping,
        )
        return EventStreamResponse(stream)

    async def receipt(self, request: Request, user: User) -> Response:
        payment = await visible_payment(user, request.path_params["payment_id"])
        if payment is None:
            return not_found(self.portal, request, user)
        loan = await (
            Loan.filter(id=payment.loan_id).prefetch_related("product", "borrower", "student").get()
        )
        view = await self._loan_view(loan)
        applied = await applied_context(payment, view)
        context = {
            "user": user,
            "payment": payment,
            "loan": loan,
            "view": view,
            "institution": await Institution.get(id=payment.institution_id),
            **applied,
            "new_schedule": await schedule_after_prepayment(loan.id, applied["application"]),
            "prepayment_mode": prepayment_text(
                payment.prepayment_mode or loan.overpayment_mode, payment.prepayment_mode_chosen
            ),
            "status": status_text(payment.status),
            "method": method_text(payment.method),
            **await fiscal_context(payment.id),
        }
        return self.portal.render(request, "pages/pay_receipt.html", context)

    async def history(self, request: Request, user: User) -> Response:
        filters = parse_history_filters(request.query_params)
        shown = await payment_history(
            user, filters.history_query(), page=filters.pagina, page_size=PAGE_SIZE
        )
        context = {
            "user": user,
            "payments": shown.payments,
            "filters": filters,
            "total": shown.total,
            "page": shown.page,
            "pages": shown.pages,
            "status_filters": STATUS_FILTERS,
            "methods": list(PaymentMethodType),
            "bank_facts": await bank_facts_for_payments([p.id for p in shown.payments]),
        }
        return self.portal.render(request, "pages/pay_history.html", context)
