"""SPEI payments received on STP: each loan has its own CLABE, every abono is applied.

The empresa's STP account hands out CLABEs under its own prefix (the first ten digits of its
cuenta); Puente gives loan N the CLABE ``prefix + N (7 digits) + check digit``, so an
incoming transfer names the loan it pays. A transfer to a CLABE that is no loan's is
returned to the sender (``devolver``) instead of being kept.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from clabe import compute_control_digit

from puente.enums import PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.loans.models import Loan
from puente.loans.payable import payable_amount
from puente.money import parse_amount, to_centavos
from puente.payments.lifecycle_service import Transition
from puente.payments.models import Payment
from puente.payments.outcomes import advance_and_notify
from puente.runtime import Runtime

__all__ = [
    "DEVOLUCION_CUENTA_INEXISTENTE",
    "apply_abono",
    "loan_clabe",
    "loan_for_abono",
    "loan_id_from_clabe",
    "payable_loan_for_abono",
    "unannounced_payment",
]

# STP's causa de devolución "cuenta inexistente" (1) for a CLABE that is nobody's (also
# used for a loan that takes no payments any more: the account no longer receives).
DEVOLUCION_CUENTA_INEXISTENTE = 1


def loan_clabe(cuenta: str, loan_id: int) -> str:
    """The CLABE a borrower transfers to for ``loan_id`` (under the empresa's prefix)."""
    if loan_id >= 10_000_000:
        raise ValueError("loan ids beyond 9,999,999 need a wider CLABE scheme")
    body = f"{cuenta[:10]}{loan_id:07d}"
    return body + compute_control_digit(body)


def loan_id_from_clabe(cuenta: str, clabe: str) -> int | None:
    """The loan a CLABE belongs to, or None when it is not one of ours."""
    if len(clabe) != 18 or not clabe.isdigit() or clabe[:10] != cuenta[:10]:
        return None
    if compute_control_digit(clabe[:17]) != clabe[17]:
        return None
    return int(clabe[10:17]) or None


async def loan_for_abono(institution_id: int, cuenta: str, raw: bytes) -> Loan | None:
    """The loan whose CLABE an abono names, whatever its status (None: no loan of ours)."""
    try:
        body = json.loads(raw)
        loan_id = loan_id_from_clabe(cuenta, str(body.get("cuentaBeneficiario", "")))
    except (ValueError, AttributeError):
        return None
    if loan_id is None:
        return None
    return await Loan.filter(id=loan_id, institution_id=institution_id).first()


async def payable_loan_for_abono(
    institution_id: int, cuenta: str, raw: bytes, today: date
) -> Loan | None:
    """The loan an abono pays if it may be paid today (``loans.payable``), or None: then STP
    is answered ``devolver`` and the money goes back to the sender. Once we answer
    ``confirmar`` the money is ours and is applied whatever happens next (``apply_abono``)."""
    loan = await loan_for_abono(institution_id, cuenta, raw)
    if loan is None or not (await payable_amount(loan, today)).may_pay:
        return None
    return loan


def _same_reference(wanted: str, received: str) -> bool:
    """Referencias numéricas match as numbers ("0012345" is 12345); anything else never does."""
    if not (wanted.isascii() and wanted.isdigit() and received.isascii() and received.isdigit()):
        return False
    return int(wanted) == int(received)


async def unannounced_payment(
    loan: Loan, centavos: int, *, provider: ProviderName, key: str
) -> Payment:
    """The payment recording money that reached ``loan`` with no payment announced (an
    abono, a deposit on a statement, a share of a payroll remittance): created once per
    ``key``; the caller brings it to PAID through the funnel (``advance_and_notify``)."""
    payment, _ = await Payment.get_or_create(
        institution_id=loan.institution_id,
        idempotency_key=key,
        defaults={
            "loan_id": loan.id,
            "user_id": loan.borrower_id,
            "provider": provider,
            "method": PaymentMethodType.SPEI,
            "amount_centavos": centavos,
            "status": S.CREATED,
            "request_fingerprint": key[:64],
            "prepayment_mode": loan.overpayment_mode,  # not asked: the standing choice
        },
    )
    return payment


async def apply_abono(runtime: Runtime, raw_body: str, loan: Loan, at: datetime) -> Transition:
    """Record the received transfer as a PAID payment of ``loan`` (exactly once per abono).

    A payment the borrower announced (same referencia numérica and amount) is completed;
    otherwise the money still counts: a new payment is recorded for what arrived. Applying
    it (``apply_payment``) puts what the loan cannot take (closed meanwhile, beyond the
    payoff) in suspense with an exception for staff: a confirmed abono never vanishes.
    """
    body = json.loads(raw_body)
    amount = parse_amount(str(body["monto"]))
    abono_id = str(body.get("id") or body["claveRastreo"])
    reference = str(body.get("referenciaNumerica") or "")
    announced = None
    for payment in await Payment.filter(
        loan_id=loan.id,
        provider=ProviderName.STP,
        status=S.REQUIRES_ACTION,
        amount_centavos=to_centavos(amount),
    ).order_by("id"):
        wanted = str((payment.next_action or {}).get("reference") or "")
        if _same_reference(wanted, reference):
            announced = payment
            break
    if announced is None:
        announced = await unannounced_payment(
            loan, to_centavos(amount), provider=ProviderName.STP, key=f"stp-abono-{abono_id}"
        )
    return await advance_and_notify(
        runtime,
        announced.id,
        S.PAID,
        source=f"webhook:stp:abono:{abono_id}",
        at=at,
        provider_reference=f"abono:{abono_id}",
    )
