"""Staff refunds: ask the provider, then book exactly what it says was refunded."""

from __future__ import annotations

from decimal import Decimal

from puente.accounts.models import User
from puente.audit.service import record_audit
from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.loans.access import can_see_loan, is_staff
from puente.money import InvalidAmount, format_mxn, from_centavos, parse_amount
from puente.payments.checkout import PaymentRefused, provider_connector
from puente.payments.gateways import GatewayDirectory
from puente.payments.lifecycle import REFUNDABLE
from puente.payments.lifecycle_service import Transition
from puente.payments.models import Payment
from puente.payments.outcomes import advance_and_notify
from puente.providers.errors import ProviderError
from puente.runtime import Runtime

__all__ = ["refund_amount", "refund_payment", "refundable_remainder"]


def refundable_remainder(payment: Payment) -> Decimal:
    """What of ``payment`` has not been refunded yet."""
    return from_centavos(payment.amount_centavos - payment.refunded_centavos)


def refund_amount(payment: Payment, amount: object | None) -> Decimal | None:
    """The partial refund asked for (None: all that remains); ``PaymentRefused`` when it is
    not a positive amount within what remains."""
    if amount is None:
        return None
    remaining = refundable_remainder(payment)
    try:
        wanted = parse_amount(amount)
    except InvalidAmount as exc:
        raise PaymentRefused("INVALID_AMOUNT", f"Monto inválido: {exc}.") from None
    if not Decimal("0") < wanted <= remaining:
        raise PaymentRefused(
            "INVALID_AMOUNT",
            f"El reembolso debe ser mayor que 0 y a lo más {format_mxn(remaining)}.",
        )
    return wanted


async def refund_payment(
    runtime: Runtime,
    gateways: GatewayDirectory,
    actor: User,
    payment_id: int,
    amount: object | None = None,
) -> Transition:
    """Refund all (``amount=None``) or part of a paid payment; staff of its institution only."""
    # Who may refund is decided before looking anything up: answering "forbidden" for a
    # payment that exists and "not found" for one that does not would let anyone probe ids.
    if not is_staff(actor):
        raise PaymentRefused("FORBIDDEN", "Solo el personal puede reembolsar pagos.")
    payment = await Payment.filter(id=payment_id).prefetch_related("loan").first()
    if payment is None or not can_see_loan(actor, payment.loan):
        raise PaymentRefused("PAYMENT_NOT_FOUND", "El pago no existe.")
    if S(payment.status) not in REFUNDABLE or not payment.provider_reference:
        raise PaymentRefused("NOT_REFUNDABLE", "Ese pago no se puede reembolsar.")
    remaining = refundable_remainder(payment)
    wanted = refund_amount(payment, amount)
    institution = await Institution.get(id=payment.institution_id)
    connector = await provider_connector(gateways, institution, str(payment.provider))
    key = f"puente-refund-{payment.id}-{payment.refunded_centavos}"
    try:
        await connector.refund(payment.provider_reference, wanted, idempotency_key=key)
        current = await connector.get_payment(payment.provider_reference)
    except ProviderError as exc:
        raise PaymentRefused(
            "PROVIDER_ERROR", f"El proveedor rechazó el reembolso ({exc.code})."
        ) from None
    # Providers report the cumulative amount refunded; where one does not, what we asked
    # for is added to what was refunded before. Full or partial is lifecycle.refund_step's call.
    asked = from_centavos(payment.refunded_centavos) + (wanted or remaining)
    transition = await advance_and_notify(
        runtime,
        payment.id,
        S.REFUNDED,
        source=f"refund-by:{actor.id}",
        at=runtime.now(),
        refunded=current.amount_refunded or asked,
    )
    await record_audit(
        "payment.refund_requested",
        actor_id=actor.id,
        institution_id=payment.institution_id,
        subject_type="payment",
        subject_id=payment.id,
        data={"amount": str(wanted or remaining)},
    )
    return transition
