"""The loan contract: its terms, its current installment rows, and replacing future rows.

A contract is versioned, never rewritten. When a prepayment or a restructuring changes what is
still to come, the rows after the current installment get ``superseded_on`` and their
replacements are inserted with the next ``version``. Those rows hold no postings (the engine
refuses to re-amortize installments that already hold payments, and an installment is billed
only when it falls due or a payment reaches it), so the ledger never points at a superseded
row. Rows already due, and the current one, are never touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Max

from puente.enums import LedgerAccountType
from puente.ledger.posting import loan_account_balances
from puente.loans.activity import ActivityRow, activity_rows, fold_activity
from puente.loans.engine import (
    InstallmentState,
    ScheduleRow,
)
from puente.loans.engine.schedule import Period
from puente.loans.installments import installment_states
from puente.loans.models import Installment, Loan
from puente.loans.terms import contract_periods, loan_terms
from puente.money import to_centavos

__all__ = [
    "LoanContract",
    "LoanReads",
    "billing_key",
    "current_rows",
    "installment_records",
    "load_contract",
    "read_loans",
    "loan_terms",
    "replace_future_rows",
    "with_recent",
]


def billing_key(row: Installment) -> str:
    """Idempotency key of a row's billing entry (version 1 keeps the original key)."""
    base = f"billing:{row.loan_id}:{row.number}"
    return base if row.version == 1 else f"{base}:v{row.version}"


async def current_rows(loan_id: int, conn: BaseDBAsyncClient | None = None) -> list[Installment]:
    """The installment rows of the contract in force, by number."""
    return (
        await Installment.filter(loan_id=loan_id, superseded_on__isnull=True)
        .using_db(conn)
        .order_by("number")
    )


@dataclass(frozen=True)
class LoanContract:
    """Current rows, the engine states derived from them and the ledger, and raw activity.

    ``totals`` is all the loan's activity, undated (the ledger's read model); ``recent`` the
    dated activity of entries effective on or after ``recent_since``: the earliest due date
    of an installment still owed, the first day the accrual may look at. So loading a
    contract reads what is still open, never the whole history of a long-paid loan.
    """

    loan: Loan
    rows: tuple[Installment, ...]
    states: tuple[InstallmentState, ...]
    totals: tuple[ActivityRow, ...]
    recent: tuple[ActivityRow, ...]  # dated: lets the accrual job rebuild any later day
    periods: Mapping[int, Period]
    # None: nothing is owed (no day needs rebuilding), or loaded without ``recent``
    # (``load_contract(dated=False)``): ``states_before`` refuses either way.
    recent_since: date | None = None

    def states_before(self, day: date) -> tuple[InstallmentState, ...]:
        """The installment states at the start of ``day`` (entries effective before it)."""
        if self.recent_since is None or day < self.recent_since:
            raise LookupError(f"states before {day} need activity from before {self.recent_since}")
        later = (r for r in self.recent if r.effective_date is None or r.effective_date >= day)
        folded = fold_activity(self.totals, minus=later)
        return installment_states(self.rows, folded, self.periods, self.fee_vat_rate)

    @property
    def fee_vat_rate(self) -> Decimal:
        """IVA owed on contractual fees: the loan's frozen IVA rate."""
        return Decimal(self.loan.vat_rate)

    @property
    def by_number(self) -> dict[int, Installment]:
        return {row.number: row for row in self.rows}


@dataclass(frozen=True, slots=True)
class LoanReads:
    """What a payment reads of a loan before it writes anything, read for many loans at
    once (``read_loans``) by a caller holding them locked: valid until the loan's first
    write, so it is used once."""

    rows: tuple[Installment, ...]
    totals: tuple[ActivityRow, ...]
    balances: Mapping[LedgerAccountType, int]  # natural sign, as loan_account_balances


async def read_loans(loan_ids: Sequence[int], conn: BaseDBAsyncClient) -> dict[int, LoanReads]:
    """``LoanReads`` of each loan in three queries, whatever their number."""
    ids = list(loan_ids)
    rows: dict[int, list[Installment]] = {loan_id: [] for loan_id in ids}
    found = (
        await Installment.filter(loan_id__in=ids, superseded_on__isnull=True)
        .using_db(conn)
        .order_by("loan_id", "number")
    )
    for row in found:
        rows[row.loan_id].append(row)
    totals = await activity_rows(ids, conn)
    balances = await loan_account_balances(ids, conn)
    return {
        loan_id: LoanReads(tuple(rows[loan_id]), tuple(totals[loan_id]), balances[loan_id])
        for loan_id in ids
    }


async def load_contract(
    loan: Loan,
    conn: BaseDBAsyncClient | None = None,
    *,
    dated: bool = True,
    reads: LoanReads | None = None,
) -> LoanContract:
    """Everything the services need to allocate, accrue or quote on one loan.

    ``dated=False``: without the dated recent activity (one query less), for a caller that
    allocates or quotes but never asks ``states_before`` (``with_recent`` adds it later).
    ``reads``: the loan's rows and activity already read (``read_loans``)."""
    if reads is not None:
        rows, totals = reads.rows, reads.totals
    else:
        rows = tuple(await current_rows(loan.id, conn))
        totals = tuple((await activity_rows([loan.id], conn))[loan.id])
    periods = contract_periods(loan, max((row.number for row in rows), default=0))
    states = installment_states(rows, fold_activity(totals), periods, Decimal(loan.vat_rate))
    contract = LoanContract(
        loan=loan, rows=rows, states=states, totals=totals, recent=(), periods=periods
    )
    return await with_recent(contract, conn) if dated else contract


async def with_recent(contract: LoanContract, conn: BaseDBAsyncClient | None) -> LoanContract:
    """``contract`` with the dated activity since its earliest still-owed due date."""
    owed = [state.due_date for state in contract.states if state.outstanding_total > 0]
    since = min(owed, default=None)
    if since is None:
        return replace(contract, recent=(), recent_since=None)
    loan_id = contract.loan.id
    recent = (await activity_rows([loan_id], conn, dated=True, since=since))[loan_id]
    return replace(contract, recent=tuple(recent), recent_since=since)


def installment_records(
    loan_id: int, rows: Sequence[ScheduleRow], *, version: int = 1
) -> list[Installment]:
    """Unsaved contract rows for schedule rows (version 1 at origination)."""
    return [
        Installment(
            loan_id=loan_id,
            number=row.number,
            due_date=row.due_date,
            principal_centavos=to_centavos(row.principal),
            interest_centavos=to_centavos(row.interest),
            vat_centavos=to_centavos(row.vat),
            total_centavos=to_centavos(row.total),
            version=version,
        )
        for row in rows
    ]


async def replace_future_rows(
    loan: Loan,
    superseded: Sequence[int],
    new_rows: Sequence[ScheduleRow],
    *,
    on: date,
    conn: BaseDBAsyncClient,
) -> int:
    """Supersede the current rows numbered ``superseded`` and insert ``new_rows`` as the next
    contract version; returns that version."""
    latest = (
        await Installment.filter(loan_id=loan.id)
        .using_db(conn)
        .annotate(top=Max("version"))
        .values("top")
    )
    version = int((latest[0]["top"] if latest else None) or 1) + 1
    if superseded:
        await (
            Installment.filter(loan_id=loan.id, number__in=list(superseded))
            .filter(superseded_on__isnull=True)
            .using_db(conn)
            .update(superseded_on=on)
        )
    if new_rows:
        await Installment.bulk_create(
            installment_records(loan.id, new_rows, version=version), using_db=conn
        )
    return version
