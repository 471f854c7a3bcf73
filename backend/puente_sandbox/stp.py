"""STP simulator: STP's real paths and bodies, firma verification, settlement and callbacks.

Point ``StpConnector`` (or stpmex-python) at the app's URL:

    PUT  /speiws/rest/ordenPago/registra     register a signed order -> {"resultado": {"id"}}
    POST /efws/API/consultaOrden             an order by clave de rastreo
    POST /efws/API/V2/conciliacion           the day's orders, enviadas (E) or recibidas (R)
    POST /efws/API/consultaSaldoCuenta       saldo and cargos pendientes

Every body's ``firma`` is checked with the empresa's *public* key (``public_key_pem``, else the
public half of ``private_key_pem``); a wrong one is answered, as STP does, with HTTP 200 and
``{"resultado": {"id": 0, "descripcionError": "Error validando la firma"}}``. Orders settle
``settle_after`` seconds after registra (default 2, ``None`` = only on demand): ``LQ`` and an
``Exito`` callback, or ``Devuelto`` for the test CLABE ``014180000000000000``.

Simulator-only: ``GET|POST /_abonos`` (a form / JSON to announce an incoming transfer, which
then waits on the sandbox index page to be "paid"), ``POST /_settle`` (settle every pending
order now); on ``/_references`` pending orders appear too: *pay* settles one, *expire* returns it.
Callbacks (abono and cambio de estado) go to the one webhook URL, unsigned as STP sends them,
with ``webhook_secret`` as HTTP Basic when configured (see ``providers/stp_webhooks.py``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from puente_sandbox.core import PendingReference, SandboxError, Simulator, sandbox_factory
from puente_sandbox.formats import stp_cadena, stp_cadena_orden, stp_monto
from puente_sandbox.pages import html_page
from puente_sandbox.signing import (
    basic_authorization,
    private_key_from_pem,
    public_key_from_pem,
    rsa_sha256_b64_valid,
)
from puente_sandbox.stp_keys import DEFAULT_STP_CREDENTIALS
from puente_sandbox.stp_state import MANDATORY, RETURN_CLABE, StpError, StpState, public_row

__all__ = ["StpSimulator", "create_stp_sandbox"]

_OK = "Datos consultados correctamente"
_NOT_FOUND = {"estado": 6, "mensaje": "No se encontraron datos relacionados"}
_BAD_FIRMA = {"estado": 1, "mensaje": "Error validando la firma"}
Efws = Callable[[dict[str, Any]], Response]


class StpSimulator(Simulator):
    """One empresa at STP, in memory."""

    name = "stp"
    webhook_user_agent = "STP callback (Puente sandbox)"
    default_credentials = DEFAULT_STP_CREDENTIALS

    def __init__(
        self,
        credentials: Mapping[str, str],
        webhook_url: str | None,
        *,
        balance: Decimal = Decimal("1000000.00"),
        return_clabes: tuple[str, ...] = (RETURN_CLABE,),
        settle_after: float | None = 2.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(credentials, webhook_url, **kwargs)
        merged = self.credentials
        self.empresa, self.cuenta = merged["empresa"], merged["cuenta"]
        if merged.get("public_key_pem"):
            self.public_key = public_key_from_pem(merged["public_key_pem"])
        else:
            private = private_key_from_pem(
                merged["private_key_pem"], merged.get("private_key_passphrase") or None
            )
            self.public_key = private.public_key()
        # What Puente registered with STP for its callback URL (sent back on every callback).
        self.callback_secret = merged.get("webhook_secret") or None
        self.callback_header = merged.get("webhook_secret_header") or "Authorization"
        self.state = StpState(
            self,
            empresa=self.empresa,
            cuenta=self.cuenta,
            balance=balance,
            return_clabes=frozenset(return_clabes),
            settle_after=settle_after,
        )

    def sign_webhook(self, body: bytes, timestamp: int) -> dict[str, str]:
        if not self.callback_secret:
            return {}  # STP does not sign callbacks
        if self.callback_header.lower() == "authorization":
            user, _, password = self.callback_secret.partition(":")
            return {"Authorization": basic_authorization(user, password)}
        return {self.callback_header: self.callback_secret}

    def error_body(self, status: int) -> dict[str, Any]:
        return {"resultado": {"descripcionError": "No se recibió respuesta del servicio", "id": 0}}

    # -- STP's API ------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/speiws/rest/ordenPago/registra", self._registra, methods=["PUT"]),
            Route("/efws/API/consultaOrden", self._efws(self._consulta_orden), methods=["POST"]),
            Route("/efws/API/V2/conciliacion", self._efws(self._conciliacion), methods=["POST"]),
            Route("/efws/API/consultaSaldoCuenta", self._efws(self._saldo), methods=["POST"]),
            Route("/_abonos", self._abono_form, methods=["GET"]),
            Route("/_abonos", self._create_abono, methods=["POST"]),
            Route("/_settle", self.admin_endpoint(lambda r: self.settle()), methods=["POST"]),
        ]

    @staticmethod
    async def _json(request: Request) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.body(), parse_float=Decimal)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        return body if isinstance(body, dict) else None

    async def _registra(self, request: Request) -> Response:
        self.state.settle_due()
        body = await self._json(request)
        try:
            if body is None:
                raise StpError(0, "El cuerpo de la petición no es JSON")
            missing = next((f for f in MANDATORY if body.get(f) in (None, "")), None)
            if missing:
                raise StpError(0, f"El campo {missing} es obligatorio")
            signed = rsa_sha256_b64_valid(self.public_key, stp_cadena_orden(body), body["firma"])
            if body["empresa"] != self.empresa or not signed:
                raise StpError(0, "Error validando la firma")
            answer = self.state.registra(body)
        except StpError as exc:
            return JSONResponse(exc.body())  # STP refuses with HTTP 200 and a negative id
        return JSONResponse(answer)

    def _efws(self, handler: Efws) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self.state.settle_due()
            body = await self._json(request)
            if body is None or body.get("empresa") != self.empresa:
                return JSONResponse(_BAD_FIRMA, 400)
            return handler(body)

        return endpoint

    def _fecha(self, body: Mapping[str, Any]) -> int:
        text = str(body.get("fechaOperacion") or "")
        return int(text) if text.isdigit() else self.state.today()

    def _consulta_orden(self, body: dict[str, Any]) -> Response:
        clave, tipo = str(body.get("claveRastreo") or ""), str(body.get("tipoOrden") or "")
        fecha_text = str(body.get("fechaOperacion") or "")
        cadena = stp_cadena([self.empresa, clave, tipo, fecha_text])
        if not rsa_sha256_b64_valid(self.public_key, cadena, body.get("firma")):
            return JSONResponse(_BAD_FIRMA, 400)
        found = self.state.find_order(tipo, clave, self._fecha(body))
        if found is None:
            return JSONResponse(_NOT_FOUND, 400)
        return JSONResponse({"estado": 0, "mensaje": _OK, "respuesta": public_row(found)})

    def _conciliacion(self, body: dict[str, Any]) -> Response:
        tipo, fecha_text = str(body.get("tipoOrden") or ""), str(body.get("fechaOperacion") or "")
        cadena = stp_cadena([self.empresa, tipo, fecha_text])
        if not rsa_sha256_b64_valid(self.public_key, cadena, body.get("firma")):
            return JSONResponse(_BAD_FIRMA, 400)
        page = int(body.get("page") or 0)
        rows = self.state.rows(tipo, self._fecha(body))
        datos = [public_row(r) for r in rows[page * 1000 : (page + 1) * 1000]]
        return JSONResponse({"estado": 0, "mensaje": _OK, "total": len(rows), "datos": datos})

    def _saldo(self, body: dict[str, Any]) -> Response:
        cuenta = str(body.get("cuentaOrdenante") or "")
        cadena = stp_cadena([self.empresa, cuenta, ""])
        if not rsa_sha256_b64_valid(self.public_key, cadena, body.get("firma")):
            return JSONResponse(_BAD_FIRMA, 400)
        if cuenta != self.cuenta:
            return JSONResponse(_NOT_FOUND, 400)
        saldo = {
            "saldo": stp_monto(self.state.balance),
            "cargosPendientes": stp_monto(self.state.pending_charges()),
        }
        return JSONResponse({"estado": 0, "mensaje": _OK, "respuesta": saldo})

    # -- the sandbox's side ---------------------------------------------------------------------
    def pending_references(self) -> list[PendingReference]:
        self.state.settle_due()
        found = [
            PendingReference(
                "stp",
                r["id"],
                "spei",
                r["_monto"],
                str(r["referenciaNumerica"]),
                r["cuentaBeneficiario"],
                description=r["conceptoPago"],
            )
            for r in self.state.abonos.pending()
        ]
        found += [
            PendingReference(
                "stp",
                str(o["id"]),
                "spei-out",  # our own disbursement: "pay" settles it, "expire" returns it
                o["_monto"],
                o["claveRastreo"],
                o["cuentaBeneficiario"],
                description=str(o.get("conceptoPago") or ""),
            )
            for o in self.state.orders()
            if o["estado"] == "A"
        ]
        return found

    def _outgoing(self, object_id: str) -> dict[str, Any] | None:
        return self.state.order(int(object_id)) if object_id.isdigit() else None

    def pay_reference(self, object_id: str, amount: Decimal | None = None) -> None:
        order = self._outgoing(object_id)
        if order is not None:
            self.state.settle(order)
        else:
            self.state.pay_abono(object_id, amount)

    def expire_reference(self, object_id: str) -> None:
        order = self._outgoing(object_id)
        if order is not None:
            self.state.settle(order, devolver=True)
        else:
            self.state.abonos.lapse(object_id)

    def settle(self) -> dict[str, Any]:
        pending = [o for o in self.state.orders() if o["estado"] == "A"]
        for order in pending:
            self.state.settle(order)
        return {"settled": [o["id"] for o in pending]}

    async def _abono_form(self, request: Request) -> Response:
        root = request.scope.get("root_path", "")
        index = root.rsplit("/", 1)[0] + "/" if root else "/_references"
        fields = "".join(
            f'<p><label>{escape(label)} <input name="{name}" value="{escape(value)}"></label></p>'
            for label, name, value in (
                ("CLABE beneficiaria (empty: a new one)", "cuentaBeneficiario", ""),
                ("Monto (pesos)", "monto", "1500.00"),
                ("Nombre ordenante", "nombreOrdenante", "ANA LOPEZ GARCIA"),
                ("Concepto", "conceptoPago", "PAGO COLEGIATURA"),
                ("Referencia numérica", "referenciaNumerica", ""),
            )
        )
        form = (
            f'<form method="post" action="{escape(root)}/_abonos">{fields}'
            f'<input type="hidden" name="next" value="{escape(index)}">'
            '<button type="submit">Announce incoming transfer</button></form>'
        )
        return html_page("STP: simulate an incoming SPEI (abono)", form)

    async def _create_abono(self, request: Request) -> Response:
        is_form = request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        )
        params: dict[str, Any] = dict(await request.form()) if is_form else {}
        if not is_form:
            params = await self._json(request) or {}
        try:
            reference = self.state.new_abono(params)
        except (SandboxError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        next_url = str(params.get("next") or "")
        if is_form and next_url.startswith("/") and not next_url.startswith("//"):
            return RedirectResponse(next_url, status_code=303)
        shown = {k: v for k, v in reference.items() if not k.startswith("_")}
        return JSONResponse({**shown, "monto": str(reference["_monto"])}, 201)


create_stp_sandbox = sandbox_factory(StpSimulator)
