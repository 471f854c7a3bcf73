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
from collections.abc import Sequence
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
from puente.money import ZERO, from_centavos
from puente.payments.lifecycle_service import Transition
from puente.payments.models import Payment
from puente.runtime import Runtime, mexico_city_date

__all__ = [
    "after_payment_transition",
    "drain_monitoring",
    "monitor_disbursement",
    "monitor_payment",
    "monitor_payments",
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


async def _prepaid_of(payment_ids: set[int]) -> dict[int, Decimal]:
    """Money of each payment beyond what was due: advances held and principal prepaid."""
    if not payment_ids:
        return {}
    rows = await Posting.filter(
        entry__payment_id__in=list(payment_ids), entry__kind=JournalKind.PAYMENT
    ).values_list("entry__payment_id", "account__type", "installment_number", "amount_centavos")
    credited: dict[int, int] = dict.fromkeys(payment_ids, 0)
    for payment_id, account_type, installment_number, amount in rows:
        kind = LedgerAccountType(account_type)
        if kind is LedgerAccountType.LOAN_ADVANCE or (
            kind is LedgerAccountType.LOAN_PRINCIPAL and installment_number is None
        ):
            credited[payment_id] -= amount  # credits are negative
    return {key: from_centavos(max(value, 0)) for key, value in credited.items()}


def _is_cash(payment: Payment, policy: AmlPolicy) -> bool:
    # Every cash payment in Puente is store cash (OXXO, Paynet): counted as efectivo only
    # while the policy says so (mexico.md §3.4, UNCONFIRMED).
    return PaymentMethodType(payment.method) is PaymentMethodType.CASH and policy.store_cash_is_cash


def _fact(
    payment: Payment,
    loan: Loan,
    policy: AmlPolicy,
    *,
    current: bool,
    prepaid: dict[int, Decimal],
    cep: dict[int, CepCheck] | None = None,
) -> PaymentFact:
    paid_at = payment.paid_at or payment.updated_at
    # Only the payment being monitored can be the one that closed the loan.
    closes = current and LoanStatus(loan.status) is LoanStatus.PAID_OFF
    # The CEP's ordenante, once Banxico returned it (cep/service.py monitors again then).
    check = (cep or {}).get(payment.id) if current else None
    return PaymentFact(
        payment_id=payment.id,
        customer_id=loan.borrower_id,
        loan_id=loan.id,
        amount=from_centavos(payment.amount_centavos),
        cash=_is_cash(payment, policy),
        paid_at=paid_at,
        day=mexico_city_date(paid_at),
        payer_key=f"user:{payment.user_id}" if payment.user_id != loan.borrower_id else None,
        prepaid=prepaid.get(payment.id, ZERO),
        closes_loan=closes,
        cep_ordenante_name=(check.ordenante_name or None) if check else None,
        cep_ordenante_rfc=_known_rfc(check.ordenante_rfc) if check else None,
    )


def _known_rfc(rfc: str) -> str | None:
    # Banxico writes "ND" (no disponible) when the sending bank gave no RFC.
    return rfc if rfc and rfc.upper() not in ("ND", "NA") else None


async def _customers(runtime: Runtime, loans: list[Loan]) -> dict[int, CustomerFacts]:
    """Each loan's borrower facts (name, RFC and income of the latest application), by loan."""
    users = {u.id: u for u in await User.filter(id__in={loan.borrower_id for loan in loans})}
    latest: dict[int, LoanApplication] = {}
    for application in await LoanApplication.filter(user_id__in=list(users)).order_by("id"):
        latest[application.user_id] = application
    facts = {}
    for loan in loans:
        user = users[loan.borrower_id]
        application = latest.get(user.id)
        rfc, income = None, None
        if application is not None:
            data = json.loads(
                runtime.cipher.decrypt(application.data_enc, context=APPLICATION_CONTEXT)
            )
            rfc = data.get("rfc")
            income = from_centavos(application.monthly_income_centavos)
        facts[loan.id] = CustomerFacts(user.id, user.full_name, rfc, income, loan.disbursed_at)
    return facts


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
    return await monitor_payments(runtime, [payment_id])


async def monitor_payments(runtime: Runtime, payment_ids: Sequence[int]) -> list[AmlAlert]:
    """Run every enabled rule on each of these payments that landed, reading what the rules
    need for all of them at once (a batch of charges: a few queries, not a dozen each).
    Each payment is judged exactly as on its own: its borrower's payments in the window
    before it, the FIX rates of its window, its customer facts."""
    found = await Payment.filter(id__in=list(payment_ids)).prefetch_related("loan").order_by("id")
    payments = [p for p in found if S(p.status) in RECEIVED]
    if not payments:
        return []
    policies: dict[int, AmlPolicy] = {}
    for payment in payments:
        institution_id = payment.loan.institution_id
        if institution_id not in policies:
            policies[institution_id] = await policy_for(institution_id)
    ids = [p.id for p in payments]
    ceps: dict[int, CepCheck] = {}
    for check in await CepCheck.filter(payment_id__in=ids, status=CepStatus.VALIDATED).order_by(
        "id"
    ):
        ceps.setdefault(check.payment_id, check)
    spans = {p.id: _longest_window(policies[p.loan.institution_id]) for p in payments}
    paid = {p.id: p.paid_at or p.updated_at for p in payments}
    borrowers = {p.loan.borrower_id for p in payments}
    loans_of: dict[int, list[int]] = {}
    for loan_id, borrower_id in await Loan.filter(borrower_id__in=borrowers).values_list(
        "id", "borrower_id"
    ):
        loans_of.setdefault(borrower_id, []).append(loan_id)
    nearby = await Payment.filter(
        loan_id__in=[i for loans in loans_of.values() for i in loans],
        status__in=list(RECEIVED),
        paid_at__gt=min(paid[i] - spans[i] for i in ids),
        paid_at__lte=max(paid.values()),
    ).prefetch_related("loan")
    prepaid = await _prepaid_of({*ids, *(p.id for p in nearby)})
    fixes = await FixRate.filter(
        day__lte=max(mexico_city_date(at) for at in paid.values()),
        day__gte=min(mexico_city_date(paid[i]) - timedelta(days=spans[i].days + 7) for i in ids),
    )
    customers = await _customers(runtime, [p.loan for p in payments])
    raised = []
    for payment in payments:
        loan = payment.loan
        policy = policies[loan.institution_id]
        span = spans[payment.id]
        fact = _fact(payment, loan, policy, current=True, prepaid=prepaid, cep=ceps)
        # The same rows ``paid_at > paid - span AND paid_at <= paid`` would read, one borrower.
        history = [
            _fact(p, p.loan, policy, current=False, prepaid=prepaid, cep=ceps)
            for p in nearby
            if p.loan.borrower_id == loan.borrower_id
            and p.id != payment.id
            and p.paid_at is not None
            and fact.paid_at - span < p.paid_at <= fact.paid_at
        ]
        earliest = fact.day - timedelta(days=span.days + 7)
        fx = FixRates(
            {row.day: Decimal(row.mxn_per_usd) for row in fixes if earliest <= row.day <= fact.day}
        )
        drafts = evaluate_payment(fact, history, customers[loan.id], fx, policy)
        linked = await _linked_structuring(fact, loan.institution_id, history, fx, policy)
        if linked is not None:
            drafts.append(linked)
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
    prepaid = await _prepaid_of({p.id for p in theirs})
    group = [*own, *[_fact(p, p.loan, policy, current=False, prepaid=prepaid) for p in theirs]]
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


MONITOR_BATCH = 200
_PENDING: list[tuple[asyncio.AbstractEventLoop, Runtime, int]] = []
_FLUSHER: list[asyncio.Task[object]] = []


async def _monitor_safely(runtime: Runtime, payment_ids: list[int]) -> None:
    try:
        await monitor_payments(runtime, payment_ids)
        return
    except Exception:  # noqa: BLE001 - monitoring must never break the payment path
        if len(payment_ids) == 1:
            logger.exception("AML monitoring failed for payment %s", payment_ids[0])
            return
    for payment_id in payment_ids:  # one bad payment must not hide the others
        await _monitor_safely(runtime, [payment_id])


async def _flush() -> None:
    """Monitor every payment scheduled so far, together (per runtime, in batches)."""
    while _PENDING:
        taken = _PENDING[:]
        del _PENDING[:]
        by_runtime: dict[int, tuple[Runtime, list[int]]] = {}
        loop = asyncio.get_running_loop()
        for owner, runtime, payment_id in taken:
            if owner is not loop:
                continue  # left by a loop that ended before it ran (its database is gone)
            by_runtime.setdefault(id(runtime), (runtime, []))[1].append(payment_id)
        for runtime, ids in by_runtime.values():
            unique = list(dict.fromkeys(ids))
            for start in range(0, len(unique), MONITOR_BATCH):
                await _monitor_safely(runtime, unique[start : start + MONITOR_BATCH])


def after_payment_transition(runtime: Runtime, transition: Transition) -> None:
    """Called by every door that commits a payment transition: a payment that just became
    PAID is monitored in the background."""
    if transition.applied and transition.after is S.PAID:
        schedule_payment_monitoring(runtime, transition.payment_id)


def schedule_payment_monitoring(runtime: Runtime, payment_id: int) -> None:
    """Monitor a payment in the background, after its transition committed. Payments
    scheduled before the background task starts are monitored together: a door that
    announces a batch of transitions at once (the domiciliación job, per batch of charges)
    gets one batched read instead of one per payment."""
    loop = asyncio.get_running_loop()
    _PENDING.append((loop, runtime, payment_id))
    if _FLUSHER and not _FLUSHER[0].done() and _FLUSHER[0].get_loop() is loop:
        return  # the running flush takes it
    task: asyncio.Task[object] = loop.create_task(_flush())
    _FLUSHER[:] = [task]
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


async def drain_monitoring() -> None:
    """Wait for monitoring tasks in flight (tests, shutdown)."""
    while _TASKS:
        await asyncio.gather(*list(_TASKS), return_exceptions=True)
