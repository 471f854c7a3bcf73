"""Moratorium accrual (intereses moratorios, late fees) posted to the ledger, once per day.

Each charge the engine's ``accrue_days`` produces for a day becomes one LATE_CHARGE entry keyed by
(loan, installment, day, component), so running the job twice for a day, or a payment and the
job racing on the same day, posts nothing twice. A day is accrued on the state at its start
(entries effective before it), which is what makes a rerun compute the same charges. Days the
job missed are caught up (at most ``MAX_CATCH_UP_DAYS``), and a payment accrues everything up to
its own date first, so the amount it pays off is the amount that was owed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Max
from tortoise.transactions import in_transaction

from puente.enums import JournalKind, LoanStatus
from puente.ledger.models import JournalEntry
from puente.ledger.posting import AlreadyPosted, post_entry
from puente.loans.activity import stored_date
from puente.loans.contract import LoanContract, LoanReads, load_contract, with_recent
from puente.loans.engine import (
    MEXICO_BANKS,
    Accrual,
    Charge,
    InstallmentState,
    MoratoriumPolicy,
    accrue_days,
)
from puente.loans.engine.delinquency import grace_end
from puente.loans.lifecycle import OPEN_STATUSES
from puente.loans.models import Loan, LoanProduct
from puente.loans.postings import charge_lines
from puente.loans.pricing import pricing_for
from puente.money import from_centavos

__all__ = [
    "MAX_CATCH_UP_DAYS",
    "accrue_all",
    "accrue_locked",
    "any_late",
    "accrue_loan",
    "last_accrued_day",
    "late_charge_key",
    "moratorium_policy",
    "pending_accruals",
]

MAX_CATCH_UP_DAYS = 400  # a job silent for longer than this needs a person, not a loop
_ONE_DAY = timedelta(days=1)


def moratorium_policy(product: LoanProduct, loan: Loan) -> MoratoriumPolicy:
    """The product's late-payment rules, with the loan's frozen IVA rate."""
    return MoratoriumPolicy(
        annual_rate=Decimal(product.late_annual_rate),
        vat_rate=Decimal(loan.vat_rate),
        late_fee=from_centavos(product.late_fee_centavos),
    )


def late_charge_key(loan_id: int, charge: Charge, day: date) -> str:
    """One key per (loan, installment, day, component): the unit that must post once."""
    return f"late:{loan_id}:{charge.installment_number}:{day.isoformat()}:{charge.component}"


async def last_accrued_day(loan_id: int, conn: BaseDBAsyncClient | None) -> date | None:
    rows = (
        await JournalEntry.filter(loan_id=loan_id, kind=JournalKind.LATE_CHARGE)
        .using_db(conn)
        .annotate(last=Max("effective_date"))
        .values("last")
    )
    return stored_date(rows[0]["last"] if rows else None)


def pending_accruals(
    contract: LoanContract,
    policy: MoratoriumPolicy,
    through: date,
    last_accrued: date | None,
) -> list[Accrual]:
    """The daily accruals not yet posted up to ``through`` (pure: nothing is written).

    The exact accrual runs from the first late day (the total is rounded once, so the history
    counts); only days after ``last_accrued`` (and at most ``MAX_CATCH_UP_DAYS``) are posted.
    """
    if policy.annual_rate == 0 and policy.late_fee == 0:
        return []
    late_from = [
        grace_end(state, MEXICO_BANKS) + _ONE_DAY
        for state in contract.states
        if state.outstanding_total > 0
    ]
    if not late_from:
        return []
    emit_after = through - timedelta(days=MAX_CATCH_UP_DAYS + 1)
    if last_accrued is not None:
        emit_after = max(emit_after, last_accrued)
    if emit_after >= through:
        return []
    days = _states_by_day(contract, min(late_from), through)
    return list(accrue_days(days, policy, emit_after=emit_after, calendar=MEXICO_BANKS))


def _states_by_day(
    contract: LoanContract, first: date, through: date
) -> Iterator[tuple[date, tuple[InstallmentState, ...]]]:
    """(day, states at its start) for each day; rebuilt only when an entry took effect."""
    changes = sorted({row.effective_date for row in contract.recent if row.effective_date})
    states = contract.states_before(first)
    index = bisect_right(changes, first - _ONE_DAY)  # changes already inside ``states``
    day = first
    while day <= through:
        if index < len(changes) and changes[index] < day:
            states = contract.states_before(day)
            index = bisect_right(changes, day - _ONE_DAY)
        yield day, states
        day += _ONE_DAY


async def accrue_loan(loan: Loan, day: date, *, conn: BaseDBAsyncClient | None = None) -> int:
    """Post the moratorium interest, late fees and their IVA owed through ``day`` (tuition:
    the recargos); returns how many entries were posted (0 on a rerun)."""
    if conn is None:
        async with in_transaction() as tx:
            return await accrue_loan(loan, day, conn=tx)
    locked = await Loan.select_for_update().using_db(conn).get(id=loan.id)
    if LoanStatus(locked.status) not in OPEN_STATUSES:
        return 0
    product = await LoanProduct.get(id=locked.product_id).using_db(conn)
    posted, _ = await accrue_locked(locked, product, day, conn=conn)
    return posted


async def accrue_locked(
    loan: Loan,
    product: LoanProduct,
    day: date,
    *,
    conn: BaseDBAsyncClient,
    reads: LoanReads | None = None,
) -> tuple[int, LoanContract | None]:
    """``accrue_loan`` for an open loan the caller holds locked, its product already read.

    Also returns the contract it read when it posted nothing (the usual case for a payment),
    so the caller does not read it again (without its dated activity unless an installment
    was late: ``states_before`` refuses it); None when it posted or read none. ``reads``:
    the loan's rows and activity already read (``contract.read_loans``).
    """
    pricing = pricing_for(product.kind)
    if pricing is not None:  # e.g. a colegiatura: its recargo instead of moratorium
        return await pricing.charge_late(await load_contract(loan, conn), day, conn=conn), None
    policy = moratorium_policy(product, loan)
    if policy.annual_rate == 0 and policy.late_fee == 0:
        # No moratorium: nothing to read, unless it is already read (no query then).
        return 0, (await load_contract(loan, conn, dated=False, reads=reads) if reads else None)
    contract = await load_contract(loan, conn, dated=False, reads=reads)
    if not any_late(contract, day):
        return 0, contract  # nothing past its grace yet: no need to ask what was accrued
    contract = await with_recent(contract, conn)  # the accrual rebuilds past days
    accruals = pending_accruals(contract, policy, day, await last_accrued_day(loan.id, conn))
    posted = await post_charges(loan, accruals, conn=conn)
    return posted, (contract if posted == 0 else None)


def any_late(contract: LoanContract, day: date) -> bool:
    """Whether an installment with something outstanding is past its grace on ``day``."""
    return any(
        grace_end(state, MEXICO_BANKS) + _ONE_DAY <= day
        for state in contract.states
        if state.outstanding_total > 0
    )


async def post_charges(loan: Loan, accruals: Sequence[Accrual], *, conn: BaseDBAsyncClient) -> int:
    """One LATE_CHARGE entry per charge, skipping any already posted."""
    posted = 0
    for accrual in accruals:
        for charge in accrual.charges:
            lines = charge_lines(loan.institution_id, loan.id, [charge])
            if not lines:
                continue
            try:
                await post_entry(
                    lines,
                    kind=JournalKind.LATE_CHARGE,
                    effective_date=accrual.day,
                    memo=f"{charge.component.value} installment {charge.installment_number}",
                    loan_id=loan.id,
                    idempotency_key=late_charge_key(loan.id, charge, accrual.day),
                    conn=conn,
                )
                posted += 1
            except AlreadyPosted:
                continue
    return posted


async def accrue_all(day: date) -> int:
    """Accrue every open loan through ``day``, one transaction per loan; returns the number
    of entries posted (0 when the day was already accrued)."""
    ids = (
        await Loan.filter(status__in=list(OPEN_STATUSES))
        .order_by("id")
        .values_list("id", flat=True)
    )
    posted = 0
    for loan_id in ids:
        posted += await accrue_loan(await Loan.get(id=loan_id), day)
    return posted
