"""The PAC connector: a sealed CFDI goes out, a stamped one (TimbreFiscalDigital 1.1) comes back.

Speaks SW sapien's REST API (SmarterWEB, Luna Soft, RFC LSO1306189R5), as documented at
developers.sw.com.mx and implemented by ``satcfdi.pacs.swsapien``:

* ``POST /v4/cfdi33/stamp/v4`` — multipart file ``xml``, ``Authorization: Bearer <token>``;
  answers ``{"status": "success", "data": {"uuid", "cfdi", "fechaTimbrado", …}}``, or
  ``{"status": "error", "message": "CFDI40…", "messageDetail": …}`` with a 4xx.
* ``POST /cfdi33/cancel/{rfc}/{uuid}/{motivo}[/{folioSustitucion}]`` — cancellation with one of
  SAT's reasons (01–04) by the CSD already loaded at SW; answers ``data.acuse`` and
  ``data.uuid[UUID]`` (201 request received, 202 previously cancelled).

The host is configurable (``PUENTE_PAC_BASE_URL``; SW's test host by default, the built-in
simulator in ``puente demo``), and so is the transport (tests pass an ASGI one).

Exceptions::

    PacError
     ├── PacUnavailable   network, timeout, 5xx, 429: try again later
     └── PacRefused       the PAC refused the document: retrying the same XML will not help
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import httpx

__all__ = [
    "SW_TEST_HOST",
    "CancelReason",
    "Pac",
    "PacError",
    "PacRefused",
    "PacUnavailable",
    "Stamped",
    "SwSapienPac",
]

SW_TEST_HOST = "https://services.test.sw.com.mx"


class PacError(Exception):
    """Base of PAC failures; ``message`` is safe to store and show staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PacUnavailable(PacError):
    """The PAC could not be reached or failed on its side."""


class PacRefused(PacError):
    """The PAC refused the document (its code and text in ``message``)."""


class CancelReason(StrEnum):
    """SAT's motivos de cancelación (Anexo 20, RMF 2.7.1.47)."""

    WITH_ERRORS_RELATED = "01"  # comprobante emitido con errores con relación (needs substitute)
    WITH_ERRORS_UNRELATED = "02"  # comprobante emitido con errores sin relación
    NOT_CARRIED_OUT = "03"  # no se llevó a cabo la operación
    GLOBAL_NOMINATIVE = "04"  # operación nominativa relacionada en una factura global


@dataclass(frozen=True, slots=True)
class Stamped:
    uuid: str
    xml: bytes


class Pac(Protocol):
    async def stamp(self, xml: bytes, *, reference: str) -> Stamped: ...

    async def cancel(
        self, rfc: str, uuid: str, reason: CancelReason, substitute_uuid: str | None = None
    ) -> str: ...


class SwSapienPac:
    """SW sapien over HTTP (a long-lived token, as SW issues for integrations)."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = SW_TEST_HOST,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "puente"},
        )

    def __repr__(self) -> str:
        return f"<SwSapienPac {self._client.base_url}>"  # never the token

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _post(self, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._client.post(path, **kwargs)
        except httpx.HTTPError as exc:
            raise PacUnavailable(f"PAC inalcanzable: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code in (401, 408, 429):
            raise PacUnavailable(f"PAC respondió {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise PacUnavailable(f"PAC respondió {response.status_code} sin JSON") from exc
        if response.is_success and body.get("status") == "success":
            data: dict[str, Any] = body.get("data") or {}
            return data
        detail = " ".join(str(body.get(k) or "") for k in ("message", "messageDetail")).strip()
        raise PacRefused(detail[:480] or f"PAC respondió {response.status_code}")

    async def stamp(self, xml: bytes, *, reference: str) -> Stamped:
        """Stamp a sealed CFDI; ``reference`` goes as SW's ``customid`` (their idempotency key:
        the same id stamped twice returns the first stamp)."""
        data = await self._post(
            "/v4/cfdi33/stamp/v4",
            files={"xml": ("xml", xml, "text/xml")},
            headers={"customid": reference},
        )
        try:
            return Stamped(uuid=str(data["uuid"]).upper(), xml=str(data["cfdi"]).encode())
        except KeyError as exc:
            raise PacUnavailable("Respuesta del PAC sin uuid o cfdi") from exc

    async def cancel(
        self, rfc: str, uuid: str, reason: CancelReason, substitute_uuid: str | None = None
    ) -> str:
        """Ask SAT (through the PAC) to cancel; returns the acuse XML."""
        if reason is CancelReason.WITH_ERRORS_RELATED and not substitute_uuid:
            raise PacRefused("El motivo 01 requiere el folio fiscal que sustituye al cancelado.")
        path = f"/cfdi33/cancel/{rfc}/{uuid.upper()}/{reason.value}"
        if substitute_uuid:
            path += f"/{substitute_uuid.upper()}"
        data = await self._post(path)
        return str(data.get("acuse") or "")
