"""Writing to and reading from the ledger. Callers run inside their own transaction.

Balances are read from the read model (``ledger/balances.py``) that ``post_entry`` keeps in
the same transaction as the postings, never by summing an account's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Sum

from puente.enums import JournalKind, LedgerAccountType, ProviderName
from puente.ledger.balances import record_entry_totals
from puente.ledger.entries import (
    CREDIT_NORMAL,
    AccountRef,
    LedgerError,
    Line,
    check_balanced,
    reversal_lines,
)
from puente.ledger.models import AccountBalance, JournalEntry, LedgerAccount, Posting
from puente.observability.metrics import LEDGER_POSTINGS

__all__ = [
    "AlreadyPosted",
    "account_balance",
    "entry_lines",
    "get_account",
    "loan_account_balances",
    "post_entry",
    "reverse_entry",
]


class AlreadyPosted(LedgerError):
    """An entry with this idempotency key exists; carries it so callers can reuse it."""

    def __init__(self, entry: JournalEntry) -> None:
        super().__init__(f"journal entry {entry.idempotency_key!r} was already posted")
        self.entry = entry


async def get_account(ref: AccountRef, conn: BaseDBAsyncClient | None = None) -> LedgerAccount:
    """The account named by ``ref``, created on first use."""
    existing = await LedgerAccount.filter(code=ref.code).using_db(conn).first()
    if existing is not None:
        return existing
    # Another writer may create it between our read and insert (the first payments of an
    # institution, charged concurrently): ON CONFLICT DO NOTHING keeps the caller's
    # transaction usable on PostgreSQL, where a failed INSERT would abort it; theirs is as good.
    await LedgerAccount.bulk_create(
        [
            LedgerAccount(
                institution_id=ref.institution_id,
                loan_id=ref.loan_id,
                type=ref.type,
                provider=ref.provider,
                code=ref.code,
            )
        ],
        ignore_conflicts=True,
        using_db=conn,
    )
    return await LedgerAccount.get(code=ref.code).using_db(conn)


async def post_entry(
    lines: Sequence[Line],
    *,
    kind: JournalKind,
    effective_date: date,
    memo: str = "",
    loan_id: int | None = None,
    payment_id: int | None = None,
    idempotency_key: str | None = None,
    reverses_id: int | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> JournalEntry:
    """Record a balanced entry, or refuse it whole (``UnbalancedEntry``, ``AlreadyPosted``)."""
    check_balanced(lines)
    if idempotency_key is not None:
        existing = await JournalEntry.filter(idempotency_key=idempotency_key).using_db(conn).first()
        if existing is not None:
            raise AlreadyPosted(existing)
    institution_id = lines[0].account.institution_id
    entry = await JournalEntry.create(
        institution_id=institution_id,
        loan_id=loan_id,
        payment_id=payment_id,
        kind=kind,
        memo=memo[:300],
        effective_date=effective_date,
        idempotency_key=idempotency_key,
        reverses_id=reverses_id,
        using_db=conn,
    )
    accounts: dict[str, LedgerAccount] = {}
    for line in lines:
        if line.account.code not in accounts:
            accounts[line.account.code] = await get_account(line.account, conn)
    await Posting.bulk_create(
        [
            Posting(
                entry_id=entry.id,
                account_id=accounts[line.account.code].id,
                amount_centavos=line.centavos,
                installment_number=line.installment_number,
                component=line.component,
            )
            for line in lines
        ],
        using_db=conn,
    )
    await record_entry_totals(
        entry.id, kind, lines, {code: account.id for code, account in accounts.items()}, conn
    )
    LEDGER_POSTINGS.labels(str(kind)).inc(len(lines))
    return entry


async def entry_lines(entry: JournalEntry, conn: BaseDBAsyncClient | None = None) -> list[Line]:
    """The lines of a posted entry, in the order they were written."""
    postings = (
        await Posting.filter(entry_id=entry.id)
        .using_db(conn)
        .order_by("id")
        .prefetch_related("account")
    )
    return [
        Line(
            AccountRef(
                institution_id=p.account.institution_id,
                type=LedgerAccountType(p.account.type),
                loan_id=p.account.loan_id,
                provider=ProviderName(p.account.provider) if p.account.provider else None,
            ),
            p.amount_centavos,
            p.installment_number,
            p.component,
        )
        for p in postings
    ]


async def reverse_entry(
    entry: JournalEntry,
    *,
    kind: JournalKind,
    effective_date: date,
    memo: str = "",
    conn: BaseDBAsyncClient | None = None,
) -> JournalEntry:
    """Post the exact opposite of ``entry``; an entry can be reversed once."""
    lines = reversal_lines(await entry_lines(entry, conn))
    return await post_entry(
        lines,
        kind=kind,
        effective_date=effective_date,
        memo=memo or f"reversal of entry {entry.id}",
        loan_id=entry.loan_id,
        payment_id=entry.payment_id,
        idempotency_key=f"reversal:{entry.id}",
        reverses_id=entry.id,
        conn=conn,
    )


async def account_balance(ref: AccountRef, conn: BaseDBAsyncClient | None = None) -> int:
    """Centavos on the account, in its natural sign (credit-normal accounts shown positive)."""
    rows = (
        await AccountBalance.filter(account__code=ref.code)
        .using_db(conn)
        .annotate(total=Sum("balance_centavos"))
        .group_by("account_id")
        .values("total")
    )
    total = sum(int(row["total"] or 0) for row in rows)
    return -total if ref.type in CREDIT_NORMAL else total


async def loan_account_balances(
    loan_ids: Sequence[int], conn: BaseDBAsyncClient | None = None
) -> dict[int, dict[LedgerAccountType, int]]:
    """Per loan, the balance of each of its accounts, in natural sign; one query for many loans."""
    result: dict[int, dict[LedgerAccountType, int]] = {loan_id: {} for loan_id in loan_ids}
    if not loan_ids:
        return result
    rows = (
        await AccountBalance.filter(account__loan_id__in=list(loan_ids))
        .using_db(conn)
        .annotate(total=Sum("balance_centavos"))
        .group_by("account__loan_id", "account__type")
        .values("account__loan_id", "account__type", "total")
    )
    for row in rows:
        account_type = LedgerAccountType(row["account__type"])
        total = int(row["total"] or 0)
        result[row["account__loan_id"]][account_type] = (
            -total if account_type in CREDIT_NORMAL else total
        )
    return result
