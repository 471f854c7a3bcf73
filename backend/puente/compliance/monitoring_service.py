"""Running the monitoring rules when money moves (service).

A payment that becomes PAID is monitored *after* its transition committed, in a task of its
own (``schedule_payment_monitoring``): the payment path never waits for it and never fails
because of it (an error is logged, the payment stands). ``monitor_payment`` builds the facts
the pure rules need (``rules.py``) from the database and records what they raise.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date, timedelta
from decimal import Decimal

from puente.accounts.models import User
from puente.cep.models import CepCheck, CepStatus
from puente.compliance.cases import raise_alert
from puente.compliance.institution_policy import policy_for
from puente.compliance.links import linked_customers
from puente.compliance.models import AmlAlert, FixRate, LoanApplication
from puente.compliance.policy import AmlPolicy
from puente.compliance.rules import (
    AlertDraft,
    CustomerFacts,
    DisbursementFact,
    FixRates,
    MissingFixRate,
    PaymentFact,
    evaluate_disbursement,
    evaluate_payment,
    structuring_linked,
)
from puente.compliance.screening_service import APPLICATION_CONTEXT
from puente.enums import JournalKind, LedgerAccountType, LoanStatus, PaymentMethodType
from puente.enums import PaymentStatus as S
from puente.ledger.models import Posting
from puente.loans.models import Loan
from puente.money import from_centavos
from puente.payments.lifecycle_service import Transition
from puente.payments.models import Payment
from puente.runtime import Runtime, mexico_city_date

__all__ = [
    "after_payment_transition",
    "drain_monitoring",
    "monitor_disbursement",
    "monitor_payment",
    "schedule_payment_monitoring",
    "store_fix_rates",
]

logger = logging.getLogger("puente.compliance")

# Statuses in which money arrived (a later refund does not unmake the operation).
RECEIVED = (S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED, S.CHARGED_BACK)
_TASKS: set[asyncio.Task[object]] = set()


async def store_fix_rates(rates: dict[date, Decimal]) -> int:
    """Store Banxico FIX rates (MXN per USD), replacing a day already stored."""
    for day, rate in rates.items():
        if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
            raise ValueError(f"FIX {day.isoformat()}: tipo de cambio no válido")
    for day, rate in rates.items():
        await FixRate.update_or_create(day=day, defaults={"mxn_per_usd": rate})
    return len(rates)


async def _fix_rates(until: date, days: int) -> FixRates:
    # A week more than the window: the FIX of a weekend or holiday is the last published.
    rows = await FixRate.filter(day__lte=until, day__gte=until - timedelta(days=days + 7))
    return FixRates({row.day: Decimal(row.mxn_per_usd) for row in rows})


async def _prepaid(payment_id: int) -> Decimal:
    """Money of this payment beyond what was due: advances held and principal prepaid."""
    rows = await Posting.filter(
        entry__payment_id=payment_id, entry__kind=JournalKind.PAYMENT
    ).prefetch_related("account")
    credited = 0
    for row in rows:
        kind = LedgerAccountType(row.account.type)
        if kind is LedgerAccountType.LOAN_ADVANCE or (
            kind is LedgerAccountType.LOAN_PRINCIPAL and row.installment_number is None
        ):
            credited -= row.amount_centavos  # credits are negative
    return from_centavos(max(credited, 0))


def _is_cash(payment: Payment, policy: AmlPolicy) -> bool:
    # Every cash payment in Puente is store cash (OXXO, Paynet): counted as efectivo only
    # while the policy says so (mexico.md §3.4, UNCONFIRMED).
    return PaymentMethodType(payment.method) is PaymentMethodType.CASH and policy.store_cash_is_cash


async def _fact(payment: Payment, loan: Loan, policy: AmlPolicy, *, current: bool) -> PaymentFact:
    paid_at = payment.paid_at or payment.updated_at
    # Only the payment being monitored can be the one that closed the loan.
    closes = current and LoanStatus(loan.status) is LoanStatus.PAID_OFF
    # The CEP's ordenante, once Banxico returned it (cep/service.py monitors again then).
    cep = (
        await CepCheck.filter(payment_id=payment.id, status=CepStatus.VALIDATED).first()
        if current
        else None
    )
    return PaymentFact(
        payment_id=payment.id,
        customer_id=loan.borrower_id,
        loan_id=loan.id,
        amount=from_centavos(payment.amount_centavos),
        cash=_is_cash(payment, policy),
        paid_at=paid_at,
        day=mexico_city_date(paid_at),
        payer_key=f"user:{payment.user_id}" if payment.user_id != loan.borrower_id else None,
        prepaid=await _prepaid(payment.id),
        closes_loan=closes,
        cep_ordenante_name=(cep.ordenante_name or None) if cep else None,
        cep_ordenante_rfc=_known_rfc(cep.ordenante_rfc) if cep else None,
    )


def _known_rfc(rfc: str) -> str | None:
    # Banxico writes "ND" (no disponible) when the sending bank gave no RFC.
    return rfc if rfc and rfc.upper() not in ("ND", "NA") else None


async def _customer(runtime: Runtime, loan: Loan) -> CustomerFacts:
    user = await User.get(id=loan.borrower_id)
    application = await LoanApplication.filter(user_id=user.id).order_by("-id").first()
    rfc, income = None, None
    if application is not None:
        data = json.loads(runtime.cipher.decrypt(application.data_enc, context=APPLICATION_CONTEXT))
        rfc = data.get("rfc")
        income = from_centavos(application.monthly_income_centavos)
    return CustomerFacts(user.id, user.full_name, rfc, income, loan.disbursed_at)


def _longest_window(policy: AmlPolicy) -> timedelta:
    return timedelta(
        days=max(
            policy.structuring_month_days,
            policy.third_party_window_days,
            policy.prepayment_window_days,
            1,
        )
    )


async def monitor_payment(runtime: Runtime, payment_id: int) -> list[AmlAlert]:
    """Run every enabled rule on a payment that landed; returns the alerts it raised."""
    payment = await Payment.filter(id=payment_id).prefetch_related("loan").first()
    if payment is None or S(payment.status) not in RECEIVED:
        return []
    loan = payment.loan
    policy = await policy_for(loan.institution_id)
    fact = await _fact(payment, loan, policy, current=True)
    span = _longest_window(policy)
    loans = await Loan.filter(borrower_id=loan.borrower_id).values_list("id", flat=True)
    earlier = await Payment.filter(
        loan_id__in=list(loans),
        status__in=list(RECEIVED),
        paid_at__gt=fact.paid_at - span,
        paid_at__lte=fact.paid_at,
        id__not=payment.id,
    ).prefetch_related("loan")
    history = [await _fact(p, p.loan, policy, current=False) for p in earlier]
    fx = await _fix_rates(fact.day, span.days)
    drafts = evaluate_payment(fact, history, await _customer(runtime, loan), fx, policy)
    linked = await _linked_structuring(fact, loan.institution_id, history, fx, policy)
    if linked is not None:
        drafts.append(linked)
    raised = []
    for draft in drafts:
        alert = await raise_alert(
            draft,
            institution_id=loan.institution_id,
            customer_id=loan.borrower_id,
            dedupe_key=f"payment:{payment.id}",
            at=runtime.now(),
            policy=policy,
        )
        if alert is not None:
            raised.append(alert)
    return raised


async def _linked_structuring(
    fact: PaymentFact, institution_id: int, own: list[PaymentFact], fx: FixRates, policy: AmlPolicy
) -> AlertDraft | None:
    """STRUCTURING_LINKED over the customer's and their linked customers' cash payments."""
    if "STRUCTURING_LINKED" not in policy.rules_enabled or not fact.cash:
        return None
    others = await linked_customers(fact.customer_id, institution_id)
    if not others:
        return None
    span = timedelta(days=max(policy.structuring_month_days, 1))
    loans = await Loan.filter(borrower_id__in=list(others)).values_list("id", flat=True)
    theirs = await Payment.filter(
        loan_id__in=list(loans),
        status__in=list(RECEIVED),
        paid_at__gt=fact.paid_at - span,
        paid_at__lte=fact.paid_at,
    ).prefetch_related("loan")
    group = [*own, *[await _fact(p, p.loan, policy, current=False) for p in theirs]]
    try:
        return structuring_linked(fact, group, fx, policy)
    except MissingFixRate:
        return None  # evaluate_payment already raised FIX_RATE_MISSING for this payment


async def monitor_disbursement(
    runtime: Runtime, loan: Loan, *, disbursement_id: int, clabe_matches: bool, name: str
) -> AmlAlert | None:
    """The payout rule: a CLABE other than the one the borrower declared raises an alert."""
    policy = await policy_for(loan.institution_id)
    draft = evaluate_disbursement(
        DisbursementFact(
            disbursement_id,
            loan.borrower_id,
            loan.id,
            from_centavos(loan.principal_centavos),
            clabe_matches,
            name,
        ),
        policy,
    )
    if draft is None:
        return None
    return await raise_alert(
        draft,
        institution_id=loan.institution_id,
        customer_id=loan.borrower_id,
        dedupe_key=f"disbursement:{disbursement_id}",
        at=runtime.now(),
        policy=policy,
    )


async def _monitor_safely(runtime: Runtime, payment_id: int) -> None:
    try:
        await monitor_payment(runtime, payment_id)
    except Exception:  # noqa: BLE001 - monitoring must never break the payment path
        logger.exception("AML monitoring failed for payment %s", payment_id)


def after_payment_transition(runtime: Runtime, transition: Transition) -> None:
    """Called by every door that commits a payment transition: a payment that just became
    PAID is monitored in the background."""
    if transition.applied and transition.after is S.PAID:
        schedule_payment_monitoring(runtime, transition.payment_id)


def schedule_payment_monitoring(runtime: Runtime, payment_id: int) -> None:
    """Monitor a payment in the background, after its transition committed."""
    task: asyncio.Task[object] = asyncio.get_running_loop().create_task(
        _monitor_safely(runtime, payment_id)
    )
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


async def drain_monitoring() -> None:
    """Wait for monitoring tasks in flight (tests, shutdown)."""
    while _TASKS:
        await asyncio.gather(*list(_TASKS), return_exceptions=True)
