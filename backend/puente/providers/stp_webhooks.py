"""STP callbacks (abono, cambio de estado): authenticating and normalising them; pure functions.

STP does not sign its callbacks. What makes one trustworthy is *where it comes from*: STP calls
from a small set of addresses it tells each client during onboarding (UNCONFIRMED publicly,
so the list is configuration, ``webhook_allowlist``, a comma-separated list of CIDRs), and
Puente checks the connecting client's IP against it. On top of that Puente can require a
shared secret that it registers with STP as part of the callback URL's credentials:
``webhook_secret`` sent as HTTP Basic (``user:password``) in ``Authorization``, or verbatim in
another header named by ``webhook_secret_header``. Whether STP can send such credentials
depends on the contract with STP; if it cannot, use the allowlist alone.
With neither configured every callback is refused: an abono credits money.

There is no signed timestamp to bound replays, so duplicates are handled by dedupe on STP's
``id`` (the ``event_id``), and a body whose own ``tsLiquidacion`` is older than
``stale_after`` (default three days, long enough for STP's retries over a weekend outage) is
refused as stale. That is a sanity bound on the body, not a cryptographic guarantee.

Callback shapes (STP → Puente), told apart by their fields since both may share one URL:
* abono: ``{id, fechaOperacion, institucionOrdenante, institucionBeneficiaria, claveRastreo,
  monto, nombreOrdenante, cuentaOrdenante, cuentaBeneficiario, conceptoPago,
  referenciaNumerica, empresa, tsLiquidacion, ...}``; answer ``{"mensaje": "confirmar"}`` to
  keep it, or ``{"mensaje": "devolver", "id": <causa>}`` to send it back;
* cambio de estado: ``{id, empresa, folioOrigen, estado, causaDevolucion, tsLiquidacion?}``
  with ``estado`` Exito / Devuelto / Cancelado (older feeds: LIQUIDACION / DEVOLUCION).
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from puente.money import InvalidAmount
from puente.providers.answers import json_amount
from puente.providers.errors import InvalidSignature, MalformedWebhook, StaleSignature
from puente.providers.signatures import header_value, webhook_json
from puente.providers.timestamps import from_unix_millis
from puente.providers.values import EventKind, NormalisedEvent

__all__ = [
    "ABONO_CONFIRMAR",
    "ESTADO_RECIBIDO",
    "STALE_AFTER",
    "IPNetwork",
    "abono_devolver",
    "normalise_stp_callback",
    "parse_allowlist",
    "stp_basic_auth",
    "verify_stp_callback",
]

PROVIDER = "stp"
STALE_AFTER = 3 * 24 * 3600  # seconds
ABONO_CONFIRMAR: dict[str, Any] = {"mensaje": "confirmar"}
ESTADO_RECIBIDO: dict[str, Any] = {"mensaje": "recibido"}
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SUCCEEDED = {"exito", "éxito", "liquidacion", "liquidación", "liquidada", "lq"}
_FAILED = {
    "devuelto",
    "devolucion",
    "devolución",
    "d",
    "cancelado",
    "cancelacion",
    "cancelación",
    "cn",
    "rechazado",
    "rb",
}


def abono_devolver(causa: int) -> dict[str, Any]:
    """The answer that makes STP return an abono, with Banxico's causa de devolución."""
    return {"mensaje": "devolver", "id": causa}


def parse_allowlist(text: str | Sequence[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (``"10.0.0.0/8, 203.0.113.7"``) as networks; ``ValueError`` on a bad entry."""
    items = text.replace(";", ",").split(",") if isinstance(text, str) else list(text)
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def stp_basic_auth(secret: str) -> str:
    """The ``Authorization`` value for a ``user:password`` shared secret."""
    return "Basic " + base64.b64encode(secret.encode()).decode("ascii")


def _check_source(client_ip: str | None, allowlist: Sequence[IPNetwork]) -> None:
    if client_ip is None:
        raise InvalidSignature("the client IP is needed to check STP's allowlist")
    try:
        address = ipaddress.ip_address(client_ip.strip())
    except ValueError:
        raise InvalidSignature("the client IP is not an IP address") from None
    if not any(address in network for network in allowlist):
        raise InvalidSignature("STP callback from an address outside the allowlist")


def _check_secret(headers: Mapping[str, str], secret: str, secret_header: str) -> None:
    value = header_value(headers, secret_header)
    if not value:
        raise MalformedWebhook(f"missing {secret_header} header on an STP callback")
    expected = stp_basic_auth(secret) if secret_header.lower() == "authorization" else secret
    if not hmac.compare_digest(value.strip().encode(), expected.encode()):
        raise InvalidSignature("the STP callback credentials do not match")


def verify_stp_callback(
    raw_body: bytes,
    headers: Mapping[str, str],
    *,
    client_ip: str | None,
    allowlist: Sequence[IPNetwork] = (),
    secret: str | None = None,
    secret_header: str = "Authorization",
    now: datetime | None = None,
    stale_after: float = STALE_AFTER,
) -> NormalisedEvent:
    """Authenticate an STP callback (source IP and/or shared secret) and normalise it."""
    if not allowlist and not secret:
        raise InvalidSignature("no STP callback authentication configured; refusing callback")
    if allowlist:
        _check_source(client_ip, allowlist)
    if secret:
        _check_secret(headers, secret, secret_header)
    body = webhook_json(raw_body, what="STP callback body", decimals=True)
    event = normalise_stp_callback(body, now=now)
    settled = from_unix_millis(body.get("tsLiquidacion"))
    current = now or datetime.now(UTC)
    if settled is not None and stale_after and settled < current - timedelta(seconds=stale_after):
        raise StaleSignature(f"STP callback settled more than {stale_after:g}s ago")
    return event


def _occurred(body: Mapping[str, Any], now: datetime | None) -> datetime:
    settled = from_unix_millis(body.get("tsLiquidacion"))
    if settled is not None:
        return settled
    fecha = str(body.get("fechaOperacion") or "")
    if len(fecha) == 8 and fecha.isdigit():
        return datetime(int(fecha[:4]), int(fecha[4:6]), int(fecha[6:]), tzinfo=UTC)
    return now or datetime.now(UTC)


def _stp_id(body: Mapping[str, Any]) -> str:
    value = body.get("id")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return value
    raise MalformedWebhook("STP callback without a positive numeric id")


def _amount(value: Any) -> Decimal:
    try:
        return json_amount(value)
    except InvalidAmount:
        raise MalformedWebhook("STP abono without a valid monto") from None


def normalise_stp_callback(body: Any, *, now: datetime | None = None) -> NormalisedEvent:
    """An abono or cambio de estado as a ``NormalisedEvent``; other shapes are ``unknown``."""
    if not isinstance(body, Mapping):
        raise MalformedWebhook("STP callback body is not a JSON object")
    stp_id = _stp_id(body)
    event = partial(
        NormalisedEvent, provider=PROVIDER, occurred_at=_occurred(body, now), raw=dict(body)
    )
    if {"claveRastreo", "monto", "cuentaBeneficiario"} <= body.keys():
        return event(
            event_id=f"abono:{stp_id}",
            type="abono",
            kind=EventKind.TRANSFER_RECEIVED,
            provider_payment_id=stp_id,
            amount=_amount(body["monto"]),
        )
    if "estado" in body and "monto" not in body:
        estado = str(body.get("estado") or "")
        kind = EventKind.UNKNOWN
        if estado.lower() in _SUCCEEDED:
            kind = EventKind.TRANSFER_SUCCEEDED
        elif estado.lower() in _FAILED:
            kind = EventKind.TRANSFER_FAILED
        # Per estado: one order may settle and later come back (devolución extemporánea).
        return event(
            event_id=f"estado:{stp_id}:{estado}",
            type="cambio_estado",
            kind=kind,
            provider_payment_id=stp_id,
        )
    return event(event_id=f"stp:{stp_id}", type="unknown", kind=EventKind.UNKNOWN)
