"""Billing: an installment's interest, IVA and fees become receivable when it falls due.

Billing happens on the due date (the daily job) or when a payment reaches the installment
(``application``), whichever comes first; each installment's entry has an idempotency key,
so a rerun or a race posts nothing twice. IVA is billed to vat_uncollected and moves to
vat_payable only when collected (LIVA art. 1-B).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.enums import JournalKind, LoanStatus
from puente.ledger.posting import AlreadyPosted, post_entry
from puente.loans.contract import billing_key, current_rows
from puente.loans.engine import Charge, Component
from puente.loans.installments import contract_fee_vat
from puente.loans.lifecycle import OPEN_STATUSES
from puente.loans.models import Installment, Loan
from puente.loans.postings import charge_lines
from puente.money import from_centavos

__all__ = ["bill_installments", "bill_one", "bill_reached"]


async def bill_one(loan: Loan, row: Installment, conn: BaseDBAsyncClient) -> bool:
    """Make an installment's interest, IVA (and tuition fee) receivable, once; True when
    this call posted it."""
    charges = [
        Charge(row.number, Component.INTEREST, from_centavos(row.interest_centavos)),
        Charge(row.number, Component.INTEREST_VAT, from_centavos(row.vat_centavos)),
        Charge(row.number, Component.FEE, from_centavos(row.fee_centavos)),
        Charge(row.number, Component.FEE_VAT, contract_fee_vat(row, Decimal(loan.vat_rate))),
    ]
    lines = charge_lines(loan.institution_id, loan.id, charges)
    if not lines:
        return False
    try:
        await post_entry(
            lines,
            kind=JournalKind.BILLING,
            effective_date=row.due_date,
            memo=f"installment {row.number} falls due",
            loan_id=loan.id,
            idempotency_key=billing_key(row),
            conn=conn,
        )
    except AlreadyPosted:
        return False
    return True


async def bill_reached(
    loan: Loan,
    numbers: set[int],
    conn: BaseDBAsyncClient,
    rows: Sequence[Installment] | None = None,
) -> None:
    """Bill the current rows a payment reaches (billing happens at the latest then), in the
    payment's transaction; ``rows``: the current rows when the caller has read them."""
    for row in rows if rows is not None else await current_rows(loan.id, conn):
        if row.number in numbers:
            await bill_one(loan, row, conn)


async def bill_installments(loan: Loan, today: date) -> int:
    """Bill every installment due by ``today``; returns how many were billed now (0 on a
    rerun: the daily job may run twice)."""
    if LoanStatus(loan.status) not in OPEN_STATUSES:
        return 0
    billed = 0
    async with in_transaction() as tx:
        # The same lock as payments: a payment may bill the same row at the same moment.
        await Loan.select_for_update().using_db(tx).get(id=loan.id)
        for row in await current_rows(loan.id, tx):
            if row.due_date <= today and await bill_one(loan, row, tx):
                billed += 1
    return billed
