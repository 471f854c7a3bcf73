"""Simulator of Banxico's CEP service (Comprobante Electrónico de Pago), on Banxico's own paths.

Mounted at ``/sandbox/banxico``, it answers what ``cepmex`` calls under ``…/cep``:

* ``POST /cep/valida.do`` — the public form (``tipoCriterio``, ``fecha`` dd-mm-yyyy, ``criterio``
  = clave de rastreo, ``emisor``, ``receptor``, ``cuenta``, ``monto`` in pesos, ``tipoConsulta``,
  ``captcha``). An HTML page, with Banxico's own sentences for "no encontrada"; a session
  cookie remembers the transfer found.
* ``GET /cep/descarga.do?formato=XML`` — the CEP as Banxico's ``SPEI_Tercero`` XML
  (mexico.md §5.2) for the transfer in the session; ``formato=PDF`` a minimal PDF.

Which transfers exist: those registered with ``POST /_transfers`` (JSON: ``clave_rastreo``,
``fecha`` YYYY-MM-DD, ``emisor``, ``receptor``, ``cuenta``, ``monto`` pesos, ``ordenante_nombre``,
``ordenante_rfc``, ``ordenante_cuenta``, ``visible`` — false: "not found yet"), plus every abono
the STP simulator settled (the sandbox app links them: Banxico sees every SPEI).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from puente_sandbox.core import Simulator, sandbox_factory

__all__ = ["BanxicoCepSimulator", "create_cep_sandbox"]

# Banxico's sentences, as cepmex recognises them.
NOT_FOUND = "No se encontró ningún pago con la información proporcionada"
FOUND = "Estado del pago en Banxico: Liquidado"

Transfer = dict[str, Any]


def _monto(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


class BanxicoCepSimulator(Simulator):
    """SPEI transfers Banxico knows and the CEP of each."""

    name = "cep"

    def __init__(self, credentials: Mapping[str, str], webhook_url: str | None, **kwargs: Any):
        super().__init__(credentials, None, **kwargs)
        self.transfers: dict[str, Transfer] = {}
        self.sources: list[Callable[[], list[Transfer]]] = []  # other simulators' SPEI
        self.sessions: dict[str, Transfer] = {}
        self.queries = 0

    def error_body(self, status: int) -> dict[str, Any]:
        return {"error": "Servicio no disponible"}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/cep/valida.do", self._valida, methods=["POST"]),
            Route("/cep/descarga.do", self._descarga, methods=["GET"]),
            Route("/_transfers", self._transfers_endpoint, methods=["GET", "POST"]),
        ]

    # -- what Banxico knows ---------------------------------------------------------------------
    def register(self, data: Mapping[str, Any]) -> Transfer:
        """Add (or update) a transfer; ``visible=False`` keeps it "not found" for now."""
        transfer = {
            "clave_rastreo": str(data["clave_rastreo"]),
            "fecha": date.fromisoformat(str(data["fecha"])),
            "emisor": str(data["emisor"]),
            "receptor": str(data["receptor"]),
            "cuenta": str(data["cuenta"]),
            "monto": _monto(data["monto"]),
            "ordenante_nombre": str(data.get("ordenante_nombre") or "ORDENANTE SANDBOX"),
            "ordenante_rfc": str(data.get("ordenante_rfc") or "ND"),
            "ordenante_cuenta": str(data.get("ordenante_cuenta") or "012180001234567899"),
            "beneficiario_nombre": str(data.get("beneficiario_nombre") or "PUENTE SANDBOX"),
            "concepto": str(data.get("concepto") or "PAGO"),
            "visible": bool(data.get("visible", True)),
            "hora": str(data.get("hora") or "120000"),
        }
        self.transfers[transfer["clave_rastreo"]] = transfer
        return transfer

    def _all(self) -> list[Transfer]:
        found = list(self.transfers.values())
        for source in self.sources:
            found.extend(source())
        return found

    def find(
        self, fecha: date, clave: str, emisor: str, receptor: str, cuenta: str, monto: Decimal
    ) -> Transfer | None:
        for t in self._all():
            if (
                t["clave_rastreo"] == clave
                and t["fecha"] == fecha
                and t["emisor"] == emisor
                and t["receptor"] == receptor
                and t["cuenta"] == cuenta
                and t["monto"] == monto
                and t["visible"]
            ):
                return t
        return None

    # -- Banxico's pages ------------------------------------------------------------------------
    async def _valida(self, request: Request) -> Response:
        self.queries += 1
        async with request.form() as form:
            fields = {key: str(value) for key, value in form.items()}
        try:
            fecha = datetime.strptime(fields.get("fecha", ""), "%d-%m-%Y").date()
            monto = _monto(fields.get("monto", ""))
        except (ValueError, ArithmeticError):
            return HTMLResponse(_page("Los datos proporcionados no son válidos"), 200)
        transfer = self.find(
            fecha,
            fields.get("criterio", ""),
            fields.get("emisor", ""),
            fields.get("receptor", ""),
            fields.get("cuenta", ""),
            monto,
        )
        if transfer is None:
            return HTMLResponse(_page(NOT_FOUND))
        session = secrets.token_hex(16)
        self.sessions[session] = transfer
        response = HTMLResponse(_page(f"{FOUND}<br>Monto: {transfer['monto']}"))
        response.set_cookie("JSESSIONID", session, httponly=True)
        return response

    async def _descarga(self, request: Request) -> Response:
        transfer = self.sessions.get(request.cookies.get("JSESSIONID", ""))
        if transfer is None:
            return HTMLResponse(_page("Sesión expirada"), 200)
        formato = request.query_params.get("formato", "PDF").upper()
        if formato == "XML":
            return Response(cep_xml(transfer), media_type="application/xml")
        return Response(_pdf(transfer), media_type="application/pdf")

    async def _transfers_endpoint(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await request.json()
                transfer = self.register(body)
            except (ValueError, KeyError, ArithmeticError) as exc:
                return JSONResponse({"error": f"transferencia no válida: {exc}"}, 400)
            return JSONResponse({"clave_rastreo": transfer["clave_rastreo"]})
        rows = [
            {**t, "fecha": t["fecha"].isoformat(), "monto": str(t["monto"])} for t in self._all()
        ]
        return JSONResponse({"data": rows})


def stp_abonos(stp: Any) -> Callable[[], list[Transfer]]:
    """The abonos the STP simulator settled, as Banxico sees them (every SPEI goes through it)."""

    def transfers() -> list[Transfer]:
        found = []
        for abono in stp.state.store.all("abonos"):
            day = str(abono["fechaOperacion"])
            moment = datetime.fromtimestamp(abono["tsLiquidacion"] / 1000)
            found.append(
                {
                    "clave_rastreo": abono["claveRastreo"],
                    "fecha": date(int(day[:4]), int(day[4:6]), int(day[6:])),
                    "emisor": f"{int(abono['institucionOrdenante']):05d}",
                    "receptor": f"{int(abono['institucionBeneficiaria']):05d}",
                    "cuenta": abono["cuentaBeneficiario"],
                    "monto": _monto(abono["_monto"]),
                    "ordenante_nombre": abono["nombreOrdenante"],
                    "ordenante_rfc": abono.get("rfcCurpOrdenante") or "ND",
                    "ordenante_cuenta": abono["cuentaOrdenante"],
                    "beneficiario_nombre": abono.get("nombreBeneficiario") or "",
                    "concepto": abono.get("conceptoPago") or "",
                    "visible": True,
                    "hora": moment.strftime("%H%M%S"),
                }
            )
        return found

    return transfers


def cep_xml(t: Transfer) -> bytes:
    """A CEP as Banxico writes it: ``SPEI_Tercero`` with ``Beneficiario`` and ``Ordenante``."""
    fecha = t["fecha"].strftime("%d%m%Y")
    cadena = "|".join(
        [
            "",
            "",
            "1",
            fecha,
            fecha,
            t["hora"],
            t["receptor"],
            t["emisor"],
            t["ordenante_nombre"],
            "40",
            t["ordenante_cuenta"],
            t["ordenante_rfc"],
            t["receptor"],
            t["beneficiario_nombre"],
            "40",
            t["cuenta"],
            "ND",
            t["concepto"],
            "0.00",
            str(t["monto"]),
            "00001000000504796539",
            "",
            "",
        ]
    )
    monto = f"{t['monto']:0>18}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<SPEI_Tercero FechaOperacion="{t["fecha"].isoformat()}" Hora="{t["hora"][:2]}:'
        f'{t["hora"][2:4]}:{t["hora"][4:]}" ClaveSPEI="{escape(t["receptor"])}" '
        f'sello="U0FOREJPWA==" numeroCertificado="00001000000504796539" '
        f'cadenaCDA="{escape(cadena)}" claveRastreo="{escape(t["clave_rastreo"])}">'
        f'<Beneficiario BancoReceptor="{escape(t["receptor"])}" '
        f'Nombre="{escape(t["beneficiario_nombre"])}" TipoCuenta="40" '
        f'Cuenta="{escape(t["cuenta"])}" RFC="ND" Concepto="{escape(t["concepto"])}" '
        f'IVA="0.00" MontoPago="{monto}"/>'
        f'<Ordenante BancoEmisor="{escape(t["emisor"])}" Nombre="{escape(t["ordenante_nombre"])}" '
        f'TipoCuenta="40" Cuenta="{escape(t["ordenante_cuenta"])}" '
        f'RFC="{escape(t["ordenante_rfc"])}"/>'
        "</SPEI_Tercero>"
    ).encode()


def _page(message: str) -> str:
    return f"<html><body><div class='resultado'>{message}</div></body></html>"


def _pdf(t: Transfer) -> bytes:
    text = f"CEP {t['clave_rastreo']} {t['monto']}"
    return f"%PDF-1.4\n% {text}\n%%EOF\n".encode()


create_cep_sandbox = sandbox_factory(BanxicoCepSimulator)
