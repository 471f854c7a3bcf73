"""Reading STP's answers (``resultado`` ids, order estados, conciliación rows); pure functions.

STP answers most business errors with HTTP 200 and ``{"resultado": {"id": <n ≤ 0>,
"descripcionError": "..."}}``; a positive ``id`` is the new order's id. The ids and their
texts below are the ones cuenca-mx/stpmex-python recognises (``client.py``); each maps to a
normalised error that keeps STP's id as ``provider_code`` and its text as the message.
The newer consulta services (``efws``) answer ``{"estado": 0, "mensaje", "respuesta"}`` and
``{"estado": 6, "mensaje": "No se encontraron datos relacionados"}`` (HTTP 400) when empty.

Amounts travel as JSON numbers. We read them with ``parse_float=Decimal`` so a float never
holds money, and write them through ``wire_amount``, the one place a ``Decimal`` becomes the
JSON number STP expects (checked exact, never rounded).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from puente.providers import values
from puente.providers.answers import error_body, json_amount, json_number
from puente.providers.errors import (
    AuthenticationError,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    error_for_status,
    reading_response,
)
from puente.providers.stp_tables import STP_TABLES
from puente.providers.timestamps import from_unix_millis
from puente.providers.values import MovementDirection, TransferStatus

__all__ = [
    "CAUSAS_DEVOLUCION",
    "MEXICO_CITY",
    "STP_ESTADOS",
    "clave_rastreo_for",
    "fecha_operacion",
    "referencia_numerica_for",
    "stp_efws_error",
    "stp_error",
    "stp_movement",
    "stp_resultado_error",
    "stp_transfer",
    "wire_amount",
]

PROVIDER = "stp"
MEXICO_CITY = ZoneInfo("America/Mexico_City")  # SPEI's operating day is Mexico City's

STP_ESTADOS = STP_TABLES.transfer_statuses
# Banxico's causas de devolución (SPEI catalogue); the ones a disbursement usually meets.
CAUSAS_DEVOLUCION: dict[int, str] = {
    1: "Cuenta inexistente",
    2: "Cuenta bloqueada",
    3: "Cuenta cancelada",
    5: "Cuenta en otra divisa",
    6: "Cuenta no pertenece al banco receptor",
    13: "Beneficiario no reconoce el pago",
    14: "Falta información mandatoria para completar el pago",
    15: "Tipo de pago erróneo",
    16: "Tipo de operación errónea",
    17: "Tipo de cuenta no corresponde",
}
_CLAVE_RASTREO = re.compile(r"[A-Za-z0-9]{1,30}")
CLAVE_RASTREO_PREFIX = "PTE"


def wire_amount(amount: Decimal) -> float:
    """``amount`` as the JSON float STP reads (``150.0``, as stpmex-python sends it)."""
    return float(json_number(amount))  # exactness proven by json_number; an int is exact


_amount = json_amount


def fecha_operacion(moment: datetime) -> str:
    """``YYYYMMDD`` of the SPEI operating day (Mexico City date) for ``moment``."""
    return moment.astimezone(MEXICO_CITY).strftime("%Y%m%d")


def clave_rastreo_for(idempotency_key: str) -> str:
    """The order's clave de rastreo: the key itself when it is one, else a digest of it.

    Deterministic on purpose: a retry must carry the same clave so STP refuses it (-1)
    instead of sending the money twice. STP wants it unique per operating day, ≤30 alphanumerics.
    """
    if _CLAVE_RASTREO.fullmatch(idempotency_key):
        return idempotency_key
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest().upper()
    return CLAVE_RASTREO_PREFIX + digest[:17]


def referencia_numerica_for(idempotency_key: str, given: str | None) -> int:
    """The referencia numérica (1…9,999,999): the caller's, or one derived from the key."""
    if given is not None:
        if not (given.isdigit() and 0 < int(given) <= 9_999_999):
            raise InvalidRequest("the referencia numérica must be 1 to 7 digits", provider=PROVIDER)
        return int(given)
    digest = int(hashlib.sha256(idempotency_key.encode()).hexdigest(), 16)
    return digest % 9_999_999 + 1


def stp_resultado_error(resultado: Mapping[str, Any], *, http_status: int = 200) -> ProviderError:
    """The normalised error for an STP ``resultado`` carrying ``descripcionError``."""
    code = resultado.get("id")
    message = str(resultado.get("descripcionError") or "STP refused the request")
    cls: type[ProviderError]
    if code == 0:
        if "firma" in message.lower():
            cls = AuthenticationError  # the body was not signed with the empresa's key
        elif "respuesta del servicio" in message.lower():
            cls = ProviderUnavailable  # STP's own upstream did not answer
        else:
            cls = InvalidRequest  # "El campo X es obligatorio"
    elif isinstance(code, int) and not isinstance(code, bool):
        cls = STP_TABLES.errors.get(code, InvalidRequest)
    else:
        cls = MalformedResponse
    return cls(
        message,
        provider=PROVIDER,
        provider_code=str(code),
        http_status=http_status,
        raw=dict(resultado),
    )


def stp_error(response: httpx.Response) -> ProviderError:
    """A non-2xx STP answer as a normalised error (``resultado``, ``efws`` or bare status)."""
    status = response.status_code
    body = error_body(response, decimals=True)
    resultado = body.get("resultado")
    if isinstance(resultado, Mapping) and "descripcionError" in resultado:
        return stp_resultado_error(resultado, http_status=status)
    if "estado" in body and "mensaje" in body:
        return stp_efws_error(body, http_status=status)
    return error_for_status(status, provider=PROVIDER, message=f"STP answered HTTP {status}")


def stp_efws_error(body: Mapping[str, Any], *, http_status: int = 200) -> ProviderError:
    """The normalised error for an ``efws`` answer whose ``estado`` is not 0."""
    message = str(body.get("mensaje") or "")
    cls: type[ProviderError] = NotFound if body.get("estado") == 6 else InvalidRequest
    if "firma" in message.lower():
        cls = AuthenticationError
    if http_status >= 500:
        cls = ProviderUnavailable
    return cls(
        message or "STP refused the consulta",
        provider=PROVIDER,
        provider_code=str(body.get("estado")),
        http_status=http_status,
        raw={k: str(v) if isinstance(v, Decimal) else v for k, v in body.items()},
    )


def _fecha(value: Any) -> datetime | None:
    text = str(value or "")
    if not re.fullmatch(r"\d{8}", text):
        return None
    day = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return datetime(day.year, day.month, day.day, tzinfo=MEXICO_CITY).astimezone(UTC)


def stp_transfer(orden: Mapping[str, Any]) -> values.SpeiTransfer:
    """An order from ``consultaOrden``/``conciliacion`` as a ``SpeiTransfer``."""
    with reading_response(PROVIDER, "orden"):
        estado = str(orden["estado"])
        status = STP_TABLES.transfer_status(estado, what="STP estado")
        order_id = orden.get("idEF", orden.get("id"))
        causa = orden.get("causaDevolucion")
        failure = None
        if status in (TransferStatus.RETURNED, TransferStatus.FAILED):
            failure = CAUSAS_DEVOLUCION.get(causa, f"causa {causa}") if causa else estado
        return values.SpeiTransfer(
            provider=PROVIDER,
            provider_id=str(int(order_id)),
            status=status,
            amount=_amount(orden["monto"]),
            clave_rastreo=str(orden["claveRastreo"]),
            raw_status=estado,
            failure_message=failure,
            raw=dict(orden),
        )


def stp_movement(orden: Mapping[str, Any], tipo_orden: str) -> values.BankMovement:
    """A conciliación row as a movement: ``E`` (enviada) a debit, ``R`` (recibida) a credit."""
    with reading_response(PROVIDER, "conciliación"):
        sent = tipo_orden == "E"
        when = (
            from_unix_millis(orden.get("tsLiquidacion"))
            or from_unix_millis(orden.get("tsCaptura"))
            or _fecha(orden.get("fechaOperacion"))
        )
        if when is None:
            raise MalformedResponse("conciliación row without a date", provider=PROVIDER)
        side = "Beneficiario" if sent else "Ordenante"
        reference = orden.get("referenciaNumerica")
        return values.BankMovement(
            provider=PROVIDER,
            provider_id=f"{tipo_orden}{int(orden.get('idEF', orden.get('id')))}",
            direction=MovementDirection.DEBIT if sent else MovementDirection.CREDIT,
            amount=_amount(orden["monto"]),
            occurred_at=when,
            clave_rastreo=str(orden.get("claveRastreo") or "") or None,
            counterparty_name=orden.get(f"nombre{side}"),
            counterparty_clabe=orden.get(f"cuenta{side}"),
            concept=orden.get("conceptoPago"),
            reference=str(reference) if reference not in (None, "") else None,
            raw=dict(orden),
        )
