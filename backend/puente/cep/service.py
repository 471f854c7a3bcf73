"""Validating every SPEI received against Banxico's CEP (service).

After a SPEI payment lands (STP abono, or a gateway's SPEI), the fiscal worker opens a
``CepCheck`` with what identifies the transfer at Banxico — read from the provider's own
notification as stored by the webhook inbox — and asks Banxico (``cep/banxico.py``). Found:
the CEP XML is kept (encrypted) as evidence, its ordenante is recorded, and the worker
monitors the payment again so the AML rule "CEP ordenante different from the borrower"
sees it (``compliance/monitoring_service._fact`` reads the check). Not
found *yet* is normal (Banxico publishes CEPs with a delay): retried with backoff, and after
the last retry the check is ``NO_ENCONTRADO`` for staff — never an alert, never fraud.
A provider that does not tell us the clave de rastreo gives ``SIN_DATOS``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from tortoise.exceptions import IntegrityError

from puente.cep.banxico import CepFound, CepNotYet, CepQuery, CepUnavailable
from puente.cep.models import CepCheck, CepStatus
from puente.enums import PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.money import parse_amount, to_centavos
from puente.payments.models import Payment
from puente.runtime import Runtime, mexico_city_date
from puente.webhooks.models import ProviderEvent
from puente.webhooks.storage import stored_body

__all__ = [
    "CEP_XML_CONTEXT",
    "CepLookup",
    "cep_query_from_event",
    "cep_xml",
    "check_due_ceps",
    "open_cep_checks",
    "run_cep",
]

CEP_XML_CONTEXT = "cep.xml"
STP_PARTICIPANT = "90646"  # STP's SPEI participant code: the receptor of every abono
# Seconds to the next question after the n-th "not yet"; after the last, NO_ENCONTRADO.
BACKOFF = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)
RECEIVED = (S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED, S.CHARGED_BACK)


class CepLookup(Protocol):
    async def lookup(self, query: CepQuery) -> CepFound: ...


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _stp_query(body: dict[str, Any]) -> CepQuery:
    day = str(body["fechaOperacion"])
    return CepQuery(
        fecha=date(int(day[:4]), int(day[4:6]), int(day[6:8])),
        clave_rastreo=str(body["claveRastreo"]),
        emisor=f"{int(body['institucionOrdenante']):05d}",
        receptor=f"{int(body.get('institucionBeneficiaria') or STP_PARTICIPANT):05d}",
        cuenta=str(body["cuentaBeneficiario"]),
        monto_centavos=to_centavos(parse_amount(str(body["monto"]))),
    )


# Gateways that receive SPEI for us name the tracking key differently when they pass it on.
_TRACKING_KEYS = ("clave_rastreo", "claveRastreo", "tracking_key", "tracking_code")
_SENDER_BANK_KEYS = ("sender_bank_code", "institucion_ordenante", "emisor")
_RECEIVER_BANK_KEYS = ("receiver_bank_code", "institucion_beneficiaria", "receptor")
_ACCOUNT_KEYS = ("clabe", "beneficiary_account", "cuenta_beneficiario")


def cep_query_from_event(
    provider: ProviderName, body: dict[str, Any], amount_centavos: int, day: date
) -> CepQuery | None:
    """What to ask Banxico, from a provider's notification of a received SPEI; None when the
    notification does not carry the clave de rastreo and both banks (``SIN_DATOS``)."""
    if provider is ProviderName.STP:
        try:
            return _stp_query(body)
        except (KeyError, ValueError, TypeError):
            return None
    found: dict[str, str] = {}
    for key, value in _walk(body):
        if isinstance(value, (str, int)) and str(value):
            found.setdefault(key, str(value))
    clave = next((found[k] for k in _TRACKING_KEYS if k in found), None)
    emisor = next((found[k] for k in _SENDER_BANK_KEYS if k in found), None)
    receptor = next((found[k] for k in _RECEIVER_BANK_KEYS if k in found), None)
    cuenta = next((found[k] for k in _ACCOUNT_KEYS if k in found), None)
    if not (clave and emisor and receptor and cuenta):
        return None
    return CepQuery(day, clave, emisor.zfill(5), receptor.zfill(5), cuenta, amount_centavos)


async def _query_for(runtime: Runtime, payment: Payment) -> CepQuery | None:
    provider = ProviderName(payment.provider)
    reference = payment.provider_reference or ""
    if provider is ProviderName.STP:
        events = ProviderEvent.filter(provider=provider, event_id=reference)
    else:
        events = ProviderEvent.filter(provider=provider, provider_payment_id=reference)
    day = mexico_city_date(payment.paid_at or payment.updated_at)
    for event in await events.order_by("-id"):
        try:
            body = json.loads(stored_body(runtime, event))
        except ValueError:
            continue
        query = cep_query_from_event(provider, body, payment.amount_centavos, day)
        if query is not None:
            return query
    return None


async def open_cep_checks(runtime: Runtime) -> int:
    """A check for every SPEI received that has none yet; returns how many were opened."""
    checked = await CepCheck.all().values_list("payment_id", flat=True)
    opened = 0
    for payment in await Payment.filter(
        method=PaymentMethodType.SPEI, status__in=list(RECEIVED), id__not_in=list(checked)
    ):
        query = await _query_for(runtime, payment)
        try:
            await CepCheck.create(
                institution_id=payment.institution_id,
                payment_id=payment.id,
                status=CepStatus.PENDING if query else CepStatus.NO_DATA,
                query=query.as_dict() if query else None,
            )
        except IntegrityError:
            continue  # another worker opened it
        opened += 1
    return opened


async def check_due_ceps(
    runtime: Runtime, lookup: CepLookup, *, now: datetime | None = None
) -> list[int]:
    """Ask Banxico about every pending check that is due; returns the payments whose CEP was
    validated now (the caller monitors them again: AML sees the ordenante)."""
    now = now or runtime.now()
    validated = []
    for check in await CepCheck.filter(status=CepStatus.PENDING).order_by("id"):
        if check.next_attempt_at is not None and check.next_attempt_at > now:
            continue
        if await _ask(runtime, lookup, check, now):
            validated.append(check.payment_id)
    return validated


async def _ask(runtime: Runtime, lookup: CepLookup, check: CepCheck, now: datetime) -> bool:
    """One question to Banxico; True when the CEP came back."""
    query = CepQuery.from_dict(check.query or {})
    check.attempts += 1
    check.checked_at = now
    try:
        found = await lookup.lookup(query)
    except (CepNotYet, CepUnavailable) as exc:
        not_yet = isinstance(exc, CepNotYet)
        check.last_error = ("No encontrado aún" if not_yet else "Banxico no disponible")[:300]
        if check.attempts > len(BACKOFF):
            check.status = CepStatus.NOT_FOUND if not_yet else CepStatus.PENDING
        delay = BACKOFF[min(check.attempts, len(BACKOFF)) - 1]
        check.next_attempt_at = now + timedelta(seconds=delay)
        await check.save()
        return False
    check.status = CepStatus.VALIDATED
    check.xml_enc = runtime.cipher.encrypt(found.xml.decode(), context=CEP_XML_CONTEXT)
    check.ordenante_name = found.ordenante_name[:120]
    check.ordenante_rfc = found.ordenante_rfc[:18]
    check.last_error = ""
    await check.save()
    return True


async def run_cep(runtime: Runtime, lookup: CepLookup) -> list[int]:
    """The fiscal worker's CEP step: open what is missing, ask what is due."""
    await open_cep_checks(runtime)
    return await check_due_ceps(runtime, lookup)


def cep_xml(runtime: Runtime, check: CepCheck) -> bytes | None:
    """The stored CEP XML (decrypted), or None before Banxico returned it."""
    if not check.xml_enc:
        return None
    return runtime.cipher.decrypt(check.xml_enc, context=CEP_XML_CONTEXT).encode()
