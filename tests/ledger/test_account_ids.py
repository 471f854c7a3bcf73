"""Ledger account ids are cached per process, but never one a rolled-back transaction made."""

from __future__ import annotations

from datetime import date

import pytest
from tests.support import factories
from tests.support.statements import count_statements
from tortoise.transactions import in_transaction

from puente.enums import JournalKind
from puente.enums import LedgerAccountType as T
from puente.ledger.entries import AccountRef, Line
from puente.ledger.models import LedgerAccount, Posting
from puente.ledger.posting import account_balance, post_entry

pytestmark = pytest.mark.anyio
TODAY = date(2026, 11, 27)


class Boom(Exception):
    pass


async def _post(inst_id: int, conn=None) -> None:
    await post_entry(
        [Line(AccountRef(inst_id, T.BANK), 100_00), Line(AccountRef(inst_id, T.SUSPENSE), -100_00)],
        kind=JournalKind.ADJUSTMENT,
        effective_date=TODAY,
        conn=conn,
    )


async def test_an_account_made_by_a_rolled_back_transaction_is_made_again(db):
    inst = await factories.institution()
    with pytest.raises(Boom):
        async with in_transaction() as tx:
            await _post(inst.id, tx)
            await _post(inst.id, tx)  # read back inside the transaction that made them
            raise Boom
    assert await LedgerAccount.all().count() == 0
    async with in_transaction() as tx:
        await _post(inst.id, tx)  # a cached id of the rolled-back rows would break the FK
    assert await account_balance(AccountRef(inst.id, T.BANK)) == 100_00
    assert await Posting.all().count() == 2


async def test_known_accounts_cost_no_lookup_and_postings_one_insert(db):
    inst = await factories.institution()
    async with in_transaction() as tx:
        await _post(inst.id, tx)
    async with in_transaction() as tx:
        await _post(inst.id, tx)  # sees the committed accounts: cached from here (PostgreSQL)
    with count_statements() as log:
        async with in_transaction() as tx:
            await _post(inst.id, tx)
    account_reads = [s for s in log.statements if "ledger_accounts" in s]
    posting_inserts = [s for s in log.statements if "INSERT INTO postings" in s]
    assert len(posting_inserts) == 1
    assert len(account_reads) == (0 if db == "postgres" else 1)
    assert await account_balance(AccountRef(inst.id, T.BANK)) == 300_00


async def test_accounts_made_earlier_in_the_transaction_cost_no_lookup(db):
    inst = await factories.institution()
    with count_statements() as log:
        async with in_transaction() as tx:
            await _post(inst.id, tx)  # creates both accounts: one statement on PostgreSQL
            await _post(inst.id, tx)  # knows their ids (uncommitted: not in the cache)
    account_statements = [s for s in log.statements if "ledger_accounts" in s]
    if db == "postgres":
        assert len(account_statements) == 1
    assert await account_balance(AccountRef(inst.id, T.BANK)) == 200_00


async def test_a_primed_loans_accounts_cost_no_lookup(db, runtime):
    from puente.ledger.posting import account_ids, prime_loan_accounts

    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=TODAY)
    principal = AccountRef(inst.id, T.LOAN_PRINCIPAL, loan_id=loan.id)
    async with in_transaction() as tx:
        await prime_loan_accounts([loan.id], tx)
        with count_statements() as log:
            ids = await account_ids([principal], tx)
    stored = await LedgerAccount.get(code=principal.code)
    assert ids == {principal.code: stored.id}
    assert len(log.statements) == (0 if db == "postgres" else 1)  # SQLite: never cached
