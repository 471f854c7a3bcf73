"""Reading the books in tests: balances per account, per component, and the grand total."""

from __future__ import annotations

from tortoise.functions import Sum

from puente.enums import JournalKind
from puente.enums import LedgerAccountType as T
from puente.ledger.entries import AccountRef
from puente.ledger.models import Posting
from puente.ledger.posting import account_balance, loan_account_balances


async def books_total() -> int:
    """Sum of every posting: zero when the books balance."""
    rows = await Posting.all().annotate(total=Sum("amount_centavos")).values("total")
    return sum(int(row["total"] or 0) for row in rows)


async def loan_balances(loan_id: int) -> dict[T, int]:
    return (await loan_account_balances([loan_id]))[loan_id]


async def institution_balance(institution_id: int, kind: T) -> int:
    return await account_balance(AccountRef(institution_id, kind))


async def postings_snapshot() -> list[tuple]:
    """Every posting as comparable values (to prove a rerun changed nothing)."""
    return sorted(
        await Posting.all().values_list(
            "entry__idempotency_key", "account__code", "amount_centavos", "component"
        ),
        key=repr,
    )


async def charged_by_component(loan_id: int, kind: JournalKind) -> dict[str, int]:
    """Debits of ``kind`` entries on the loan's receivables, per component."""
    rows = (
        await Posting.filter(
            entry__loan_id=loan_id,
            entry__kind=kind,
            account__loan_id=loan_id,
            installment_number__isnull=False,
        )
        .annotate(total=Sum("amount_centavos"))
        .group_by("component")
        .values("component", "total")
    )
    return {row["component"]: int(row["total"]) for row in rows}
