"""Refunds and partial refunds unwind a payment's allocation, last-applied first."""

from __future__ import annotations

from datetime import date

from tortoise.backends.base.client import BaseDBAsyncClient

from puente.enums import JournalKind
from puente.enums import LedgerAccountType as T
from puente.ledger.entries import AccountRef, Line
from puente.ledger.models import JournalEntry
from puente.ledger.posting import AlreadyPosted, entry_lines, post_entry

__all__ = ["post_partial_refund"]

_VAT_MOVES = frozenset({T.VAT_UNCOLLECTED, T.VAT_PAYABLE})


async def post_partial_refund(
    payment_entry: JournalEntry,
    *,
    already_refunded: int,
    amount: int,
    effective_date: date,
    kind: JournalKind = JournalKind.REFUND,
    conn: BaseDBAsyncClient | None = None,
) -> JournalEntry | None:
    """Post a REFUND entry returning ``amount`` centavos of ``payment_entry``.

    The money was allocated by prelación (fees, moratorium, interest, principal, then any
    advance or suspense); a refund gives back the last-applied part first, so the oldest
    charges stay paid and the installments it touches reopen. IVA moved to ``vat_payable``
    on collection moves back to ``vat_uncollected`` for the refunded part. A chargeback after
    a partial refund takes back the rest the same way (``kind=CHARGEBACK``).
    """
    lines = await entry_lines(payment_entry, conn)
    cash = next(line for line in lines if line.centavos > 0 and line.account.type not in _VAT_MOVES)
    credits = [line for line in lines if line.centavos < 0 and line.account.type not in _VAT_MOVES]
    skip, left = already_refunded, amount
    out: list[Line] = []
    for line in reversed(credits):
        available = -line.centavos
        if skip >= available:
            skip -= available
            continue
        available -= skip
        skip = 0
        take = min(available, left)
        out.append(Line(line.account, take, line.installment_number, line.component))
        if line.component and line.component.endswith("_VAT"):
            inst = line.account.institution_id
            out.append(Line(AccountRef(inst, T.VAT_PAYABLE), take))
            out.append(Line(AccountRef(inst, T.VAT_UNCOLLECTED), -take))
        left -= take
        if left == 0:
            break
    refunded = amount - left
    if refunded == 0:
        return None
    out.append(Line(cash.account, -refunded))
    try:
        return await post_entry(
            out,
            kind=kind,
            effective_date=effective_date,
            memo=f"{kind.value} of entry {payment_entry.id}",
            loan_id=payment_entry.loan_id,
            payment_id=payment_entry.payment_id,
            idempotency_key=f"{kind.value}:{payment_entry.id}:{already_refunded + refunded}",
            conn=conn,
        )
    except AlreadyPosted:
        return None
