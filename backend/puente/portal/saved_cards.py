"""Portal doors for saved cards and the domiciliación of a loan.

    GET  /prestamos/{id}/domiciliacion     the mandate (text, card, until when), its
                                           attempts, the borrower's saved cards
    POST /prestamos/{id}/domiciliacion     accion=firmar (tarjeta, acepto) | cancelar
    GET  /tarjetas/nueva?proveedor=&prestamo=   to the provider's card form (save only)
    POST /tarjetas/regreso                 back from the card form: confirm page
    POST /tarjetas                         save the token (CSRF-checked)
    POST /tarjetas/{id}/predeterminada · /tarjetas/{id}/eliminar

The card number never reaches Puente: the provider's page turns it into a token, as in
the pay flow (``payments.py``); a saved card is the provider's customer and card ids.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from puente.accounts.access import client_address
from puente.accounts.models import User
from puente.collections import cards
from puente.collections.errors import CollectionRefused
from puente.collections.mandates import (
    MANDATE_TEXT_VERSION,
    active_mandate,
    default_valid_until,
    mandate_text,
    revoke_mandate,
    sign_mandate,
)
from puente.collections.reads import loan_domiciliacion
from puente.enums import PaymentMethodType as M
from puente.institutions.models import Institution
from puente.payments.checkout import PaymentRefused, PaymentRequest
from puente.payments.gateways import GatewayDirectory
from puente.payments.offer import payment_options
from puente.portal.payment_pages import not_found, visible_loan
from puente.portal.security import content_security_policy
from puente.providers.registry import provider_spec

if TYPE_CHECKING:
    from puente.loans.models import Loan
    from puente.payments.card_step import CardStep
    from puente.portal.routes import Portal

__all__ = [
    "card_form_page",
    "collection_context",
    "keep_card_for",
    "saved_card_routes",
    "shown_card",
]


async def keep_card_for(
    gateways: GatewayDirectory, user: User, request: PaymentRequest
) -> PaymentRequest:
    """The "guardar tarjeta" box at checkout: save the token, then pay with the saved card."""
    try:
        saved = await cards.save_card(
            gateways, user, str(request.provider), request.card_token or ""
        )
    except CollectionRefused as exc:
        raise PaymentRefused(exc.code, exc.message) from None
    return dataclasses.replace(request, card_token=None, payment_method_id=saved.id)


def card_form_page(
    portal: Portal,
    request: Request,
    user: User,
    step: CardStep,
    back: str,
    *,
    loan: Loan | None = None,
    amount: Decimal | None = None,
) -> Response:
    """Puente's card page with the gateway's script (pay: ``amount``; save only: None); its
    CSP allows that script's origin alone."""
    context = {
        "user": user,
        "loan": loan,
        "step": step,
        "amount": amount,
        "label": provider_spec(step.provider).label,
        "return_url": back,
    }
    response = portal.render(request, "pages/pay_card_form.html", context)
    response.headers["content-security-policy"] = content_security_policy(step.script_origin)
    return response


def shown_card(form: Mapping[str, Any]) -> dict[str, str]:
    """The brand and last four the provider's page posted back, only if they look right."""
    last4, brand = str(form.get("last4") or ""), str(form.get("brand") or "")
    return {
        "last4": last4 if last4.isdigit() and len(last4) == 4 else "",
        "brand": brand.title() if brand.isalpha() and len(brand) < 20 else "Tarjeta",
    }


async def collection_context(loan_id: int) -> dict[str, object]:
    """What the loan page shows of its domiciliación (borrower and staff alike)."""
    read = await loan_domiciliacion(loan_id, limit=50)
    return {"mandate": read.mandate, "attempts": read.attempts}


def _origin(request: Request) -> str:
    agent = request.headers.get("user-agent", "")[:200]
    return f"portal {client_address(request) or '-'} {agent}".strip()


class SavedCardDoors:
    def __init__(self, portal: Portal, gateways: GatewayDirectory) -> None:
        self.portal = portal
        self.runtime = portal.runtime
        self.gateways = gateways
        self.base_url = portal.runtime.settings.base_url

    async def _card_providers(self, user: User) -> list[tuple[str, str]]:
        """(provider, label) of every gateway whose card form this institution offers."""
        institution = await Institution.get(id=user.institution_id)
        found = []
        for option in payment_options(institution.settings):
            if option.method is M.CARD:
                step = await self.gateways.card_step(institution, option.provider)
                if step is not None:
                    found.append((option.provider, provider_spec(option.provider).label))
        return found

    async def page(
        self,
        request: Request,
        user: User,
        *,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        loan = await visible_loan(user, request.path_params["loan_id"])
        if loan is None:
            return not_found(self.portal, request, user)
        saved = await cards.list_cards(user) if loan.borrower_id == user.id else []
        institution = await Institution.get(id=loan.institution_id)
        in_force = await active_mandate(loan.id)
        until = await default_valid_until(loan.id) or self.runtime.today()
        texts = {
            card.id: mandate_text(institution.name, card.label, loan.id, until) for card in saved
        }
        context = {
            "user": user,
            "loan": loan,
            "cards": saved,
            "in_force": in_force,
            "texts": texts,
            "text_version": MANDATE_TEXT_VERSION,
            "providers": await self._card_providers(user),
            "owner": loan.borrower_id == user.id,
            "error": error,
            **await collection_context(loan.id),
        }
        return self.portal.render(request, "pages/domiciliacion.html", context, status_code)

    async def show(self, request: Request, user: User) -> Response:
        return await self.page(request, user)

    async def decide(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        loan_id = request.path_params["loan_id"]
        try:
            if form.get("accion") == "cancelar":
                await revoke_mandate(self.runtime, user, loan_id, origin=_origin(request))
            else:
                if form.get("acepto") != "1":
                    raise CollectionRefused(
                        "CONSENT_REQUIRED", "Marca la casilla para aceptar la domiciliación."
                    )
                card_id = str(form.get("tarjeta") or "")
                await sign_mandate(
                    self.runtime,
                    user,
                    loan_id,
                    int(card_id) if card_id.isdigit() else -1,
                    origin=_origin(request),
                )
        except CollectionRefused as exc:
            return await self.page(request, user, error=exc.message, status_code=400)
        return RedirectResponse(f"/prestamos/{loan_id}/domiciliacion", status_code=303)

    def _back(self, form_or_query: Mapping[str, Any]) -> str:
        loan = str(form_or_query.get("prestamo") or "")
        return f"/prestamos/{loan}/domiciliacion" if loan.isdigit() else "/"

    async def new_card(self, request: Request, user: User) -> Response:
        provider = request.query_params.get("proveedor", "")
        if provider not in {p for p, _ in await self._card_providers(user)}:
            return not_found(self.portal, request, user)
        back = f"{self.base_url}/tarjetas/regreso?" + urlencode(
            {"proveedor": provider, "prestamo": request.query_params.get("prestamo", "")}
        )
        institution = await Institution.get(id=user.institution_id)
        step = await self.gateways.card_step(institution, provider)
        if step is None:
            return not_found(self.portal, request, user)
        if step.hosted:
            cancel = f"{self.base_url}{self._back(request.query_params)}"
            query = urlencode({"return_url": back, "cancel_url": cancel})
            return RedirectResponse(f"{step.page}?{query}", status_code=303)
        return card_form_page(self.portal, request, user, step, back)

    async def card_return(self, request: Request, user: User) -> Response:
        # The provider's page posts the token here (no CSRF token): only a confirmation.
        form = await request.form(max_files=0, max_fields=10, max_part_size=1024)
        context = {
            "user": user,
            "token": str(form.get("token") or ""),
            "provider": request.query_params.get("proveedor", ""),
            "prestamo": request.query_params.get("prestamo", ""),
            **shown_card(form),
        }
        return self.portal.render(request, "pages/tarjeta_guardar.html", context)

    async def save(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        provider = str(form.get("proveedor") or "")[:16]
        try:
            await cards.save_card(self.gateways, user, provider, str(form.get("token") or ""))
        except CollectionRefused as exc:
            context = {"user": user, "title": "No se guardó la tarjeta", "message": exc.message}
            return self.portal.render(request, "pages/error.html", context, status_code=400)
        return RedirectResponse(self._back(form), status_code=303)

    async def card_action(self, request: Request, user: User) -> Response:
        form = await self.portal.form(request)
        if form is None:
            return self.portal.forbidden(request)
        card_id = request.path_params["card_id"]
        try:
            if request.path_params["action"] == "eliminar":
                await cards.delete_card(self.gateways, user, card_id)
            else:
                await cards.make_default(user, card_id)
        except CollectionRefused as exc:
            context = {"user": user, "title": "No se pudo", "message": exc.message}
            return self.portal.render(request, "pages/error.html", context, status_code=400)
        return RedirectResponse(self._back(form), status_code=303)


def saved_card_routes(portal: Portal, gateways: GatewayDirectory) -> list[BaseRoute]:
    """The saved-card and domiciliación pages, for ``portal_routes``."""
    doors = SavedCardDoors(portal, gateways)
    signed_in = portal.gate.signed_in
    return [
        Route("/prestamos/{loan_id:int}/domiciliacion", signed_in(doors.show), methods=["GET"]),
        Route("/prestamos/{loan_id:int}/domiciliacion", signed_in(doors.decide), methods=["POST"]),
        Route("/tarjetas/nueva", signed_in(doors.new_card), methods=["GET"]),
        Route("/tarjetas/regreso", signed_in(doors.card_return), methods=["POST"]),
        Route("/tarjetas", signed_in(doors.save), methods=["POST"]),
        Route(
            "/tarjetas/{card_id:int}/{action:str}",
            signed_in(doors.card_action),
            methods=["POST"],
        ),
    ]
