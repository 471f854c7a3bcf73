"""Validating every SPEI received against Banxico's CEP (service).

After a SPEI payment lands (STP abono, or a gateway's SPEI), the fiscal worker opens a
``CepCheck`` with what identifies the transfer at Banxico — read from the provider's own
notification as stored by the webhook inbox — and asks Banxico (``cep/banxico.py``). Found:
the CEP XML is kept (encrypted) as evidence, its ordenante is recorded, and the worker
monitors the payment again so the AML rule "CEP ordenante different from the borrower"
sees it (``compliance/monitoring_service._fact`` reads the check). Not
found *yet* is normal (Banxico publishes CEPs with a delay): retried with backoff, and after
the last retry the check is ``NO_ENCONTRADO`` for staff — never an alert, never fraud.
Gateways (Stripe, Openpay, Mercado Pago) keep the clave de rastreo where their spec says
(``providers/spei_tracking.py``, UNCONFIRMED paths, overridable per institution); a
provider that does not tell us the clave de rastreo gives ``SIN_DATOS``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from tortoise.exceptions import IntegrityError

from puente.cep.banxico import CepFound, CepNotYet, CepQuery, CepUnavailable
from puente.cep.models import CepCheck, CepStatus
from puente.enums import PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.money import parse_amount, to_centavos
from puente.payments.models import Payment
from puente.providers.registry import provider_spec
from puente.providers.spei_tracking import SpeiTrackingPaths, read_spei_transfer
from puente.providers.values import ProviderPayment, ReceivedSpei
from puente.runtime import Runtime, mexico_city_date
from puente.webhooks.models import ProviderEvent
from puente.webhooks.storage import stored_body

__all__ = [
    "CEP_XML_CONTEXT",
    "CepLookup",
    "ProviderPayments",
    "cep_query_from_event",
    "cep_xml",
    "check_due_ceps",
    "open_cep_checks",
    "query_from_transfer",
    "run_cep",
]

logger = logging.getLogger("puente.cep")
CEP_XML_CONTEXT = "cep.xml"
STP_PARTICIPANT = "90646"  # STP's SPEI participant code: the receptor of every abono
# Seconds to the next question after the n-th "not yet"; after the last, NO_ENCONTRADO.
BACKOFF = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)
RECEIVED = (S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED, S.CHARGED_BACK)


class CepLookup(Protocol):
    async def lookup(self, query: CepQuery) -> CepFound: ...


# The gateway's current view of a Puente payment (``connector.get_payment``), or None.
ProviderPayments = Callable[[Payment], Awaitable[ProviderPayment | None]]


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
    provider: str, body: dict[str, Any], amount_centavos: int, day: date
) -> CepQuery | None:
    """What to ask Banxico, from a provider's notification of a received SPEI; None when the
    notification does not carry the clave de rastreo and both banks (``SIN_DATOS``)."""
    if provider == ProviderName.STP:
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


def query_from_transfer(
    transfer: ReceivedSpei | None, amount_centavos: int, day: date
) -> CepQuery | None:
    """What to ask Banxico about a gateway's normalised SPEI (``ProviderPayment.spei``)."""
    if transfer is None or not transfer.complete:
        return None
    assert transfer.sender_bank and transfer.receiver_bank and transfer.beneficiary_account
    return CepQuery(
        day,
        transfer.clave_rastreo,
        transfer.sender_bank,
        transfer.receiver_bank,
        transfer.beneficiary_account,
        amount_centavos,
    )


def _objects(body: Any) -> list[dict[str, Any]]:
    """The provider objects a stored notification carries (Stripe ``data.object``,
    Openpay ``transaction``, Conekta's order and its charges, or the body itself)."""
    if not isinstance(body, dict):
        return []
    found = [body]
    data = body.get("data")
    if isinstance(data, dict) and isinstance(data.get("object"), dict):
        found.insert(0, data["object"])
    if isinstance(body.get("transaction"), dict):
        found.insert(0, body["transaction"])
    for obj in list(found):  # an order's charges, the last first (Conekta)
        charges = obj.get("charges")
        if isinstance(charges, dict) and isinstance(charges.get("data"), list):
            found[:0] = [c for c in reversed(charges["data"]) if isinstance(c, dict)]
    return found


async def _bodies(runtime: Runtime, events: Any) -> list[Any]:
    bodies = []
    for event in await events.order_by("-id"):
        try:
            bodies.append(json.loads(stored_body(runtime, event)))
        except ValueError:
            continue
    return bodies


async def _stripe_funding(
    runtime: Runtime, payment: Payment, objects: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Stripe keeps the transfer on the customer's cash balance, not on the PaymentIntent:
    the ``funded`` transactions of the PaymentIntent's customer, the likeliest first."""
    intent = next((o for o in objects if o.get("object") == "payment_intent"), {})
    customer = intent.get("customer")
    if not customer:
        return []
    events = ProviderEvent.filter(
        provider=ProviderName.STRIPE,
        institution_id=payment.institution_id,
        event_type="customer_cash_balance_transaction.created",
    )
    funded = [
        obj
        for body in await _bodies(runtime, events)
        for obj in _objects(body)[:1]
        if obj.get("type") == "funded" and obj.get("customer") == customer
    ]
    # Of the PaymentIntent's amount first, then the first one after the PaymentIntent was
    # created (the payer transfers once it shows the CLABE).
    created = intent.get("created") or 0
    funded.sort(
        key=lambda obj: (
            obj.get("net_amount") != payment.amount_centavos,
            (obj.get("created") or 0) < created,
            obj.get("created") or 0,
        )
    )
    return funded


async def _query_for(runtime: Runtime, payment: Payment) -> CepQuery | None:
    provider = str(payment.provider)
    reference = payment.provider_reference or ""
    if provider == ProviderName.STP:
        events = ProviderEvent.filter(provider=provider, event_id=reference)
    else:
        events = ProviderEvent.filter(provider=provider, provider_payment_id=reference)
    day = mexico_city_date(payment.paid_at or payment.updated_at)
    bodies = await _bodies(runtime, events)
    paths = await _tracking_paths(payment)
    if paths is not None:
        objects = [obj for body in bodies for obj in _objects(body)]
        if provider == ProviderName.STRIPE:
            objects = await _stripe_funding(runtime, payment, objects) + objects
        transfer = read_spei_transfer(paths, *objects)
        query = query_from_transfer(transfer, payment.amount_centavos, day)
        if query is not None:
            return query
    for body in bodies:
        query = cep_query_from_event(provider, body, payment.amount_centavos, day)
        if query is not None:
            return query
    return None


async def _tracking_paths(payment: Payment) -> SpeiTrackingPaths | None:
    """The provider spec's paths, with the institution's own where it set them
    (``Institution.settings["spei_tracking"][provider]``: the UNCONFIRMED ones)."""
    try:
        spec = provider_spec(str(payment.provider))
    except KeyError:
        return None
    paths = spec.spei_tracking
    if paths is None:
        return None
    institution = await Institution.get(id=payment.institution_id)
    own: dict[str, Any] = (institution.settings or {}).get("spei_tracking") or {}
    override = own.get(str(payment.provider))
    return paths.overridden(override) if isinstance(override, dict) else paths


async def _asked_provider(
    payment: Payment, payments: ProviderPayments, paths: SpeiTrackingPaths | None
) -> CepQuery | None:
    """The gateway's own answer about the payment (its normalised ``spei``), for gateways
    whose notifications do not carry the payment (Mercado Pago: only ``data.id``)."""
    if paths is None or not payment.provider_reference:
        return None
    current = await payments(payment)
    if current is None:
        return None
    transfer = read_spei_transfer(paths, current.raw) if current.raw else current.spei
    day = mexico_city_date(payment.paid_at or payment.updated_at)
    return query_from_transfer(transfer, payment.amount_centavos, day)


async def open_cep_checks(runtime: Runtime, payments: ProviderPayments | None = None) -> int:
    """A check for every SPEI received that has none yet; returns how many were opened.

    ``payments`` asks a gateway for the payment when its stored notifications do not say
    the clave de rastreo; a gateway that cannot be asked now leaves the payment for the
    next sweep (not ``SIN_DATOS``)."""
    checked = await CepCheck.all().values_list("payment_id", flat=True)
    opened = 0
    for payment in await Payment.filter(
        method=PaymentMethodType.SPEI, status__in=list(RECEIVED), id__not_in=list(checked)
    ):
        query = await _query_for(runtime, payment)
        if query is None and payments is not None and payment.provider != ProviderName.STP:
            try:
                query = await _asked_provider(payment, payments, await _tracking_paths(payment))
            except Exception as exc:  # noqa: BLE001 - any provider failure: try next sweep
                logger.warning(
                    "CEP: could not ask %s about payment %s: %s",
                    payment.provider,
                    payment.id,
                    type(exc).__name__,
                )
                continue
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


async def run_cep(
    runtime: Runtime, lookup: CepLookup, payments: ProviderPayments | None = None
) -> list[int]:
    """The fiscal worker's CEP step: open what is missing, ask what is due."""
    await open_cep_checks(runtime, payments)
    return await check_due_ceps(runtime, lookup)


def cep_xml(runtime: Runtime, check: CepCheck) -> bytes | None:
    """The stored CEP XML (decrypted), or None before Banxico returned it."""
    if not check.xml_enc:
        return None
    return runtime.cipher.decrypt(check.xml_enc, context=CEP_XML_CONTEXT).encode()
