"""Loan read model: installments and balances derived from the contract and the ledger.

The GraphQL API and the portal both read loans through :func:`load_loan_views`, so they
show the same centavos. It sits above the contract and the payoff (a balance past its grace
is the payoff's states, moratorium not posted yet included); the states themselves are
built in ``loans.installments``, below both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from tortoise.backends.base.client import BaseDBAsyncClient

from puente.enums import LedgerAccountType as T
from puente.enums import LoanStatus
from puente.ledger.posting import loan_account_balances
from puente.loans.activity import InstallmentActivity, activity_rows, fold_activity
from puente.loans.engine import (
    MEXICO_BANKS,
    Component,
    DelinquencyBucket,
    InstallmentState,
    bucket_for_days,
    days_past_due,
    payoff_amount,
)
from puente.loans.engine.delinquency import grace_end
from puente.loans.installments import installment_states
from puente.loans.models import Installment, Loan
from puente.loans.payoff import states_as_of
from puente.loans.pricing import priced_for_day
from puente.loans.terms import OPEN_STATUSES, contract_periods
from puente.money import ZERO, from_centavos

__all__ = [
    "InstallmentStatus",
    "InstallmentView",
    "LoanBalanceView",
    "LoanView",
    "load_loan_views",
]


class InstallmentStatus(StrEnum):
    PENDING = "PENDING"
    PARTIAL = "PARTIAL"
    PAID = "PAID"
    OVERDUE = "OVERDUE"
    WRITTEN_OFF = "WRITTEN_OFF"  # castigado: the loan was written off before it was paid


@dataclass(frozen=True, slots=True)
class InstallmentView:
    number: int
    due_date: date
    principal: Decimal
    interest: Decimal
    vat: Decimal
    charges: Decimal  # moratorium interest, late fees and their IVA
    total: Decimal
    paid: Decimal
    outstanding: Decimal
    status: InstallmentStatus
    written_off: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class LoanBalanceView:
    total: Decimal
    principal: Decimal
    interest: Decimal
    vat: Decimal
    late_interest: Decimal
    fees: Decimal
    advance: Decimal  # pagos adelantados held for the next installments
    overdue: Decimal
    days_past_due: int
    bucket: DelinquencyBucket = DelinquencyBucket.CURRENT  # aging: current, 1-29 ... 90+


@dataclass(frozen=True, slots=True)
class LoanView:
    loan: Loan
    installments: tuple[InstallmentView, ...]
    balance: LoanBalanceView
    states: tuple[InstallmentState, ...]

    @property
    def next_installment(self) -> InstallmentView | None:
        settled = (InstallmentStatus.PAID, InstallmentStatus.WRITTEN_OFF)
        return next((i for i in self.installments if i.status not in settled), None)

    @property
    def next_payment_due(self) -> Decimal | None:
        """ "Próximo pago": the next installment less the advances already held for it."""
        return next((amount for _, amount in self.amounts_to_cover()), None)

    def amounts_to_cover(self) -> Iterator[tuple[int, Decimal]]:
        """``(n, amount)``: what still has to be paid to settle the next ``n`` open
        installments, oldest first (prelación's order), less the advances held.

        Advances (``loan_advance``) pay installments as they fall due, so the borrower owes
        only the difference (never below zero). The one place of this sum: GraphQL
        ``nextPaymentDue``, the portal's "Próximo pago" and its pay-several offers ask it.
        """
        settled = (InstallmentStatus.PAID, InstallmentStatus.WRITTEN_OFF)
        running = -self.balance.advance
        count = 0
        for installment in self.installments:
            if installment.status in settled or installment.outstanding <= 0:
                continue
            running += installment.outstanding
            count += 1
            yield count, max(running, ZERO)


def _status(state: InstallmentState, today: date, written_off: bool) -> InstallmentStatus:
    if written_off:
        return InstallmentStatus.WRITTEN_OFF
    if state.is_settled:
        return InstallmentStatus.PAID
    if today > grace_end(state, MEXICO_BANKS):
        return InstallmentStatus.OVERDUE
    if state.paid_total > 0:
        return InstallmentStatus.PARTIAL
    return InstallmentStatus.PENDING


def _view(
    state: InstallmentState, activity: InstallmentActivity | None, today: date, closed: bool
) -> InstallmentView:
    due = state.due
    charges = (
        due[Component.LATE_INTEREST]
        + due[Component.LATE_INTEREST_VAT]
        + due[Component.FEE_VAT]
        + due[Component.FEE]
    )
    written_off = from_centavos(sum(activity.written_off.values())) if activity else ZERO
    paid = state.paid_total - written_off
    # A written-off loan owes nothing in the books: what was left is shown as castigado.
    written_off_view = closed and paid < state.due_total
    return InstallmentView(
        number=state.number,
        due_date=state.due_date,
        principal=due[Component.PRINCIPAL],
        interest=due[Component.INTEREST],
        vat=due[Component.INTEREST_VAT],
        charges=charges,
        total=state.due_total,
        paid=paid,
        outstanding=ZERO if closed else state.outstanding_total,
        status=_status(state, today, written_off_view),
        written_off=state.due_total - paid if written_off_view else ZERO,
    )


def _balance(
    accounts: Mapping[T, int],
    states: Sequence[InstallmentState],
    today: date,
    closed: bool,
    running: bool,
) -> LoanBalanceView:
    """What the borrower owes today: the payoff (saldo para liquidar hoy).

    Interest counts only for the days already elapsed (mexico.md §2.1: never charged in
    advance), so a payment always lowers the balance by what it paid, even one that reaches
    an installment before its due date. Derived from the contract and the postings.
    """
    advance = from_centavos(accounts.get(T.LOAN_ADVANCE, 0))
    overdue = sum((s.outstanding_total for s in states if today > grace_end(s, MEXICO_BANKS)), ZERO)
    late_days = days_past_due(states, today, MEXICO_BANKS)
    if closed:
        overdue, late_days = ZERO, 0
    credit = ZERO  # interest (and IVA) paid ahead of the days elapsed: counts as paid
    if running and states:
        payoff = payoff_amount(states, today)
        principal, interest = payoff.principal, payoff.interest
        vat = payoff.interest_vat + payoff.late_interest_vat + payoff.fee_vat
        late, fees = payoff.late_interest, payoff.fee
        credit = payoff.unearned_interest_paid
    else:
        principal = interest = vat = late = fees = ZERO
    return LoanBalanceView(
        total=max(principal + interest + vat + late + fees - credit - advance, ZERO),
        principal=principal,
        interest=interest,
        vat=vat,
        late_interest=late,
        fees=fees,
        advance=advance,
        overdue=overdue,
        days_past_due=late_days,
        bucket=bucket_for_days(late_days),
    )


def _may_owe_unposted_charges(states: Sequence[InstallmentState], today: date) -> bool:
    """True when an installment is past its grace: moratorium may have accrued since the
    daily job last posted it (only such loans pay the cost of a full contract read)."""
    return any(s.outstanding_total > 0 and today > grace_end(s, MEXICO_BANKS) for s in states)


async def _charged_to_date(
    loan: Loan, today: date, conn: BaseDBAsyncClient | None
) -> tuple[InstallmentState, ...]:
    """States owing what a payment today would owe: "Saldo" is then exactly the payoff
    that ``payable_amount`` allows, charges the daily job has not posted yet included."""
    return await states_as_of(loan, today, conn)


async def load_loan_views(
    loans: Sequence[Loan], today: date, conn: BaseDBAsyncClient | None = None
) -> list[LoanView]:
    """Views of many loans with a fixed number of queries (no N+1)."""
    ids = [loan.id for loan in loans]
    if not ids:
        return []
    rows = (
        await Installment.filter(loan_id__in=ids, superseded_on__isnull=True)
        .using_db(conn)
        .order_by("loan_id", "number")
    )
    by_loan: dict[int, list[Installment]] = {loan_id: [] for loan_id in ids}
    for row in rows:
        by_loan[row.loan_id].append(row)
    activity = await activity_rows(ids, conn)
    accounts = await loan_account_balances(ids, conn)
    views = []
    for loan in loans:
        folded = fold_activity(activity[loan.id])
        rows_of_loan = by_loan[loan.id]
        periods = contract_periods(loan, max((r.number for r in rows_of_loan), default=0))
        states = installment_states(rows_of_loan, folded, periods, Decimal(loan.vat_rate))
        # What is owed if paid today: a colegiatura's pronto pago or recargo included, so
        # nextInstallment, the balance and the portal's pay form offer today's price.
        states = priced_for_day(loan, states, today)
        closed = LoanStatus(loan.status) is LoanStatus.WRITTEN_OFF
        running = LoanStatus(loan.status) in OPEN_STATUSES
        if running and _may_owe_unposted_charges(states, today):
            states = await _charged_to_date(loan, today, conn)
        views.append(
            LoanView(
                loan=loan,
                installments=tuple(_view(s, folded.get(s.number), today, closed) for s in states),
                balance=_balance(accounts[loan.id], states, today, closed, running),
                states=states,
            )
        )
    return views
