"""Starting a payment: validate, record, ask the provider, return the next action."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from puente.accounts.models import User
from puente.enums import PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.loans.access import can_see_loan
from puente.loans.engine import OverpaymentMode
from puente.loans.models import Loan
from puente.loans.payable import payable_amount
from puente.money import InvalidAmount, format_mxn, from_centavos, parse_amount, to_centavos
from puente.payments.gateways import GatewayDirectory, NoProviderAccount
from puente.payments.lifecycle import from_provider_status
from puente.payments.lifecycle_service import advance_payment
from puente.payments.models import Payment
from puente.payments.models import PaymentMethod as SavedMethod
from puente.payments.notify import notify_transition
from puente.payments.spei_inbound import loan_clabe
from puente.providers.base import Connector
from puente.providers.errors import InvalidRequest, PaymentDeclined, ProviderError
from puente.providers.values import (
    ChargeRequest,
    CustomerInfo,
    ProviderPayment,
    ReferenceRequest,
)
from puente.providers.values import PaymentMethod as ProviderMethod
from puente.runtime import Runtime

__all__ = [
    "CASH_LIMITS",
    "PaymentRefused",
    "PaymentRequest",
    "advance_and_notify",
    "create_payment",
    "fail_payment",
    "next_action_of",
    "paypal_return_url",
    "prepayment_fields",
    "provider_connector",
    "request_fingerprint",
    "validate_payment_request",
]

logger = logging.getLogger("puente.payments")

# Store payments have a ceiling per operation (mexico.md §6: OXXO 10,000.00; Paynet 9,999.99).
CASH_LIMITS = {
    ProviderName.STRIPE: Decimal("10000.00"),
    ProviderName.CONEKTA: Decimal("10000.00"),
    ProviderName.OPENPAY: Decimal("9999.99"),
    ProviderName.MERCADOPAGO: Decimal("10000.00"),
}
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
    provider: ProviderName
    idempotency_key: str
    card_token: str | None = None
    payment_method_id: int | None = None
    prepayment_mode: OverpaymentMode | None = None  # None: the payer was not asked


def request_fingerprint(request: PaymentRequest, amount: Decimal) -> str:
    text = "|".join(
        str(part)
        for part in (
            request.loan_id,
            amount,
            request.method.value,
            request.provider.value,
            request.card_token or "",
            request.payment_method_id or "",
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


def next_action_of(method: PaymentMethodType, result: ProviderPayment) -> dict | None:
    """The contract's PaymentNextAction as stored JSON (no secrets, no full card data)."""
    action = result.next_action
    if action is None:
        return {"type": "NONE"}
    expires = action.expires_at.isoformat() if action.expires_at else None
    if method is PaymentMethodType.SPEI:
        kind = "SPEI_TRANSFER"
    elif method is PaymentMethodType.CASH:
        kind = "CASH_VOUCHER"
    elif action.redirect_url:
        kind = "REDIRECT"
    else:
        kind = "NONE"
    return {
        "type": kind,
        "redirect_url": action.redirect_url,
        "clabe": action.clabe,
        "bank": action.bank,
        "reference": action.reference,
        "expires_at": expires,
        "voucher_url": action.voucher_url,
        "barcode_url": action.barcode_url,
    }


async def validate_payment_request(
    user: User, request: PaymentRequest, runtime: Runtime
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
    loan = await Loan.filter(id=request.loan_id).first()
    if loan is None or not can_see_loan(user, loan):
        raise PaymentRefused("LOAN_NOT_FOUND", "El crédito no existe.")
    # The one rule (loans/payable.py): may it be paid, and at most its payoff today.
    refusal = (await payable_amount(loan, runtime.today())).refusal_for(amount)
    if refusal is not None:
        raise PaymentRefused(*refusal)
    if request.method is PaymentMethodType.CASH:
        limit = CASH_LIMITS.get(request.provider, Decimal("10000.00"))
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
    return loan, amount


def prepayment_fields(request: PaymentRequest, loan: Loan) -> dict[str, object]:
    """What money beyond what is due will do, fixed on the payment when it is made: the
    payer's choice, or the loan's standing one (the product's default) when not asked."""
    chosen = request.prepayment_mode
    mode = chosen or OverpaymentMode(loan.overpayment_mode)
    return {"prepayment_mode": mode.value, "prepayment_mode_chosen": chosen is not None}


async def provider_connector(
    gateways: GatewayDirectory, institution: Institution, provider: str
) -> Connector:
    """The institution's connector for ``provider``, or a refusal when it has no account."""
    try:
        return await gateways.connector(institution, provider)
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
) -> Payment:
    """Start (or, with the same key and input, return) a payment.

    PayPal payments end in a REDIRECT to the approval page; ``return_url(payment_id)`` is
    where PayPal sends the payer back (default: the portal's capture page).
    """
    loan, amount = await validate_payment_request(user, request, runtime)
    fingerprint = request_fingerprint(request, amount)
    existing = await Payment.filter(
        institution_id=loan.institution_id, idempotency_key=request.idempotency_key
    ).first()
    if existing is not None:
        if existing.request_fingerprint != fingerprint:
            raise PaymentRefused(
                "IDEMPOTENCY_CONFLICT",
                "Esa clave de idempotencia ya se usó con otros datos de pago.",
            )
        return existing
    institution = await Institution.get(id=loan.institution_id)
    if request.provider is ProviderName.STP:
        return await _stp_transfer_instructions(gateways, institution, user, loan, request, amount)
    connector = await provider_connector(gateways, institution, request.provider.value)
    if ProviderMethod(request.method.value) not in getattr(connector, "methods", frozenset()):
        raise PaymentRefused("METHOD_NOT_OFFERED", "Ese proveedor no ofrece ese método de pago.")
    saved = None
    if request.payment_method_id is not None:
        saved = await SavedMethod.filter(
            id=request.payment_method_id, user_id=user.id, is_active=True
        ).first()
        if saved is None or saved.provider != request.provider:
            raise PaymentRefused("PAYMENT_METHOD_NOT_FOUND", "Ese método guardado no existe.")
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
        **prepayment_fields(request, loan),
    )
    back = (return_url or paypal_return_url(runtime))(payment.id)
    await _submit(runtime, connector, payment, user, request, saved, back)
    return await Payment.get(id=payment.id)


async def _stp_transfer_instructions(
    gateways: GatewayDirectory,
    institution: Institution,
    user: User,
    loan: Loan,
    request: PaymentRequest,
    amount: Decimal,
) -> Payment:
    """STP takes SPEI only, to the loan's own CLABE; the abono callback completes it."""
    if request.method is not PaymentMethodType.SPEI:
        raise PaymentRefused("METHOD_NOT_OFFERED", "Por STP solo se paga con transferencia SPEI.")
    try:
        cuenta = (await gateways.credentials(institution, "stp"))["cuenta"]
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
            "bank": "STP",
            # Referencia numérica (≤ 7 digits) ties the transfer to this payment.
            "reference": f"{payment_reference(loan.id, request.idempotency_key):07d}",
        },
    )
    return payment


def payment_reference(loan_id: int, key: str) -> int:
    """A 7-digit referencia numérica, stable for a given payment request."""
    digest = hashlib.sha256(f"{loan_id}|{key}".encode()).hexdigest()
    return int(digest[:12], 16) % 9_000_000 + 1_000_000


async def _submit(
    runtime, connector, payment: Payment, user: User, request, saved, back: str
) -> None:
    """Ask the provider; the outcome (or a decline) moves the payment forward."""
    key = f"puente-payment-{payment.id}"  # stable: a retry can never charge twice
    amount = from_centavos(payment.amount_centavos)
    metadata = {"puente_payment": str(payment.id), "puente_loan": str(payment.loan_id)}
    description = f"Pago préstamo {payment.loan_id}"
    now = runtime.now()
    try:
        if request.method is PaymentMethodType.PAYPAL:
            result = await connector.create_order(
                amount,
                idempotency_key=key,
                description=description,
                metadata=metadata,
                return_url=back,
                cancel_url=f"{back}?cancelado=1",
            )
        elif request.method is PaymentMethodType.CARD:
            result = await connector.charge(
                ChargeRequest(
                    amount=amount,
                    idempotency_key=key,
                    token=request.card_token if saved is None else None,
                    payment_method_id=saved.provider_token if saved else None,
                    customer_id=saved.provider_customer_id if saved else None,
                    description=description,
                    metadata=metadata,
                )
            )
        else:
            reference = ReferenceRequest(
                amount=amount,
                idempotency_key=key,
                customer=CustomerInfo(
                    name=user.full_name, email=user.email, external_id=str(user.id)
                ),
                description=description,
                metadata=metadata,
            )
            if request.method is PaymentMethodType.SPEI:
                result = await connector.create_spei_reference(reference)
            else:
                result = await connector.create_cash_reference(reference)
    except PaymentDeclined as exc:
        declined = exc.payment.provider_id if exc.payment else None
        await fail_payment(runtime, payment.id, exc, at=now, provider_reference=declined)
        return
    except InvalidRequest as exc:
        await fail_payment(runtime, payment.id, exc, at=now)
        return
    except ProviderError as exc:
        # Outcome unknown (timeout, outage): stay CREATED; the poller repeats the same
        # idempotent request later, so the borrower is never charged twice nor lost.
        logger.warning("payment %s: provider did not answer (%s)", payment.id, exc.code)
        await Payment.filter(id=payment.id).update(
            failure_code=exc.code, failure_message="proveedor no disponible; se reintentará"
        )
        return
    await advance_and_notify(
        runtime,
        payment.id,
        from_provider_status(result.status),
        source="provider-response",
        at=now,
        provider_reference=result.provider_id,
        next_action=next_action_of(request.method, result),
        failure_code=result.failure_code,
        failure_message=result.failure_message,
    )


async def fail_payment(
    runtime: Runtime,
    payment_id: int,
    exc: ProviderError,
    *,
    at: datetime,
    provider_reference: str | None = None,
) -> None:
    """The provider refused the payment: FAILED, keeping its code and message."""
    await advance_and_notify(
        runtime,
        payment_id,
        S.FAILED,
        source="provider-response",
        at=at,
        provider_reference=provider_reference,
        failure_code=exc.code,
        failure_message=exc.provider_message or str(exc),
    )


async def advance_and_notify(runtime: Runtime, payment_id: int, status: S, **details) -> None:
    transition = await advance_payment(payment_id, status, **details)
    await notify_transition(runtime.bus, transition)
