"""Portal doors for paying a loan: choose what and how, go to the provider, come back.

    GET  /prestamos/{id}/pagar           amount (next, several, payoff today, other), what
                                         extra money does, and method · provider
    POST /prestamos/{id}/pagar           card → the provider's card form; SPEI/OXXO → the
                                         instructions page; PayPal → PayPal's approval page
    POST /prestamos/{id}/pagar/tarjeta/regreso  back from the card form, the token in the POST
                                         body (never a URL: access logs): confirm page
    POST /prestamos/{id}/pagar/tarjeta   charge the token (htmx: the live result in place)
    GET  /pagos/{id}/paypal              back from PayPal: capture (or ?cancelado=1)
    GET  /pagos/{id} · /pagos/{id}/comprobante · /pagos · /prestamos/{id}/eventos
                                         status, receipt, history, live events (payment_pages)

A card number never reaches Puente: the provider's page turns it into a token. Every POST
checks the CSRF token; a refusal is shown in Spanish with the form kept, never a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from puente.accounts.models import User
from puente.enums import PaymentMethodType as M
from puente.institutions.models import Institution
from puente.loans.engine import OverpaymentMode
from puente.loans.models import Loan
from puente.loans.payable import payable_amount
from puente.loans.state import load_loan_views
from puente.money import InvalidAmount, parse_amount
from puente.payments.card_step import CardStep
from puente.payments.checkout import PaymentRefused, PaymentRequest, create_payment
from puente.payments.gateways import GatewayDirectory
from puente.payments.offer import (
    PREPAYMENT_CHOICES,
    AmountChoice,
    PaymentOption,
    chosen_amount,
    chosen_prepayment_mode,
    installment_totals,
    payment_options,
)
from puente.payments.payer_approval import (
    cancel_paypal_payment,
    capture_paypal_payment,
    precheck_payment,
    start_paypal_payment,
)
from puente.portal.access import not_authorised
from puente.portal.payment_pages import (
    PaymentPages,
    not_found,
    status_context,
    visible_loan,
    visible_payment,
)
from puente.portal.payment_text import register_payment_filters
from puente.portal.saved_cards import card_form_page, keep_card_for, shown_card

if TYPE_CHECKING:
    from puente.portal.routes import Portal

__all__ = ["PaymentDoors", "card_attempt_key", "payment_routes"]

TOKEN = re.compile(r"[A-Za-z0-9_\-]{3,200}")


class CardInput(NamedTuple):
    """What the card step carries from the gateway's page to the charge."""

    token: str
    amount: Decimal
    option: PaymentOption
    mode: OverpaymentMode | None
    device_session_id: str | None  # Openpay's antifraud id; None where the gateway has none


KEY = re.compile(r"[A-Za-z0-9_\-]{8,128}")


def _new_key() -> str:
    return secrets.token_urlsafe(18)


def card_attempt_key(secret: bytes, loan_id: int, token: str) -> str:
    """The idempotency key of paying ``loan_id`` with one card token: the same every time the
    confirmation page is shown for that token. A reloaded (re-POSTed) confirmation or the
    back button would otherwise mint a new key, and the provider refuses a token already
    used: a second, "Rechazado" payment. With this key a second "Pagar" is the first one."""
    digest = hmac.new(secret, f"card-attempt|{loan_id}|{token}".encode(), hashlib.sha256)
    return "card-" + digest.hexdigest()[:40]


def _key(value: object) -> str:
    text = str(value or "")
    return text if KEY.fullmatch(text) else _new_key()


class PaymentDoors:
    """The pay flow's views; the services decide, these parse and render."""

    def __init__(self, portal: Portal, gateways: GatewayDirectory) -> None:
        self.portal = portal
        self.runtime = portal.runtime
        self.gateways = gateways
        self.base_url = portal.runtime.settings.base_url

    # -- shared ------------------------------------------------------------------------------

    async def _options(self, loan: Loan) -> tuple[PaymentOption, ...]:
        """The institution's options; a card only where its gateway can tokenise one."""
        institution = await Institution.get(id=loan.institution_id)
        options = []
        for option in payment_options(institution.settings):
            if option.method is M.CARD:
                step = await self.gateways.card_step(institution, option.provider)
                if step is None:
                    continue
            options.append(option)
        return tuple(options)

    async def _pay_page(
        self,
        request: Request,
        user: User,
        loan: Loan,
        *,
        values: dict[str, str] | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        (view,) = await load_loan_views([loan], self.runtime.today())
        options = await self._options(loan)
        payoff = await self._payoff(loan)
        chosen = {
            "monto_tipo": "proximo",
            "opcion": options[0].key if options else "",
            "modo_anticipo": loan.overpayment_mode,
        }
        chosen.update(values or {})
        chosen["clave"] = _new_key()  # a fresh attempt each time the form is shown
        context = {
            "user": user,
            "loan": loan,
            "view": view,
            "totals": installment_totals(view, payoff),
            "payoff": payoff,
            "prepayment_choices": PREPAYMENT_CHOICES,
            "options": options,
            "values": chosen,
            "error": error,
            "cancelled": request.query_params.get("cancelado") == "1",
        }
        return self.portal.render(request, "pages/pay.html", context, status_code=status_code)

    async def _payoff(self, loan: Loan) -> Decimal | None:
        """The most that may be paid today (``loans.payable``), None when nothing may be."""
        payable = await payable_amount(loan, self.runtime.today())
        return payable.maximum if payable.may_pay else None

    def _refused(self, request: Request, user: User, message: str) -> Response:
        context = {"user": user, "title": "No se pudo pagar", "message": message}
        return self.portal.render(request, "pages/error.html", context, status_code=400)

    # -- choose what and how -----------------------------------------------------------------

    async def pay_form(self, request: Request, user: User) -> Response:
        loan = await visible_loan(user, request.path_params["loan_id"])
        if loan is None:
            return not_found(self.portal, request, user)
        return await self._pay_page(request, user, loan)

    async def start(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        loan = await visible_loan(user, request.path_params["loan_id"])
        if loan is None:
            return not_found(self.portal, request, user)
        fields = ("monto_tipo", "pagos", "monto", "opcion", "modo_anticipo")
        values = {k: str(form.get(k, ""))[:64] for k in fields}
        (view,) = await load_loan_views([loan], self.runtime.today())
        choice = AmountChoice(
            kind=values["monto_tipo"] or "proximo", count=values["pagos"], other=values["monto"]
        )
        payoff = await self._payoff(loan)
        amount = chosen_amount(choice, installment_totals(view, payoff), payoff)
        mode, mode_problem = chosen_prepayment_mode(values["modo_anticipo"])
        option = next((o for o in await self._options(loan) if o.key == values["opcion"]), None)
        if isinstance(amount, str) or mode_problem or option is None:
            problem = amount if isinstance(amount, str) else mode_problem
            return await self._pay_page(
                request,
                user,
                loan,
                values=values,
                error=problem or "Elige cómo quieres pagar.",
                status_code=400,
            )
        payment_request = PaymentRequest(
            loan_id=loan.id,
            amount=amount,
            method=option.method,
            provider=option.provider,
            idempotency_key=_key(form.get("clave")),
            prepayment_mode=mode,
        )
        try:
            return await self._start(request, user, loan, option, payment_request)
        except PaymentRefused as refused:
            return await self._pay_page(
                request, user, loan, values=values, error=refused.message, status_code=400
            )

    async def _start(
        self, http: Request, user: User, loan: Loan, option: PaymentOption, request: PaymentRequest
    ) -> Response:
        if option.method is M.CARD:
            amount = await precheck_payment(self.runtime, user, request)
            mode = request.prepayment_mode.value if request.prepayment_mode else ""
            back = f"{self.base_url}/prestamos/{loan.id}/pagar/tarjeta/regreso?" + urlencode(
                {"monto": str(amount), "proveedor": option.provider, "modo": mode}
            )
            institution = await Institution.get(id=loan.institution_id)
            step = await self.gateways.card_step(institution, option.provider)
            if step is None:  # the credential went away since the form was shown
                raise PaymentRefused("CARD_UNAVAILABLE", "El pago con tarjeta no está disponible.")
            if not step.hosted:
                return self._card_page(http, user, loan, step, amount, back)
            cancel = f"{self.base_url}/prestamos/{loan.id}/pagar?cancelado=1"
            query = {"return_url": back, "cancel_url": cancel}
            return RedirectResponse(f"{step.page}?{urlencode(query)}", status_code=303)
        if option.method is M.PAYPAL:
            payment = await start_paypal_payment(
                self.runtime,
                self.gateways,
                user,
                request,
                lambda payment_id: f"{self.base_url}/pagos/{payment_id}/paypal",
            )
            approval = (payment.next_action or {}).get("redirect_url")
            return RedirectResponse(approval or f"/pagos/{payment.id}", status_code=303)
        payment = await create_payment(self.runtime, self.gateways, user, request)
        return RedirectResponse(f"/pagos/{payment.id}", status_code=303)

    def _card_page(
        self, http: Request, user: User, loan: Loan, step: CardStep, amount: Decimal, back: str
    ) -> Response:
        """Puente's card page with the gateway's script; its CSP allows that origin alone."""
        return card_form_page(self.portal, http, user, step, back, loan=loan, amount=amount)

    # -- card: back from the provider's form -------------------------------------------------

    async def _card_input(
        self, loan: Loan, values: QueryParams | FormData, token_from: FormData | None = None
    ) -> CardInput | None:
        sent = token_from if token_from is not None else values
        token = str(sent.get("token") or "")
        # Openpay's antifraud id (card-form.js, or the gateway's hosted page), sent on with
        # the charge; checkout refuses one that is malformed.
        device = str(sent.get("device_session_id") or "")[:300] or None
        try:
            amount = parse_amount(str(values.get("monto") or ""))
        except InvalidAmount:
            return None
        mode, problem = chosen_prepayment_mode(str(values.get("modo") or "")[:32])
        if problem:
            return None
        provider = str(values.get("proveedor") or "")
        option = next(
            (o for o in await self._options(loan) if o.key == f"{M.CARD.value}:{provider}"), None
        )
        if not TOKEN.fullmatch(token) or option is None:
            return None
        return CardInput(token, amount, option, mode, device)

    async def card_return(self, request: Request, user: User) -> Response:
        loan = await visible_loan(user, request.path_params["loan_id"])
        if loan is None:
            return not_found(self.portal, request, user)
        # No CSRF check: the provider's page posts here (it cannot know our token), and this
        # only shows the confirmation; the charge itself is a CSRF-checked POST.
        form = await request.form(max_files=0, max_fields=10, max_part_size=1024)
        card = await self._card_input(loan, request.query_params, form)
        if card is None:
            return await self._pay_page(
                request, user, loan, error="No recibimos los datos de la tarjeta.", status_code=400
            )
        (view,) = await load_loan_views([loan], self.runtime.today())
        return self.portal.render(
            request,
            "pages/pay_card.html",
            self._card_context(
                user, loan, view, card, card_attempt_key(self.portal.csrf_key, loan.id, card.token)
            )
            | shown_card(form),
        )

    def _card_context(self, user, loan, view, card: CardInput, key: str) -> dict[str, Any]:
        token, amount, option, mode, device = card
        return {
            "device_session_id": device or "",
            "mode": mode.value if mode else "",
            "user": user,
            "loan": loan,
            "view": view,
            "token": token,
            "amount": amount,
            "provider": option.provider,
            "clave": key,
            "error": None,
        }

    async def card_confirm(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        loan = await visible_loan(user, request.path_params["loan_id"])
        if loan is None:
            return not_found(self.portal, request, user)
        htmx = request.headers.get("hx-request") == "true"
        card = await self._card_input(loan, form)
        if card is None:
            return self._refused(request, user, "No recibimos los datos de la tarjeta.")
        token, amount, option, mode, device = card
        payment_request = PaymentRequest(
            loan_id=loan.id,
            amount=amount,
            method=M.CARD,
            provider=option.provider,
            idempotency_key=_key(form.get("clave")),
            card_token=token,
            prepayment_mode=mode,
            device_session_id=device,
        )
        try:
            if form.get("guardar") == "1":  # "guardar tarjeta": keep it, then pay with it
                payment_request = await keep_card_for(self.gateways, user, payment_request)
            payment = await create_payment(self.runtime, self.gateways, user, payment_request)
        except PaymentRefused as refused:
            if htmx:  # swapped in place of the button (htmx does not swap 4xx answers)
                context = {"message": refused.message, "loan": loan}
                return self.portal.render(request, "partials/payment_refused.html", context)
            (view,) = await load_loan_views([loan], self.runtime.today())
            context = self._card_context(user, loan, view, card, payment_request.idempotency_key)
            context["error"] = refused.message
            return self.portal.render(request, "pages/pay_card.html", context, status_code=400)
        if not htmx:
            return RedirectResponse(f"/pagos/{payment.id}", status_code=303)
        (view,) = await load_loan_views([loan], self.runtime.today())
        context = {"loan": loan, **status_context(payment, view)}
        return self.portal.render(request, "partials/payment_result.html", context)

    # -- PayPal: back from the approval page -------------------------------------------------

    async def paypal_return(self, request: Request, user: User) -> Response:
        payment = await visible_payment(user, request.path_params["payment_id"])
        if payment is None:
            return not_found(self.portal, request, user)
        payment_id = payment.id
        if request.query_params.get("cancelado") == "1":
            if await cancel_paypal_payment(user, self.runtime, payment_id) is None:
                return not_found(self.portal, request, user)
            return RedirectResponse(f"/pagos/{payment_id}", status_code=303)
        order = request.query_params.get("token", "")
        try:
            await capture_paypal_payment(self.runtime, self.gateways, user, payment_id, order)
        except PaymentRefused as refused:
            return self._refused(request, user, refused.message)
        return RedirectResponse(f"/pagos/{payment_id}", status_code=303)


def payment_routes(portal: Portal, gateways: GatewayDirectory | None) -> list[BaseRoute]:
    """The payment pages, for ``portal_routes``."""
    register_payment_filters(portal.templates.env)
    doors = PaymentDoors(portal, gateways or GatewayDirectory(portal.runtime))
    pages = PaymentPages(portal)
    signed_in = portal.gate.signed_in  # every payment page is for a signed-in user
    return [
        Route("/prestamos/{loan_id:int}/pagar", signed_in(doors.pay_form), methods=["GET"]),
        Route("/prestamos/{loan_id:int}/pagar", signed_in(doors.start), methods=["POST"]),
        Route(
            "/prestamos/{loan_id:int}/pagar/tarjeta/regreso",
            signed_in(doors.card_return),
            methods=["POST"],
        ),
        Route(
            "/prestamos/{loan_id:int}/pagar/tarjeta",
            signed_in(doors.card_confirm),
            methods=["POST"],
        ),
        Route(
            "/prestamos/{loan_id:int}/eventos",
            signed_in(pages.events, refusal=not_authorised),  # EventSource: 403, no redirect
            methods=["GET"],
        ),
        Route("/pagos", signed_in(pages.history), methods=["GET"]),
        Route("/pagos/{payment_id:int}", signed_in(pages.status_page), methods=["GET"]),
        Route("/pagos/{payment_id:int}/paypal", signed_in(doors.paypal_return), methods=["GET"]),
        Route("/pagos/{payment_id:int}/comprobante", signed_in(pages.receipt), methods=["GET"]),
    ]
