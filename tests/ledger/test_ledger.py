"""The double-entry ledger: balanced or refused, append-only, balances from postings."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support import factories
from tortoise.exceptions import IntegrityError, OperationalError

from puente.enums import JournalKind, ProviderName
from puente.enums import LedgerAccountType as T
from puente.ledger.entries import AccountRef, LedgerError, Line, UnbalancedEntry, check_balanced
from puente.ledger.models import JournalEntry, Posting
from puente.ledger.posting import AlreadyPosted, account_balance, post_entry, reverse_entry

pytestmark = pytest.mark.anyio
TODAY = date(2026, 11, 27)

INSTITUTION_ACCOUNTS = [
    T.BANK,
    T.SUSPENSE,
    T.INTEREST_INCOME,
    T.FEE_INCOME,
    T.VAT_PAYABLE,
    T.VAT_UNCOLLECTED,
]


def ref(inst_id: int, kind: T) -> AccountRef:
    return AccountRef(inst_id, kind)


async def test_balanced_entry_is_posted_and_balances_derive_from_postings(db):
    inst = await factories.institution()
    cash = AccountRef(inst.id, T.CASH_CLEARING, provider=ProviderName.STRIPE)
    await post_entry(
        [Line(cash, 150_00), Line(ref(inst.id, T.SUSPENSE), -150_00)],
        kind=JournalKind.ADJUSTMENT,
        effective_date=TODAY,
    )
    assert await account_balance(cash) == 150_00
    assert await account_balance(ref(inst.id, T.SUSPENSE)) == -150_00
    assert await Posting.all().count() == 2


async def test_unbalanced_entry_is_refused_and_nothing_is_written(db):
    inst = await factories.institution()
    with pytest.raises(UnbalancedEntry, match="differ by 1 centavos"):
        await post_entry(
            [Line(ref(inst.id, T.BANK), 100_00), Line(ref(inst.id, T.SUSPENSE), -99_99)],
            kind=JournalKind.ADJUSTMENT,
            effective_date=TODAY,
        )
    assert await JournalEntry.all().count() == 0
    assert await Posting.all().count() == 0


async def test_postings_cannot_be_updated_or_deleted(db):
    inst = await factories.institution()
    await post_entry(
        [Line(ref(inst.id, T.BANK), 500), Line(ref(inst.id, T.SUSPENSE), -500)],
        kind=JournalKind.ADJUSTMENT,
        effective_date=TODAY,
    )
    posting = await Posting.first()
    assert posting is not None
    posting.amount_centavos = 1
    with pytest.raises((IntegrityError, OperationalError), match="append-only"):
        await posting.save()
    with pytest.raises((IntegrityError, OperationalError), match="append-only"):
        await Posting.all().delete()
    with pytest.raises((IntegrityError, OperationalError), match="append-only"):
        await JournalEntry.all().update(memo="changed")
    assert {p.amount_centavos for p in await Posting.all()} == {500, -500}


async def test_reversal_cancels_exactly_and_only_once(db):
    inst = await factories.institution()
    entry = await post_entry(
        [
            Line(ref(inst.id, T.BANK), 1_000_00),
            Line(ref(inst.id, T.INTEREST_INCOME), -862_07),
            Line(ref(inst.id, T.VAT_PAYABLE), -137_93),
        ],
        kind=JournalKind.ADJUSTMENT,
        effective_date=TODAY,
    )
    await reverse_entry(entry, kind=JournalKind.REVERSAL, effective_date=TODAY)
    for kind in (T.BANK, T.INTEREST_INCOME, T.VAT_PAYABLE):
        assert await account_balance(ref(inst.id, kind)) == 0
    with pytest.raises(AlreadyPosted):
        await reverse_entry(entry, kind=JournalKind.REVERSAL, effective_date=TODAY)


async def test_idempotency_key_posts_once(db):
    inst = await factories.institution()
    lines = [Line(ref(inst.id, T.BANK), 1), Line(ref(inst.id, T.SUSPENSE), -1)]
    first = await post_entry(
        lines, kind=JournalKind.ADJUSTMENT, effective_date=TODAY, idempotency_key="k-1"
    )
    with pytest.raises(AlreadyPosted) as caught:
        await post_entry(
            lines, kind=JournalKind.ADJUSTMENT, effective_date=TODAY, idempotency_key="k-1"
        )
    assert caught.value.entry.id == first.id
    assert await account_balance(ref(inst.id, T.BANK)) == 1


def test_loan_accounts_need_a_loan_and_clearing_accounts_a_provider():
    with pytest.raises(LedgerError):
        AccountRef(1, T.LOAN_PRINCIPAL)
    with pytest.raises(LedgerError):
        AccountRef(1, T.BANK, loan_id=3)
    with pytest.raises(LedgerError):
        AccountRef(1, T.CASH_CLEARING)
    with pytest.raises(LedgerError):
        Line(AccountRef(1, T.BANK), 1.5)  # type: ignore[arg-type]


amounts = st.integers(min_value=-(10**9), max_value=10**9).filter(lambda n: n != 0)


@given(st.lists(amounts, min_size=1, max_size=8))
def test_any_lines_completed_by_their_negated_sum_balance(values):
    lines = [Line(AccountRef(1, T.BANK), v) for v in values]
    total = sum(values)
    if total == 0:
        check_balanced(lines) if len(lines) >= 2 else None
        return
    with pytest.raises(UnbalancedEntry):
        check_balanced(lines)
    check_balanced([*lines, Line(AccountRef(1, T.SUSPENSE), -total)])


# The database persists across examples on purpose; each example books into its own institution.
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from(INSTITUTION_ACCOUNTS), amounts), min_size=1, max_size=4),
        min_size=1,
        max_size=4,
    )
)
async def test_posted_entries_keep_the_books_at_zero_and_every_account_at_its_lines(db, entries):
    inst = await factories.institution(slug=f"inst-{uuid.uuid4().hex[:12]}")
    expected: dict[T, int] = {}
    for raw in entries:
        lines = [Line(ref(inst.id, kind), value) for kind, value in raw]
        balancing = -sum(value for _, value in raw)
        if balancing:
            lines.append(Line(ref(inst.id, T.BANK), balancing))
        try:
            await post_entry(lines, kind=JournalKind.ADJUSTMENT, effective_date=TODAY)
        except UnbalancedEntry:
            continue  # fewer than two lines: refused, nothing written
        for line in lines:
            expected[line.account.type] = expected.get(line.account.type, 0) + line.centavos
    grand_total = 0
    for kind in INSTITUTION_ACCOUNTS:
        stored = await account_balance(ref(inst.id, kind))
        natural = (
            -expected.get(kind, 0)
            if kind
            in (
                T.INTEREST_INCOME,
                T.FEE_INCOME,
                T.VAT_PAYABLE,
                T.VAT_UNCOLLECTED,
            )
            else expected.get(kind, 0)
        )
        assert stored == natural
        grand_total += expected.get(kind, 0)
    assert grand_total == 0
