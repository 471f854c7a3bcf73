"""Suspense exceptions: money received that no loan could take, visible until staff decide.

Money we confirmed receiving always reaches the books. When a payment cannot be applied
(whole or in part: the loan was paid off meanwhile, it paid more than the payoff), the
payment's journal entry credits the institution's ``suspense`` account and, in the same
transaction, :func:`open_suspense_item` records why, for which loan and payment, and who
brought the money. Staff list the open ones and resolve them (a refund, a manual
application) with a note; both steps are audited.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.audit.service import record_audit
from puente.enums import SuspenseReason, SuspenseStatus
from puente.ledger.models import JournalEntry, SuspenseItem
from puente.money import to_centavos

__all__ = ["open_suspense_item", "open_suspense_items", "resolve_suspense_item"]


async def open_suspense_item(
    entry: JournalEntry,
    amount: Decimal,
    reason: SuspenseReason,
    *,
    loan_id: int | None,
    payment_id: int | None,
    source: str,
    conn: BaseDBAsyncClient,
) -> SuspenseItem:
    """Record the exception for ``amount`` that ``entry`` credited to suspense (same tx)."""
    item = await SuspenseItem.create(
        institution_id=entry.institution_id,
        loan_id=loan_id,
        payment_id=payment_id,
        entry_id=entry.id,
        amount_centavos=to_centavos(amount),
        reason=reason.value,
        source=source[:200],
        using_db=conn,
    )
    await record_audit(
        "suspense.opened",
        institution_id=entry.institution_id,
        subject_type="suspense_item",
        subject_id=item.id,
        data={
            "amount": str(amount),
            "reason": reason.value,
            "loan": loan_id,
            "payment": payment_id,
            "source": item.source,
        },
        conn=conn,
    )
    return item


async def open_suspense_items(institution_id: int) -> list[SuspenseItem]:
    """The institution's exceptions still waiting for staff, oldest first."""
    return await SuspenseItem.filter(
        institution_id=institution_id, status=SuspenseStatus.OPEN
    ).order_by("id")


async def resolve_suspense_item(
    item_id: int, *, actor_id: int, note: str, at: datetime
) -> SuspenseItem:
    """Staff close an exception saying what they did; a second resolution is refused."""
    note = note.strip()[:300]
    if not note:
        raise ValueError("say how the exception was resolved")
    async with in_transaction() as tx:
        item = await SuspenseItem.select_for_update().using_db(tx).filter(id=item_id).first()
        if item is None:
            raise ValueError(f"no suspense item {item_id}")
        if item.status is not SuspenseStatus.OPEN:
            raise ValueError(f"suspense item {item_id} is already resolved")
        item.status = SuspenseStatus.RESOLVED
        item.resolution = note
        item.resolved_by_id = actor_id
        item.resolved_at = at
        await item.save(using_db=tx)
        await record_audit(
            "suspense.resolved",
            actor_id=actor_id,
            institution_id=item.institution_id,
            subject_type="suspense_item",
            subject_id=item.id,
            data={"note": note},
            conn=tx,
        )
    return item
