"""STP connector: SPEI disbursements (registra orden), consultas, saldo and callbacks.

STP (Sistema de Transferencias y Pagos, SPEI participant 90646) is how a fintech without a
banking licence sends and receives SPEI. Its API is JSON over HTTPS with no auth header: every
request carries ``empresa`` (the client name STP assigned) and a ``firma``, an RSA signature of
the request's cadena original (``stp_firma.py``). Orders go to ``PUT
{host}/speiws/rest/ordenPago/registra``; consultas to the newer ``efws`` services. Paths follow
cuenca-mx/stpmex-python and stay configurable through ``StpPaths`` (the demo environment uses
other hosts: ``StpPaths.demo()``).

Idempotency: STP has no idempotency header. The clave de rastreo is the idempotency key
(``clave_rastreo_for``): STP refuses a clave already used that operating day with ``-1``, and
the connector then looks the order up and returns it, so a retried disbursement never sends
money twice. Across operating days the clave is free again: a caller resuming an attempt whose
outcome is unknown on a later day must ``get_transfer`` first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from puente.identifiers import ClabeInfo, mask_clabe
from puente.providers import values
from puente.providers.base import (
    Bank,
    InvalidRequest,
    NotFound,
    ProviderConfig,
    ProviderConfigError,
    ProviderError,
    TransferStatus,
    reading_response,
)
from puente.providers.catalogue import STP
from puente.providers.stp_firma import (
    cadena_conciliacion,
    cadena_consulta_orden,
    cadena_orden,
    cadena_saldo,
    load_private_key,
    sign_cadena,
)
from puente.providers.stp_mapping import (
    MEXICO_CITY,
    clave_rastreo_for,
    referencia_numerica_for,
    stp_efws_error,
    stp_error,
    stp_movement,
    stp_resultado_error,
    stp_transfer,
    wire_amount,
)
from puente.providers.stp_webhooks import parse_allowlist, verify_stp_callback

__all__ = ["STP_INSTITUTION", "StpConnector", "StpPaths"]

STP_INSTITUTION = "90646"  # STP's SPEI participant code, our institucionOperante
_PAGE = 1000  # conciliación V2 pages hold 1000 rows
_MAX_DAYS = 93  # conciliación is asked day by day; a quarter is plenty for reconciliation
_NOT_MOVED = {"D", "CN", "RB", "RE"}  # returned or rejected: no money stayed moved


@dataclass(frozen=True, slots=True)
class StpPaths:
    """Where each STP service lives; relative to the base URL, or absolute."""

    registra: str = "/speiws/rest/ordenPago/registra"
    consulta_orden: str = "/efws/API/consultaOrden"
    conciliacion: str = "/efws/API/V2/conciliacion"
    saldo: str = "/efws/API/consultaSaldoCuenta"  # UNCONFIRMED: seen in integrations only

    @classmethod
    def demo(cls) -> StpPaths:
        """STP's test environment, whose dispersión and consulta hosts differ."""
        efws = "https://efws-dev.stpmex.com/efws/API"
        return cls(
            registra="https://demo.stpmex.com:7024/speiws/rest/ordenPago/registra",
            consulta_orden=f"{efws}/consultaOrden",
            conciliacion=f"{efws}/V2/conciliacion",
            saldo=f"{efws}/consultaSaldoCuenta",
        )


def _clip(text: str, limit: int) -> str:
    # STP's fields have hard lengths (nombre and concepto 39 in stpmex-python); cut, not refuse.
    return " ".join(text.split())[:limit]


class StpConnector(Bank):
    """STP over its REST services, signed with the empresa's RSA key."""

    spec = STP
    default_base_url = "https://prod.stpmex.com"
    idempotency_header = None  # the clave de rastreo is the idempotency key
    callback_stale_after: float = 3 * 24 * 3600
    json_decimals = True  # ``monto`` is a JSON number
    parse_error = staticmethod(stp_error)

    def __init__(
        self, config: ProviderConfig, *, paths: StpPaths | None = None, **kwargs: Any
    ) -> None:
        super().__init__(config, **kwargs)
        self.paths = paths or StpPaths()
        creds = config.credentials
        try:
            self._key = load_private_key(
                creds["private_key_pem"], creds.get("private_key_passphrase") or None
            )
        except ValueError as exc:
            raise ProviderConfigError(f"stp: {exc}") from None
        try:
            self._allowlist = parse_allowlist(creds.get("webhook_allowlist", ""))
        except ValueError:
            raise ProviderConfigError("stp: webhook_allowlist has an invalid CIDR") from None
        self.empresa = creds["empresa"]
        self.cuenta = creds["cuenta"]

    def _firma(self, cadena: str) -> str:
        return sign_cadena(self._key, cadena)

    def _scrubbed(self, error: ProviderError) -> ProviderError:
        """Redact an error STP sent with HTTP 200, as the HTTP layer does for the rest."""
        error.provider_message = self.http.redact(error.provider_message)
        error.args = (error.provider_message,)
        error.raw = self.http.redact.scrub(error.raw)
        return error

    # -- calls ------------------------------------------------------------------------------
    async def _efws(self, path: str, body: dict[str, Any]) -> Mapping[str, Any]:
        """A consulta (safe to repeat): the decoded answer; a non-zero ``estado`` raises."""
        answer = await self.call("POST", path, json=body, idempotent=True, expect_object=True)
        if answer.get("estado", 0) != 0:
            raise self._scrubbed(stp_efws_error(answer))
        return answer

    async def send_spei(self, request: values.SpeiTransferRequest) -> values.SpeiTransfer:
        account = self.beneficiary_clabe(request.clabe, "clabe")
        creds = self.config.credentials
        clave = clave_rastreo_for(request.idempotency_key)
        orden: dict[str, Any] = {
            "institucionContraparte": account.spei_code,
            "empresa": self.empresa,
            "claveRastreo": clave,
            "institucionOperante": STP_INSTITUTION,
            "monto": request.amount,
            "tipoPago": 1,  # tercero a tercero
            "tipoCuentaOrdenante": 40,  # CLABE
            "nombreOrdenante": _clip(creds.get("nombre_ordenante") or "", 39) or None,
            "cuentaOrdenante": self.cuenta,
            "rfcCurpOrdenante": creds.get("rfc_curp_ordenante") or None,
            "tipoCuentaBeneficiario": 40,
            "nombreBeneficiario": _clip(request.beneficiary_name, 39),
            "cuentaBeneficiario": account.clabe,
            "rfcCurpBeneficiario": request.beneficiary_rfc or "ND",  # ND: no disponible
            "conceptoPago": _clip(request.concept, 39) or "Transferencia",
            "referenciaNumerica": referencia_numerica_for(
                request.idempotency_key, request.reference
            ),
            "topologia": "T",
            "medioEntrega": 3,
            "prioridad": 1,
        }
        firma = self._firma(cadena_orden(orden))
        body = {k: v for k, v in orden.items() if v not in (None, "")}
        body["monto"] = wire_amount(request.amount)
        body["firma"] = firma
        # Safe to retry: a repeat carries the same clave and STP refuses it (-1), see below.
        answer = await self.call("PUT", self.paths.registra, json=body, idempotent=True)
        with reading_response(self.name, "registra"):
            resultado = answer["resultado"]
            order_id = resultado["id"]
        if "descripcionError" in resultado or not isinstance(order_id, int) or order_id <= 0:
            error = self._scrubbed(stp_resultado_error(resultado))
            if error.provider_code == "-1":
                return await self._already_registered(clave, request, error)
            raise error
        return values.SpeiTransfer(
            provider=self.name,
            provider_id=str(order_id),
            status=TransferStatus.PENDING,
            amount=request.amount,
            clave_rastreo=clave,
            raw_status="registrada",
            raw=_plain(answer),
        )

    async def _already_registered(
        self, clave: str, request: values.SpeiTransferRequest, error: ProviderError
    ) -> values.SpeiTransfer:
        """The order a retry collided with: ours if amount and account match."""
        try:
            existing = await self.get_transfer(clave)
        except NotFound:
            raise error from None
        if existing.amount != request.amount or existing.raw.get("cuentaBeneficiario") not in (
            None,
            request.clabe,
        ):
            raise InvalidRequest(
                "this clave de rastreo was used today by a different order",
                provider=self.name,
                provider_code="-1",
            )
        return existing

    async def get_transfer(
        self, clave_rastreo: str, *, fecha: date | None = None, tipo_orden: str = "E"
    ) -> values.SpeiTransfer:
        """An order by clave de rastreo (``E`` enviada, ``R`` recibida); today when no date."""
        fecha_text = fecha.strftime("%Y%m%d") if fecha else ""
        body: dict[str, Any] = {
            "empresa": self.empresa,
            "claveRastreo": clave_rastreo,
            "tipoOrden": tipo_orden,
        }
        if fecha_text:
            body["fechaOperacion"] = fecha_text
        body["firma"] = self._firma(
            cadena_consulta_orden(self.empresa, clave_rastreo, tipo_orden, fecha_text)
        )
        answer = await self._efws(self.paths.consulta_orden, body)
        with reading_response(self.name, "consultaOrden"):
            return stp_transfer(answer["respuesta"])

    async def get_balance(self) -> values.BankBalance:
        body = {
            "empresa": self.empresa,
            "cuentaOrdenante": self.cuenta,
            "firma": self._firma(cadena_saldo(self.empresa, self.cuenta)),
        }
        answer = await self._efws(self.paths.saldo, body)
        with reading_response(self.name, "consultaSaldoCuenta"):
            saldo = answer.get("respuesta", answer)
            ledger = Decimal(saldo["saldo"]).quantize(Decimal("0.01"))
            pending = Decimal(saldo.get("cargosPendientes") or 0).quantize(Decimal("0.01"))
            return values.BankBalance(
                provider=self.name,
                account=mask_clabe(self.cuenta),
                # Money promised to registered, unsettled orders cannot be sent again.
                available=ledger - pending,
                ledger=ledger,
                as_of=datetime.now(UTC),
                raw=_plain(answer),
            )

    async def _conciliacion(self, tipo_orden: str, fecha: str) -> list[Mapping[str, Any]]:
        rows: list[Mapping[str, Any]] = []
        page = 0
        while True:
            body = {
                "empresa": self.empresa,
                "page": page,
                "tipoOrden": tipo_orden,
                "fechaOperacion": fecha,
                "firma": self._firma(cadena_conciliacion(self.empresa, tipo_orden, fecha)),
            }
            try:
                answer = await self._efws(self.paths.conciliacion, body)
            except NotFound:
                return rows  # "No se encontraron datos relacionados": a quiet day
            with reading_response(self.name, "conciliacion"):
                rows.extend(row for row in answer["datos"] if row)
                if int(answer["total"]) <= _PAGE * (page + 1):
                    return rows
            page += 1

    async def list_movements(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[values.BankMovement]:
        end = until or datetime.now(UTC)
        first, last = since.astimezone(MEXICO_CITY).date(), end.astimezone(MEXICO_CITY).date()
        if (last - first).days > _MAX_DAYS:
            raise InvalidRequest(
                f"ask STP for at most {_MAX_DAYS} days of movements at a time", provider=self.name
            )
        today = datetime.now(UTC).astimezone(MEXICO_CITY).date()
        movements: list[values.BankMovement] = []
        day = first
        while day <= last:
            # STP wants no fechaOperacion for the current operating day, a date for past ones.
            fecha = "" if day >= today else day.strftime("%Y%m%d")
            for tipo in ("E", "R"):
                for row in await self._conciliacion(tipo, fecha):
                    estado = str(row.get("estado") or "")
                    if estado in _NOT_MOVED or (tipo == "E" and estado != "LQ"):
                        continue
                    movement = stp_movement(row, tipo)
                    if since <= movement.occurred_at <= end:
                        movements.append(movement)
            day += timedelta(days=1)
        return sorted(movements, key=lambda m: m.occurred_at)

    async def account_holder(
        self, account: ClabeInfo, *, name: str | None, rfc: str | None
    ) -> values.AccountHolder:
        """STP offers no holder lookup for other banks' accounts: the CLABE itself is checked."""
        return values.AccountHolder(clabe=account.clabe, valid=True, bank_name=account.bank_name)

    async def authenticate_webhook(
        self, delivery: values.WebhookDelivery
    ) -> values.NormalisedEvent:
        """Authenticate an STP callback by source IP and/or shared secret (``stp_webhooks``)."""
        creds = self.config.credentials
        return verify_stp_callback(
            delivery.raw_body,
            delivery.headers,
            client_ip=delivery.client_ip,
            allowlist=self._allowlist,
            secret=creds.get("webhook_secret") or None,
            secret_header=creds.get("webhook_secret_header") or "Authorization",
            now=delivery.now,
            stale_after=self.callback_stale_after,
        )


def _plain(value: Any) -> Any:
    """JSON-ready copy (Decimals as strings) for ``raw`` fields and rebuilt error bodies."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Decimal) else value
