"""What staff do to a loan from the console. Each action is the domain's own service behind
a role check (``roles.py``) and the institution's fence; each is audited by that service
(and here where the service does not know the actor); each has a ``preview`` the console
shows on its confirmation step, computed by the same rules the action applies.

| action              | service reused                                   | roles        |
|---------------------|--------------------------------------------------|--------------|
| refund              | payments/refund_service.refund_payment           | staff, admin |
| cash at the branch  | payments/settled_elsewhere + outcomes (funnel)   | staff, admin |
| approve + disburse  | payments/disbursements.approve_and_disburse      | admin        |
| restructure         | loans/lifecycle.restructure_loan                 | admin        |
| write off           | loans/lifecycle.write_off_loan                   | admin        |
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from puente.accounts.models import User
from puente.audit.service import record_audit
from puente.enums import LoanStatus, PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.identifiers import KycError, validate_clabe
from puente.loans.lifecycle import LoanLifecycleError, require_transition
from puente.loans.lifecycle import restructure_loan as _restructure
from puente.loans.lifecycle import write_off_loan as _write_off
from puente.loans.models import Loan
from puente.loans.payable import payable_amount
from puente.loans.state import load_loan_views
from puente.money import InvalidAmount, format_mxn, from_centavos, parse_amount
from puente.payments.checkout import PaymentRefused
from puente.payments.disbursements import approve_and_disburse as _approve_and_disburse
from puente.payments.gateways import GatewayDirectory
from puente.payments.lifecycle import REFUNDABLE
from puente.payments.models import Disbursement, Payment
from puente.payments.outcomes import advance_and_notify
from puente.payments.refund_service import refund_amount, refund_payment, refundable_remainder
from puente.payments.settled_elsewhere import recorded_payment
from puente.runtime import Runtime

from .roles import ConsoleAction, ConsoleRefused, require

__all__ = [
    "Preview",
    "approve_and_disburse",
    "preview_cash_payment",
    "preview_disbursement",
    "preview_refund",
    "preview_restructure",
    "preview_write_off",
    "record_cash_payment",
    "refund",
    "restructure",
    "write_off",
]

STATUS_WORDS = {
    LoanStatus.APPLICATION: "en solicitud",
    LoanStatus.APPROVED: "aprobado",
    LoanStatus.DISBURSED: "dispersado",
    LoanStatus.ACTIVE: "vigente",
    LoanStatus.PAID_OFF: "liquidado",
    LoanStatus.DEFAULTED: "en cartera vencida",
    LoanStatus.WRITTEN_OFF: "castigado",
    LoanStatus.RESTRUCTURED: "reestructurado",
}


@dataclass(frozen=True, slots=True)
class Preview:
    """What the confirmation step shows: a title and the figures, already in words."""

    title: str
    lines: tuple[tuple[str, str], ...]
    amount: Decimal | None = None


async def _loan(actor: User, loan_id: int) -> Loan:
    loan = await Loan.filter(id=loan_id, institution_id=actor.institution_id).first()
    if loan is None:
        raise ConsoleRefused("LOAN_NOT_FOUND", "El crédito no existe.")
    return loan


async def _payment(actor: User, payment_id: int) -> Payment:
    payment = await Payment.filter(id=payment_id, institution_id=actor.institution_id).first()
    if payment is None:
        raise ConsoleRefused("PAYMENT_NOT_FOUND", "El pago no existe.")
    return payment


def _refused(exc: PaymentRefused) -> ConsoleRefused:
    return ConsoleRefused(exc.code, exc.message)


def _not_allowed(loan: Loan, to: LoanStatus, what: str) -> None:
    try:
        require_transition(loan, to)
    except LoanLifecycleError:
        status = STATUS_WORDS.get(LoanStatus(loan.status), str(loan.status))
        raise ConsoleRefused("INVALID_STATUS", f"Un crédito {status} no se puede {what}.") from None


def _amount(text: object) -> Decimal:
    try:
        amount = parse_amount(text)
    except InvalidAmount:
        raise ConsoleRefused(
            "INVALID_AMOUNT", "Monto inválido: escribe pesos y centavos, por ejemplo 1500.00."
        ) from None
    if amount <= 0:
        raise ConsoleRefused("INVALID_AMOUNT", "El monto debe ser mayor que 0.")
    return amount


# -- refund ---------------------------------------------------------------------------------


async def preview_refund(actor: User, payment_id: int, amount: str | None) -> Preview:
    require(actor, ConsoleAction.REFUND)
    payment = await _payment(actor, payment_id)
    if S(payment.status) not in REFUNDABLE or not payment.provider_reference:
        raise ConsoleRefused("NOT_REFUNDABLE", "Ese pago no se puede reembolsar.")
    try:
        wanted = refund_amount(payment, amount or None)
    except PaymentRefused as exc:
        raise _refused(exc) from None
    remaining = refundable_remainder(payment)
    refund = wanted if wanted is not None else remaining
    kind = "parcial" if refund < remaining else "total"
    return Preview(
        title=f"Reembolso {kind} del pago {payment.id}",
        lines=(
            (
                "Pago",
                f"{format_mxn(from_centavos(payment.amount_centavos))} por {payment.provider}",
            ),
            ("Ya reembolsado", format_mxn(from_centavos(payment.refunded_centavos))),
            ("Se reembolsa", format_mxn(refund)),
        ),
        amount=refund,
    )


async def refund(
    runtime: Runtime, gateways: GatewayDirectory, actor: User, payment_id: int, amount: str | None
) -> Payment:
    """Refund all or part of a payment through its provider (audited by the refund service)."""
    await preview_refund(actor, payment_id, amount)  # the same checks, before the provider
    try:
        await refund_payment(runtime, gateways, actor, payment_id, amount or None)
    except PaymentRefused as exc:
        raise _refused(exc) from None
    return await Payment.get(id=payment_id)


# -- cash at the branch ---------------------------------------------------------------------


async def preview_cash_payment(runtime: Runtime, actor: User, loan_id: int, amount: str) -> Preview:
    require(actor, ConsoleAction.CASH_PAYMENT)
    loan = await _loan(actor, loan_id)
    money = _amount(amount)
    refusal = (await payable_amount(loan, runtime.today())).refusal_for(money)
    if refusal is not None:
        raise ConsoleRefused(*refusal)
    return Preview(
        title=f"Pago en efectivo en sucursal al crédito {loan.id}",
        lines=(("Recibido en caja", format_mxn(money)),),
        amount=money,
    )


async def record_cash_payment(
    runtime: Runtime, actor: User, loan_id: int, amount: str, idempotency_key: str
) -> Payment:
    """Cash received at the counter: a payment recorded and moved to PAID through the funnel
    (prelación, ledger, receipt, notices), once per form (``idempotency_key``)."""
    preview = await preview_cash_payment(runtime, actor, loan_id, amount)
    assert preview.amount is not None
    loan = await _loan(actor, loan_id)
    payment = await recorded_payment(
        loan,
        preview.amount,
        provider=ProviderName.BANK,
        method=PaymentMethodType.CASH,
        idempotency_key=f"branch-cash-{idempotency_key}"[:128],
        user_id=loan.borrower_id,
    )
    if S(payment.status) is S.CREATED:
        await advance_and_notify(
            runtime, payment.id, S.PAID, source=f"branch-cash:{actor.id}", at=runtime.now()
        )
        await record_audit(
            "payment.cash_recorded",
            actor_id=actor.id,
            institution_id=loan.institution_id,
            subject_type="payment",
            subject_id=payment.id,
            data={"loan": loan.id, "amount": str(preview.amount)},
        )
    return await Payment.get(id=payment.id)


# -- approve and disburse -------------------------------------------------------------------


async def preview_disbursement(actor: User, loan_id: int, clabe: str, name: str) -> Preview:
    require(actor, ConsoleAction.APPROVE_DISBURSE)
    loan = await _loan(actor, loan_id)
    if LoanStatus(loan.status) not in (LoanStatus.APPLICATION, LoanStatus.APPROVED):
        _not_allowed(loan, LoanStatus.APPROVED, "aprobar ni dispersar")
    try:
        account = validate_clabe(clabe)
    except KycError as exc:
        raise ConsoleRefused("INVALID_CLABE", exc.message_es) from None
    if not " ".join(name.split()):
        raise ConsoleRefused("BENEFICIARY_REQUIRED", "Falta el nombre del beneficiario.")
    net = from_centavos(
        loan.principal_centavos - loan.opening_fee_centavos - loan.opening_fee_vat_centavos
    )
    return Preview(
        title=f"Aprobar y dispersar el crédito {loan.id}",
        lines=(
            ("Monto del crédito", format_mxn(from_centavos(loan.principal_centavos))),
            (
                "Comisión por apertura con IVA",
                format_mxn(
                    from_centavos(loan.opening_fee_centavos + loan.opening_fee_vat_centavos)
                ),
            ),
            ("Se envía por SPEI", format_mxn(net)),
            ("CLABE", account.masked),
            ("Beneficiario", " ".join(name.split())[:120]),
        ),
        amount=net,
    )


async def approve_and_disburse(
    runtime: Runtime, gateways: GatewayDirectory, actor: User, loan_id: int, clabe: str, name: str
) -> Disbursement:
    await preview_disbursement(actor, loan_id, clabe, name)
    try:
        return await _approve_and_disburse(
            runtime, gateways, actor, loan_id, clabe=clabe, beneficiary_name=name
        )
    except PaymentRefused as exc:
        raise _refused(exc) from None


# -- restructure and write off --------------------------------------------------------------


def _term_count(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 120:
        raise ConsoleRefused("INVALID_TERM", "Indica de 1 a 120 pagos nuevos.")
    return int(text)


def _reason(text: str) -> str:
    reason = " ".join(text.split())[:300]
    if not reason:
        raise ConsoleRefused("REASON_REQUIRED", "Escribe el motivo.")
    return reason


async def preview_restructure(
    runtime: Runtime, actor: User, loan_id: int, term_count: str, reason: str
) -> Preview:
    require(actor, ConsoleAction.RESTRUCTURE)
    loan = await _loan(actor, loan_id)
    _not_allowed(loan, LoanStatus.RESTRUCTURED, "reestructurar")
    count = _term_count(term_count)
    (view,) = await load_loan_views([loan], runtime.today())
    return Preview(
        title=f"Reestructurar el crédito {loan.id}",
        lines=(
            ("Capital por pagar hoy", format_mxn(view.balance.principal)),
            ("Pagos nuevos", str(count)),
            ("Motivo", _reason(reason)),
        ),
        amount=view.balance.principal,
    )


async def restructure(
    runtime: Runtime, actor: User, loan_id: int, term_count: str, reason: str
) -> int:
    """Reestructura por ampliación de plazo; returns the new contract version."""
    await preview_restructure(runtime, actor, loan_id, term_count, reason)
    loan = await _loan(actor, loan_id)
    try:
        return await _restructure(
            loan,
            on=runtime.today(),
            term_count=_term_count(term_count),
            actor_id=actor.id,
            reason=_reason(reason),
        )
    except LoanLifecycleError:
        raise ConsoleRefused(
            "NOT_RESTRUCTURABLE",
            "No hay pagos futuros sin abonos que reestructurar en este crédito.",
        ) from None


async def preview_write_off(runtime: Runtime, actor: User, loan_id: int, reason: str) -> Preview:
    require(actor, ConsoleAction.WRITE_OFF)
    loan = await _loan(actor, loan_id)
    _not_allowed(loan, LoanStatus.WRITTEN_OFF, "castigar")
    (view,) = await load_loan_views([loan], runtime.today())
    return Preview(
        title=f"Castigar el crédito {loan.id}",
        lines=(
            ("Saldo que deja de cobrarse", format_mxn(view.balance.total)),
            ("Días de atraso", str(view.balance.days_past_due)),
            ("Motivo", _reason(reason)),
        ),
        amount=view.balance.total,
    )


async def write_off(runtime: Runtime, actor: User, loan_id: int, reason: str) -> None:
    """Castigo of a defaulted loan (the lifecycle posts and audits it)."""
    await preview_write_off(runtime, actor, loan_id, reason)
    loan = await _loan(actor, loan_id)
    try:
        await _write_off(loan, on=runtime.today(), actor_id=actor.id, reason=_reason(reason))
    except LoanLifecycleError:
        raise ConsoleRefused(
            "NOT_WRITABLE_OFF",
            "El crédito tiene pagos adelantados: aplícalos o reembólsalos antes.",
        ) from None
