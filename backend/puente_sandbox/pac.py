"""Simulator of a PAC (SW sapien's REST API): stamps CFDI 4.0 with a TimbreFiscalDigital 1.1.

Speaks what ``puente.invoicing.pac.SwSapienPac`` calls, with SW's wire format:

* ``POST /v4/cfdi33/stamp/v4`` (multipart ``xml``, ``Authorization: Bearer <token>``, optional
  ``customid``): checks the document as a PAC does first — SAT's XSD (satcfdi ships it) and
  the emisor's sello against the certificate it carries — then adds a TimbreFiscalDigital 1.1
  (a fresh UUID, ``SelloSAT`` signed with the simulator's own test key: SAT's public test
  CSD ``JES900109Q90`` in ``data/``) and answers ``{"status": "success", "data": {...}}``.
  The same ``customid`` again returns the first stamp (SW's idempotency).
* ``POST /cfdi33/cancel/{rfc}/{uuid}/{motivo}[/{folioSustitucion}]``: motivo 01–04 (01 needs the
  substitute); answers an acuse and status 201 (202 when it was already cancelled).
* Errors: ``{"status": "error", "message": "<code>", "messageDetail": "<text>"}``.

Simulator-only: ``GET /_stamped`` lists what it stamped (uuid, status).
"""

from __future__ import annotations

import asyncio
import base64
import uuid as uuid_module
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree
from satcfdi.cfdi import CFDI
from satcfdi.create.cfd.tfd11 import TimbreFiscalDigital
from satcfdi.models import Signer
from satcfdi.models.certificate import Certificate
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from puente_sandbox.core import Simulator, sandbox_factory
from puente_sandbox.credentials import sandbox_credentials

__all__ = ["DEFAULT_PAC_CREDENTIALS", "PacSimulator", "create_pac_sandbox"]

DATA = Path(__file__).parent / "data"
DEFAULT_PAC_CREDENTIALS = sandbox_credentials("pac")
RFC_PROV_CERTIF = "LSO1306189R5"  # SW sapien's RFC as proveedor de certificación


class _Timbre(TimbreFiscalDigital):
    """TimbreFiscalDigital 1.1 naming the PAC's RFC explicitly (SAT's test CSD is no PAC's)."""

    def __init__(self, signer: Signer, uuid: str, stamped_at: datetime, sello_cfd: str) -> None:
        CFDI.__init__(
            self,
            {
                "Version": self.version,
                "UUID": uuid,
                "FechaTimbrado": stamped_at,
                "RfcProvCertif": RFC_PROV_CERTIF,
                "SelloCFD": sello_cfd,
                "NoCertificadoSAT": signer.certificate_number,
                "SelloSAT": "",
            },
        )
        self["SelloSAT"] = signer.sign_sha256(self.cadena_original().encode())


def _error(code: str, detail: str, status: int = 400) -> tuple[int, dict[str, Any]]:
    return status, {"status": "error", "message": code, "messageDetail": detail}


class PacSimulator(Simulator):
    """One SW sapien account: stamps, cancellations, idempotent by customid."""

    name = "pac"

    def __init__(self, credentials: Mapping[str, str], webhook_url: str | None, **kwargs: Any):
        super().__init__(credentials, None, **kwargs)
        self.token = credentials.get("token") or DEFAULT_PAC_CREDENTIALS["token"]
        self.signer = Signer.load(
            certificate=(DATA / "pac_test.cer").read_bytes(),
            key=(DATA / "pac_test.key").read_bytes(),
            password="12345678a",
        )
        self.stamped: dict[str, dict[str, Any]] = {}  # uuid → {"xml", "rfc", "status"}
        self.by_custom_id: dict[str, str] = {}

    def error_body(self, status: int) -> dict[str, Any]:
        return {"status": "error", "message": f"{status}", "messageDetail": "Error del servicio"}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v4/cfdi33/stamp/v4", self._stamp_endpoint, methods=["POST"]),
            Route("/cfdi33/cancel/{rfc}/{uuid}/{motivo}", self._cancel_endpoint, methods=["POST"]),
            Route(
                "/cfdi33/cancel/{rfc}/{uuid}/{motivo}/{substitute}",
                self._cancel_endpoint,
                methods=["POST"],
            ),
            Route("/_stamped", self._stamped_endpoint, methods=["GET"]),
        ]

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization", "") == f"Bearer {self.token}"

    async def _stamp_endpoint(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._answer(*_error("AU2000", "Token no válido", 401))
        async with request.form() as form:
            upload = form.get("xml")
            if upload is None or isinstance(upload, str):
                return self._answer(*_error("CFDI40100", "Falta el archivo xml"))
            raw = await upload.read()
        custom_id = request.headers.get("customid") or ""
        # Checking SAT's XSD takes CPU: off the event loop (the demo serves the app too).
        return self._answer(*await asyncio.to_thread(self.stamp, raw, custom_id))

    def _answer(self, status: int, body: dict[str, Any]) -> Response:
        return self.json_response(body, status)

    def stamp(self, raw: bytes, custom_id: str = "") -> tuple[int, dict[str, Any]]:
        """Check and stamp one sealed CFDI (the API's logic, callable from tests)."""
        if custom_id and custom_id in self.by_custom_id:
            return 200, self._success(self.by_custom_id[custom_id])
        try:
            document = CFDI.from_xml(etree.fromstring(raw))
            document.to_xml(validate=True)  # SAT's XSD
        except Exception as exc:  # noqa: BLE001 - any parse/XSD failure is the caller's
            return _error("CFDI40101", f"El XML no cumple el esquema: {str(exc)[:300]}")
        certificate = Certificate.load_certificate(base64.b64decode(document["Certificado"]))
        sello = base64.b64decode(document["Sello"])
        if not certificate.verify_sha256(document.cadena_original().encode(), sello):
            return _error("CFDI40102", "El resultado de la digestión debe ser igual al sello")
        if certificate.rfc != document["Emisor"]["Rfc"]:
            return _error("CFDI40103", "El RFC del emisor no corresponde al certificado")
        new_uuid = str(uuid_module.UUID(self.ids.digits(32), version=4)).upper()
        stamped_at = datetime.fromtimestamp(self.clock()).replace(microsecond=0)
        document.setdefault("Complemento", {})
        if not document["Complemento"]:
            document["Complemento"] = {}
        document["Complemento"]["TimbreFiscalDigital"] = _Timbre(
            self.signer, new_uuid, stamped_at, document["Sello"]
        )
        xml = document.xml_bytes().decode()
        self.stamped[new_uuid] = {
            "xml": xml,
            "rfc": document["Emisor"]["Rfc"],
            "status": "vigente",
            "fechaTimbrado": stamped_at.isoformat(),
        }
        if custom_id:
            self.by_custom_id[custom_id] = new_uuid
        return 200, self._success(new_uuid)

    def _success(self, stamped_uuid: str) -> dict[str, Any]:
        row = self.stamped[stamped_uuid]
        return {
            "status": "success",
            "data": {
                "uuid": stamped_uuid,
                "cfdi": row["xml"],
                "fechaTimbrado": row["fechaTimbrado"],
                "noCertificadoSAT": self.signer.certificate_number,
            },
        }

    async def _cancel_endpoint(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._answer(*_error("AU2000", "Token no válido", 401))
        params = request.path_params
        return self._answer(
            *self.cancel(params["rfc"], params["uuid"], params["motivo"], params.get("substitute"))
        )

    def cancel(
        self, rfc: str, stamped_uuid: str, motivo: str, substitute: str | None
    ) -> tuple[int, dict[str, Any]]:
        """SAT's cancellation rules as the PAC relays them."""
        row = self.stamped.get(stamped_uuid.upper())
        if row is None or row["rfc"] != rfc:
            return _error("CA2100", "UUID no encontrado para el RFC emisor", 404)
        if motivo not in ("01", "02", "03", "04"):
            return _error("CA2200", "Motivo de cancelación no válido")
        if motivo == "01" and not substitute:
            return _error("CA2300", "El motivo 01 requiere el folio de sustitución")
        code = "202" if row["status"] == "cancelado" else "201"
        row["status"] = "cancelado"
        acuse = (
            f'<Acuse Fecha="{datetime.fromtimestamp(self.clock()).isoformat()}" '
            f'RfcEmisor="{rfc}"><Folios><UUID>{stamped_uuid.upper()}</UUID>'
            f"<EstatusUUID>{code}</EstatusUUID><Motivo>{motivo}</Motivo></Folios></Acuse>"
        )
        return 200, {
            "status": "success",
            "data": {"acuse": acuse, "uuid": {stamped_uuid.upper(): code}},
        }

    async def _stamped_endpoint(self, request: Request) -> Response:
        return self.json_response(
            {"data": [{"uuid": k, "status": v["status"]} for k, v in self.stamped.items()]}
        )


create_pac_sandbox = sandbox_factory(PacSimulator)
