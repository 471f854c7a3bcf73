"""Starting a payment: validate, record, ask the provider, return the next action."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from puente.accounts.models import User
from puente.enums import PaymentMethodType
from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.institutions.return_urls import (
    RETURN_URLS_KEY,
    ReturnUrlRefused,
    allowed_return_url,
)
from puente.loans.access import can_see_loan
from puente.loans.engine import OverpaymentMode
from puente.loans.models import Loan
from puente.loans.payable import Payable, payable_amount
from puente.money import InvalidAmount, format_mxn, parse_amount, to_centavos
from puente.payments.compliance_hooks import compliance
from puente.payments.gateways import GatewayDirectory, NoProviderAccount
from puente.payments.models import Payment
from puente.payments.models import PaymentMethod as SavedMethod
from puente.payments.outcomes import advance_and_notify, fail_payment, next_action_of
from puente.payments.spei_inbound import loan_clabe
from puente.payments.submission import outcome_unknown, provider_request_of, submit_payment
from puente.providers.base import PaymentGateway
from puente.providers.catalogue import BUILTIN_SPECS
from puente.providers.errors import ProviderConfigError
from puente.providers.registry import provider_spec
from puente.providers.values import CustomerInfo
from puente.providers.values import PaymentMethod as ProviderMethod
from puente.runtime import Runtime

__all__ = [
    "CASH_LIMITS",
    "PaymentRefused",
    "PaymentRequest",
    "ReadJustNow",
    "advance_and_notify",
    "cash_limit",
    "create_payment",
    "fail_payment",
    "next_action_of",
    "paypal_return_url",
    "prepayment_fields",
    "provider_connector",
    "request_fingerprint",
    "resume_payment",
    "validate_payment_request",
]

logger = logging.getLogger("puente.payments")

# Store payments have a ceiling per operation (mexico.md §6), each provider's in its spec.
CASH_LIMITS: Mapping[str, Decimal] = MappingProxyType(
    {spec.name: spec.cash_limit for spec in BUILTIN_SPECS if spec.cash_limit is not None}
)
# Openpay's device_session_id: letters and digits, at most 255 (openpay-data.js makes 32).
DEVICE_SESSION = re.compile(r"[A-Za-z0-9_\-]{1,255}")
DEFAULT_CASH_LIMIT = Decimal("10000.00")  # OXXO's, for a provider whose spec names none
CASH_MINIMUM = Decimal("10.00")


class PaymentRefused(Exception):
    """A payment we will not start; ``code`` and Spanish ``message`` are safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    loan_id: int
    amount: object  # validated here: a Decimal or a decimal string
    method: PaymentMethodType
    provider: str  # a registered provider (checked against its spec when the payment starts)
    idempotency_key: str
    card_token: str | None = None
    payment_method_id: int | None = None
    prepayment_mode: OverpaymentMode | None = None  # None: the payer was not asked
    # The card gateway's antifraud id from the payer's browser (Openpay); not part of
    # what is paid, so not in the request's fingerprint.
    device_session_id: str | None = None
    # An app's deep link or page the payer returns to after PayPal or 3-D Secure; checked
    # against the institution's allow-list (institutions/return_urls.py).
    return_url: str | None = None


@dataclass(frozen=True, slots=True)
class ReadJustNow:
    """Rows a caller read an instant ago (the domiciliación job reads them per batch), so the
    funnel does not read them again; every rule is still applied to them. ``payable`` is
    ``loans.payable.payable_amount`` for today, asked by the caller just before (the same
    check-then-charge window as the funnel's own check); ``no_payment_yet``: the caller found
    no payment under the idempotency key (a concurrent one still loses on the unique key)."""

    loan: Loan
    payable: Payable
    institution: Institution
    saved: SavedMethod | None = None
    no_payment_yet: bool = False


def request_fingerprint(request: PaymentRequest, amount: Decimal) -> str:
    text = "|".join(
        str(part)
        for part in (
            request.loan_id,
            amount,
            request.method.value,
            str(request.provider),
            request.card_token or "",
            request.payment_method_id or "",
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


async def validate_payment_request(
    user: User, request: PaymentRequest, runtime: Runtime, known: ReadJustNow | None = None
) -> tuple[Loan, Decimal]:
    try:
        amount = parse_amount(request.amount)
    except InvalidAmount:
        raise PaymentRefused(
            "INVALID_AMOUNT", "El monto no es válido: usa pesos con hasta dos decimales."
        ) from None
    if amount <= 0:
        raise PaymentRefused("INVALID_AMOUNT", "El monto debe ser mayor que cero.")
    if not request.idempotency_key or len(request.idempotency_key) > 128:
        raise PaymentRefused("INVALID_IDEMPOTENCY_KEY", "Falta la clave de idempotencia.")
    if known is not None and known.loan.id == request.loan_id:
        loan: Loan | None = known.loan
    else:
        known, loan = None, await Loan.filter(id=request.loan_id).first()
    if loan is None or not can_see_loan(user, loan):
        raise PaymentRefused("LOAN_NOT_FOUND", "El crédito no existe.")
    # Compliance (compliance/cases.py, through its hook): a blocked customer may not operate.
    for customer_id in {loan.borrower_id, user.id}:
        suspended = await compliance().customer_refusal(customer_id)
        if suspended is not None:
            raise PaymentRefused(suspended.code, suspended.message)
    # The one rule (loans/payable.py): may it be paid, and at most its payoff today.
    payable = known.payable if known else await payable_amount(loan, runtime.today())
    refusal = payable.refusal_for(amount)
    if refusal is not None:
        raise PaymentRefused(*refusal)
    # The column is plain text since any registered provider may be paid through: the name
    # and the method are checked here, against the provider's spec, before anything is stored.
    try:
        offered = provider_spec(str(request.provider)).methods
    except ProviderConfigError:
        offered = frozenset()
    if ProviderMethod(request.method.value) not in offered:
        raise PaymentRefused("PROVIDER_NOT_AVAILABLE", "Ese medio de pago no está disponible.")
    if request.method is PaymentMethodType.CASH:
        limit = cash_limit(request.provider)
        if amount > limit or amount < CASH_MINIMUM:
            raise PaymentRefused(
                "CASH_LIMIT",
                f"En efectivo se puede pagar de {format_mxn(CASH_MINIMUM, currency=False)} "
                f"a {format_mxn(limit)} por ficha.",
            )
    if request.method is PaymentMethodType.CARD and not (
        request.card_token or request.payment_method_id
    ):
        raise PaymentRefused("CARD_REQUIRED", "Falta la tarjeta.")
    if request.device_session_id is not None and not DEVICE_SESSION.fullmatch(
        request.device_session_id
    ):
        raise PaymentRefused(
            "INVALID_DEVICE_SESSION", "El identificador del dispositivo no es válido."
        )
    return loan, amount


def cash_limit(provider: str) -> Decimal:
    """The most one cash voucher of ``provider`` may be for (its spec's ceiling)."""
    try:
        limit = provider_spec(provider).cash_limit
    except ProviderConfigError:
        limit = None
    return limit if limit is not None else DEFAULT_CASH_LIMIT


def prepayment_fields(request: PaymentRequest, loan: Loan) -> dict[str, Any]:
    """What money beyond what is due will do, fixed on the payment when it is made: the
    payer's choice, or the loan's standing one (the product's default) when not asked."""
    chosen = request.prepayment_mode
    mode = chosen or OverpaymentMode(loan.overpayment_mode)
    return {"prepayment_mode": mode.value, "prepayment_mode_chosen": chosen is not None}


async def provider_connector(
    gateways: GatewayDirectory, institution: Institution, provider: str
) -> PaymentGateway:
    """The institution's payment gateway ``provider``, or a refusal when it has no account."""
    try:
        return await gateways.gateway(institution, provider)
    except NoProviderAccount:
        raise PaymentRefused(
            "PROVIDER_NOT_AVAILABLE", "Ese medio de pago no está disponible."
        ) from None


def paypal_return_url(runtime: Runtime) -> Callable[[int], str]:
    """Where PayPal sends the payer back after approving (the portal captures there)."""
    return lambda payment_id: f"{runtime.settings.base_url}/pagos/{payment_id}/paypal"


async def create_payment(
    runtime: Runtime,
    gateways: GatewayDirectory,
    user: User,
    request: PaymentRequest,
    *,
    return_url: Callable[[int], str] | None = None,
    known: ReadJustNow | None = None,
) -> Payment:
    """Start (or, with the same key and input, return) a payment.

    PayPal payments end in a REDIRECT to the approval page; ``return_url(payment_id)`` is
    where PayPal sends the payer back (default: the portal's capture page). ``known``: rows
    the caller has just read (see ``ReadJustNow``), not read again.
    """
    loan, amount = await validate_payment_request(user, request, runtime, known)
    if known is not None and known.loan is not loan:
        known = None
    fingerprint = request_fingerprint(request, amount)
    if known is None or not known.no_payment_yet:
        existing = await _same_request(loan, request, fingerprint)
        if existing is not None:
            return await resume_payment(runtime, gateways, existing)
    if known is not None and known.institution.id == loan.institution_id:
        institution = known.institution
    else:
        institution = await Institution.get(id=loan.institution_id)
    back = _return_url(runtime, institution, request, return_url)
    if provider_spec(request.provider).pays_to_loan_clabe:
        try:
            return await _loan_clabe_instructions(
                gateways, institution, user, loan, request, amount
            )
        except IntegrityError:
            return await _winner(runtime, gateways, loan, request, fingerprint)
    connector = await provider_connector(gateways, institution, str(request.provider))
    if ProviderMethod(request.method.value) not in connector.methods:
        raise PaymentRefused("METHOD_NOT_OFFERED", "Ese proveedor no ofrece ese método de pago.")
    saved = None
    if request.payment_method_id is not None:
        if known is not None and known.saved is not None:
            mine = known.saved
            ok = mine.id == request.payment_method_id and mine.user_id == user.id
            saved = mine if ok and mine.is_active else None
        else:
            saved = await SavedMethod.filter(
                id=request.payment_method_id, user_id=user.id, is_active=True
            ).first()
        if saved is None or saved.provider != request.provider:
            raise PaymentRefused("PAYMENT_METHOD_NOT_FOUND", "Ese método guardado no existe.")
    try:
        async with in_transaction() as tx:
            payment = await Payment.create(
                institution_id=loan.institution_id,
                loan_id=loan.id,
                user_id=user.id,
                payment_method_id=saved.id if saved else None,
                provider=request.provider,
                method=request.method,
                amount_centavos=to_centavos(amount),
                status=S.CREATED,
                idempotency_key=request.idempotency_key,
                request_fingerprint=fingerprint,
                using_db=tx,
                **prepayment_fields(request, loan),
            )
            # Kept with the row (same transaction), so whoever sends it again sends the same.
            payment.provider_request = provider_request_of(
                card_token=request.card_token,
                device_session_id=request.device_session_id,
                saved_token=saved.provider_token if saved else None,
                saved_customer=saved.provider_customer_id if saved else None,
                customer=CustomerInfo(
                    name=user.full_name, email=user.email, external_id=str(user.id)
                ),
                return_url=back(payment.id),
            )
            await payment.save(using_db=tx, update_fields=["provider_request"])
    except IntegrityError:
        return await _winner(runtime, gateways, loan, request, fingerprint)
    await submit_payment(runtime, connector, payment)
    return await Payment.get(id=payment.id)


def _return_url(
    runtime: Runtime,
    institution: Institution,
    request: PaymentRequest,
    portal: Callable[[int], str] | None,
) -> Callable[[int], str]:
    """Where PayPal approval or 3-D Secure sends the payer back: the app's allowed URL, else
    the portal's page for the method (PayPal's capture page, or the payment's own page)."""
    if request.return_url is not None:
        allowed = (institution.settings or {}).get(RETURN_URLS_KEY) or []
        try:
            url = allowed_return_url(request.return_url, allowed)
        except ReturnUrlRefused as refused:
            raise PaymentRefused("RETURN_URL_NOT_ALLOWED", str(refused)) from None
        return lambda payment_id: url
    if portal is not None:
        return portal
    if request.method is PaymentMethodType.PAYPAL:
        return paypal_return_url(runtime)
    return lambda payment_id: f"{runtime.settings.base_url}/pagos/{payment_id}"


async def _same_request(loan: Loan, request: PaymentRequest, fingerprint: str) -> Payment | None:
    """The payment already made with this idempotency key, if any; refused if it differs."""
    existing = await Payment.filter(
        institution_id=loan.institution_id, idempotency_key=request.idempotency_key
    ).first()
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise PaymentRefused(
            "IDEMPOTENCY_CONFLICT",
            "Esa clave de idempotencia ya se usó con otros datos de pago.",
        )
    return existing


async def _winner(
    runtime: Runtime,
    gateways: GatewayDirectory,
    loan: Loan,
    request: PaymentRequest,
    fingerprint: str,
) -> Payment:
    """A concurrent request with the same key won the insert: answer with its payment."""
    winner = await _same_request(loan, request, fingerprint)
    if winner is None:  # the unique key was not what clashed: a real error
        raise RuntimeError("payment insert refused for another reason than its key")
    return await resume_payment(runtime, gateways, winner)


async def resume_payment(runtime: Runtime, gateways: GatewayDirectory, payment: Payment) -> Payment:
    """The same request again: its payment, asked about again while its outcome is unknown
    (same provider idempotency key: never a second charge)."""
    if not outcome_unknown(payment) or payment.provider_request is None:
        return payment
    institution = await Institution.get(id=payment.institution_id)
    connector = await provider_connector(gateways, institution, str(payment.provider))
    await submit_payment(runtime, connector, payment)
    return await Payment.get(id=payment.id)


async def _loan_clabe_instructions(
    gateways: GatewayDirectory,
    institution: Institution,
    user: User,
    loan: Loan,
    request: PaymentRequest,
    amount: Decimal,
) -> Payment:
    """A bank that takes SPEI only, to the loan's own CLABE (STP): the abono callback
    completes the payment."""
    spec = provider_spec(request.provider)
    if request.method is not PaymentMethodType.SPEI:
        raise PaymentRefused(
            "METHOD_NOT_OFFERED", f"Por {spec.label} solo se paga con transferencia SPEI."
        )
    # ProviderSpec refuses pays_to_loan_clabe without transfer answers: "" never happens.
    transfers = spec.webhook.transfers if spec.webhook else None
    account_field = transfers.account_field if transfers else ""
    try:
        cuenta = (await gateways.credentials(institution, request.provider))[account_field]
    except (NoProviderAccount, KeyError):
        raise PaymentRefused(
            "PROVIDER_NOT_AVAILABLE", "Ese medio de pago no está disponible."
        ) from None
    payment = await Payment.create(
        institution_id=loan.institution_id,
        loan_id=loan.id,
        user_id=user.id,
        provider=request.provider,
        method=request.method,
        amount_centavos=to_centavos(amount),
        status=S.REQUIRES_ACTION,
        idempotency_key=request.idempotency_key,
        request_fingerprint=request_fingerprint(request, amount),
        **prepayment_fields(request, loan),
        next_action={
            "type": "SPEI_TRANSFER",
            "clabe": loan_clabe(cuenta, loan.id),
            "bank": spec.label,
            # Referencia numérica (≤ 7 digits) ties the transfer to this payment.
            "reference": f"{payment_reference(loan.id, request.idempotency_key):07d}",
        },
    )
    return payment


def payment_reference(loan_id: int, key: str) -> int:
    """A 7-digit referencia numérica, stable for a given payment request."""
    digest = hashlib.sha256(f"{loan_id}|{key}".encode()).hexdigest()
    return int(digest[:12], 16) % 9_000_000 + 1_000_000
