"""STP callbacks: trusted by source IP and/or a shared secret, normalised, stale ones refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from tests.providers.test_stp import CREDENTIALS

from puente.providers.base import (
    EventKind,
    InvalidSignature,
    MalformedWebhook,
    ProviderConfig,
    StaleSignature,
)
from puente.providers.stp import StpConnector
from puente.providers.stp_webhooks import (
    ABONO_CONFIRMAR,
    abono_devolver,
    parse_allowlist,
    stp_basic_auth,
    verify_stp_callback,
)

NOW = datetime(2024, 5, 2, 18, 0, tzinfo=UTC)
TS = int(NOW.timestamp() * 1000) - 5000
ALLOW = parse_allowlist("10.20.0.0/16, 2001:db8::/32")
ABONO = {
    "id": 2581,
    "fechaOperacion": 20240502,
    "institucionOrdenante": 40012,
    "institucionBeneficiaria": 90646,
    "claveRastreo": "BB27726020704",
    "monto": 1500.5,
    "nombreOrdenante": "ANA LOPEZ GARCIA",
    "tipoCuentaOrdenante": 40,
    "cuentaOrdenante": "012180001234567899",
    "rfcCurpOrdenante": "ND",
    "nombreBeneficiario": "ESCUELA SA",
    "tipoCuentaBeneficiario": 40,
    "cuentaBeneficiario": "646180157000000004",
    "rfcCurpBeneficiario": "ND",
    "conceptoPago": "COLEGIATURA MAYO",
    "referenciaNumerica": 1234567,
    "empresa": "ESCUELA",
    "tipoPago": 1,
    "tsLiquidacion": TS,
}
ESTADO = {
    "id": 7000002,
    "empresa": "ESCUELA",
    "folioOrigen": "PTE1",
    "estado": "Devuelto",
    "causaDevolucion": 1,
}


def body(obj: object) -> bytes:
    return json.dumps(obj).encode()


def verify(raw: bytes, headers: dict[str, str] | None = None, **kwargs: object):
    options: dict[str, object] = {"client_ip": "10.20.3.4", "allowlist": ALLOW, "now": NOW}
    options.update(kwargs)
    return verify_stp_callback(raw, headers or {}, **options)  # type: ignore[arg-type]


def test_abono_from_an_allowed_address_is_a_received_transfer() -> None:
    event = verify(body(ABONO))
    assert event.kind is EventKind.TRANSFER_RECEIVED
    assert event.event_id == "abono:2581"  # dedupe key: STP's id
    assert event.amount == Decimal("1500.50")
    assert event.provider_payment_id == "2581"
    assert event.occurred_at == datetime.fromtimestamp(TS / 1000, UTC)


@pytest.mark.parametrize(
    ("estado", "kind"),
    [
        ("Exito", EventKind.TRANSFER_SUCCEEDED),
        ("LIQUIDACION", EventKind.TRANSFER_SUCCEEDED),
        ("Devuelto", EventKind.TRANSFER_FAILED),
        ("Cancelado", EventKind.TRANSFER_FAILED),
        ("ALGO_NUEVO", EventKind.UNKNOWN),
    ],
)
def test_cambio_de_estado_is_normalised_per_estado(estado: str, kind: EventKind) -> None:
    event = verify(body({**ESTADO, "estado": estado}))
    assert event.kind is kind
    assert event.event_id == f"estado:7000002:{estado}"
    assert event.provider_payment_id == "7000002"


def test_unknown_shapes_are_acknowledged_not_fatal() -> None:
    event = verify(body({"id": 9, "tipo": "nuevo"}))
    assert event.kind is EventKind.UNKNOWN and event.event_id == "stp:9"


@pytest.mark.parametrize("client_ip", ["203.0.113.9", None, "not-an-ip"])
def test_callbacks_from_outside_the_allowlist_are_refused(client_ip: str | None) -> None:
    with pytest.raises(InvalidSignature):
        verify(body(ABONO), client_ip=client_ip)


def test_ipv6_sources_are_checked_too() -> None:
    assert verify(body(ABONO), client_ip="2001:db8::7").kind is EventKind.TRANSFER_RECEIVED


def test_basic_auth_shared_secret() -> None:
    secret = "stp:callback-pass-123"
    good = {"Authorization": stp_basic_auth(secret)}
    assert verify(body(ABONO), good, allowlist=(), secret=secret).event_id == "abono:2581"
    with pytest.raises(InvalidSignature):
        verify(body(ABONO), {"Authorization": stp_basic_auth("stp:wrong")}, secret=secret)
    with pytest.raises(MalformedWebhook):
        verify(body(ABONO), {}, secret=secret)


def test_shared_secret_in_a_custom_header_and_allowlist_together() -> None:
    headers = {"x-puente-token": "tok_123456"}
    options = {"secret": "tok_123456", "secret_header": "X-Puente-Token"}
    assert verify(body(ESTADO), headers, **options).kind is EventKind.TRANSFER_FAILED
    with pytest.raises(InvalidSignature):  # right secret, wrong place
        verify(body(ESTADO), headers, client_ip="198.51.100.1", **options)


def test_nothing_configured_refuses_everything() -> None:
    with pytest.raises(InvalidSignature, match="no STP callback authentication"):
        verify(body(ABONO), allowlist=())


def test_an_old_body_is_stale_and_junk_is_malformed() -> None:
    with pytest.raises(StaleSignature):
        verify(body(ABONO), now=NOW + timedelta(days=4))
    with pytest.raises(MalformedWebhook):
        verify(b"not json")
    with pytest.raises(MalformedWebhook):
        verify(body({**ABONO, "id": None}))
    with pytest.raises(MalformedWebhook):
        verify(body({**ABONO, "monto": "mucho"}))


@pytest.mark.anyio
async def test_connector_uses_its_configured_allowlist_and_secret() -> None:
    connector = StpConnector(
        ProviderConfig(
            credentials={
                **CREDENTIALS,
                "webhook_allowlist": "10.20.0.0/16",
                "webhook_secret": "stp:pass-99",
            }
        )
    )
    headers = {"Authorization": stp_basic_auth("stp:pass-99")}
    event = await connector.verify_webhook(body(ABONO), headers, now=NOW, client_ip="10.20.0.1")
    assert event.kind is EventKind.TRANSFER_RECEIVED
    with pytest.raises(InvalidSignature):
        await connector.verify_webhook(body(ABONO), headers, now=NOW)  # no client IP given


def test_replies_stp_understands() -> None:
    assert ABONO_CONFIRMAR == {"mensaje": "confirmar"}
    assert abono_devolver(1) == {"mensaje": "devolver", "id": 1}
