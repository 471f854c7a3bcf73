"""The ledger's read model: running balances kept with the postings, equal to their sums."""

from __future__ import annotations

import asyncio
import importlib
import sqlite3
import uuid
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support import factories
from tortoise.connection import get_connection
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from puente.cli import main as cli_main
from puente.db import open_database
from puente.enums import JournalKind, ProviderName
from puente.enums import LedgerAccountType as T
from puente.ledger.balances import check_balances, fold_institution_deltas, rebuild_balances
from puente.ledger.entries import CREDIT_NORMAL, AccountRef, Line
from puente.ledger.models import AccountBalance, InstallmentTotal, Posting
from puente.ledger.posting import account_balance, loan_account_balances, post_entry
from puente.loans.activity import activity_rows, fold_activity

pytestmark = pytest.mark.anyio
TODAY = date(2026, 11, 27)

LOAN_ACCOUNTS = [T.LOAN_PRINCIPAL, T.LOAN_INTEREST, T.LOAN_INTEREST_VAT, T.LOAN_ADVANCE]
INSTITUTION_ACCOUNTS = [T.BANK, T.INTEREST_INCOME, T.VAT_PAYABLE, T.VAT_UNCOLLECTED]
COMPONENTS = ["PRINCIPAL", "INTEREST", "INTEREST_VAT", None]
KINDS = [JournalKind.BILLING, JournalKind.PAYMENT, JournalKind.ADJUSTMENT, JournalKind.REFUND]
amounts = st.integers(min_value=-(10**9), max_value=10**9).filter(lambda n: n != 0)


async def _summed_postings(ref: AccountRef) -> int:
    rows = (
        await Posting.filter(account__code=ref.code)
        .annotate(total=Sum("amount_centavos"))
        .values("total")
    )
    total = sum(int(row["total"] or 0) for row in rows)
    return -total if ref.type in CREDIT_NORMAL else total


async def _loan(runtime, slug: str):
    inst = await factories.institution(slug=slug)
    ana = await factories.user(runtime, inst, email=f"{slug}@example.mx")
    return inst, await factories.active_loan(inst, ana)


# The database persists across examples on purpose; each example books into its own loan.
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    entries=st.lists(
        st.tuples(
            st.sampled_from(KINDS),
            st.lists(
                st.tuples(
                    st.sampled_from(LOAN_ACCOUNTS + INSTITUTION_ACCOUNTS),
                    amounts,
                    st.integers(min_value=1, max_value=3),
                    st.sampled_from(COMPONENTS),
                ),
                min_size=1,
                max_size=5,
            ),
            st.booleans(),  # fold the institution rows after this entry
        ),
        min_size=1,
        max_size=6,
    )
)
async def test_any_sequence_of_entries_leaves_every_balance_equal_to_its_postings(
    db, runtime, entries
):
    inst, loan = await _loan(runtime, f"p-{uuid.uuid4().hex[:10]}")
    for kind, raw, fold in entries:
        lines = []
        for account, centavos, number, component in raw:
            if account in LOAN_ACCOUNTS:
                ref = AccountRef(inst.id, account, loan_id=loan.id)
                lines.append(Line(ref, centavos, number, component))
            else:
                lines.append(Line(AccountRef(inst.id, account), centavos))
        balancing = -sum(line.centavos for line in lines)
        if balancing:
            lines.append(Line(AccountRef(inst.id, T.SUSPENSE), balancing))
        if len(lines) < 2:
            continue
        await post_entry(lines, kind=kind, effective_date=TODAY, loan_id=loan.id)
        if fold:
            await fold_institution_deltas()

    assert await check_balances() == []
    by_type = (await loan_account_balances([loan.id]))[loan.id]
    for account in LOAN_ACCOUNTS:
        ref = AccountRef(inst.id, account, loan_id=loan.id)
        assert by_type.get(account, 0) == await _summed_postings(ref)
        assert await account_balance(ref) == await _summed_postings(ref)
    for account in [*INSTITUTION_ACCOUNTS, T.SUSPENSE]:
        ref = AccountRef(inst.id, account)
        assert await account_balance(ref) == await _summed_postings(ref)
    # The undated installment totals fold to what the dated rows (from postings) fold to.
    undated = (await activity_rows([loan.id]))[loan.id]
    dated = (await activity_rows([loan.id], dated=True))[loan.id]
    assert fold_activity(undated) == fold_activity(dated)


async def test_a_changed_balance_is_reported_by_the_check(db, runtime):
    inst, loan = await _loan(runtime, "drift")
    assert await check_balances() == []
    principal = AccountRef(inst.id, T.LOAN_PRINCIPAL, loan_id=loan.id)
    row = await AccountBalance.get(account__code=principal.code, shard=0)
    row.balance_centavos += 7
    await row.save(update_fields=["balance_centavos"])
    total = await InstallmentTotal.create(
        loan_id=loan.id, installment_number=1, component="PRINCIPAL", kind="payment", centavos=-5
    )
    drift = await check_balances()
    assert [(d.table, d.stored - d.from_postings) for d in drift] == [
        ("ledger_balances", 7),
        ("loan_installment_totals", -5),
    ]
    row.balance_centavos -= 7
    await row.save(update_fields=["balance_centavos"])
    await total.delete()
    assert await check_balances() == []


async def test_institution_rows_are_appended_per_entry_and_folded_into_one(db):
    inst = await factories.institution()
    cash = AccountRef(inst.id, T.CASH_CLEARING, provider=ProviderName.STRIPE)
    for n in range(3):
        await post_entry(
            [Line(cash, 100 + n), Line(AccountRef(inst.id, T.SUSPENSE), -(100 + n))],
            kind=JournalKind.ADJUSTMENT,
            effective_date=TODAY,
        )
    assert await AccountBalance.filter(account__code=cash.code).count() == 3
    assert await fold_institution_deltas() == 6  # three rows for each of the two accounts
    assert await AccountBalance.filter(account__code=cash.code).count() == 1
    assert await account_balance(cash) == 303
    assert await fold_institution_deltas() == 0
    await post_entry(
        [Line(cash, -3), Line(AccountRef(inst.id, T.SUSPENSE), 3)],
        kind=JournalKind.ADJUSTMENT,
        effective_date=TODAY,
    )
    assert await account_balance(cash) == 300
    assert await check_balances() == []


async def test_loan_accounts_keep_one_row_each(db, runtime):
    inst, loan = await _loan(runtime, "one-row")
    principal = AccountRef(inst.id, T.LOAN_PRINCIPAL, loan_id=loan.id)
    for _ in range(3):
        await post_entry(
            [Line(principal, -10, 1, "PRINCIPAL"), Line(AccountRef(inst.id, T.BANK), 10)],
            kind=JournalKind.PAYMENT,
            effective_date=TODAY,
            loan_id=loan.id,
        )
    assert await AccountBalance.filter(account__code=principal.code).count() == 1
    assert await InstallmentTotal.filter(loan_id=loan.id, kind=JournalKind.PAYMENT).count() == 1
    assert await account_balance(principal) == 12000_00 - 30


async def test_the_migration_backfill_and_a_rebuild_restore_the_read_model(db, runtime):
    inst, loan = await _loan(runtime, "backfill")
    await post_entry(
        [
            Line(AccountRef(inst.id, T.LOAN_INTEREST, loan_id=loan.id), 500, 1, "INTEREST"),
            Line(AccountRef(inst.id, T.INTEREST_INCOME), -500),
        ],
        kind=JournalKind.BILLING,
        effective_date=TODAY,
        loan_id=loan.id,
    )
    before = sorted(await AccountBalance.all().values_list("account_id", "balance_centavos"))
    conn = get_connection("default")
    migration = importlib.import_module("puente.migrations.0018_readmodel")
    await migration.forget(None, SimpleNamespace(client=conn))
    assert await check_balances() != []
    await migration.backfill(None, SimpleNamespace(client=conn))
    assert await check_balances() == []
    await fold_institution_deltas()
    assert sorted(await AccountBalance.all().values_list("account_id", "balance_centavos")) == (
        sorted(before)
    )
    async with in_transaction() as tx:
        await rebuild_balances(tx)
    assert await check_balances() == []


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_payments_of_one_institution_do_not_wait_for_each_other(db, runtime):
    """Two open transactions post to the same institution-wide accounts (different loans):
    the second commits while the first is still open, as no shared row is updated."""
    inst, first = await _loan(runtime, "hot-a")
    ana = await factories.user(runtime, inst, email="second@example.mx")
    second = await factories.active_loan(inst, ana)
    cash = AccountRef(inst.id, T.CASH_CLEARING, provider=ProviderName.STRIPE)

    def payment(loan_id: int) -> list[Line]:
        principal = AccountRef(inst.id, T.LOAN_PRINCIPAL, loan_id=loan_id)
        return [Line(cash, 100), Line(principal, -100, 1, "PRINCIPAL")]

    async with in_transaction() as held:
        await post_entry(
            payment(first.id), kind=JournalKind.PAYMENT, effective_date=TODAY, conn=held
        )

        async def other() -> None:
            async with in_transaction() as tx:
                await post_entry(
                    payment(second.id), kind=JournalKind.PAYMENT, effective_date=TODAY, conn=tx
                )

        await asyncio.wait_for(other(), timeout=5)  # a row lock would wait for ``held``
    assert await account_balance(cash) == 200
    assert await check_balances() == []


def test_check_balances_command_exits_1_on_drift(tmp_path: Path, monkeypatch, capsys):
    path = tmp_path / "ledger.sqlite3"
    url = f"sqlite://{path}"
    monkeypatch.setenv("PUENTE_DATABASE_URL", url)
    assert cli_main(["migrate"]) == 0

    async def book() -> None:
        async with open_database(url):
            inst = await factories.institution()
            await post_entry(
                [Line(AccountRef(inst.id, T.BANK), 40), Line(AccountRef(inst.id, T.SUSPENSE), -40)],
                kind=JournalKind.ADJUSTMENT,
                effective_date=TODAY,
            )

    asyncio.run(book())
    assert cli_main(["ledger", "check-balances"]) == 0
    assert "match" in capsys.readouterr().out
    assert cli_main(["ledger", "fold-balances"]) == 0
    assert "2 balance rows folded" in capsys.readouterr().out
    assert cli_main(["ledger", "check-balances"]) == 0
    capsys.readouterr()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE ledger_balances SET balance_centavos = balance_centavos + 1")
    assert cli_main(["ledger", "check-balances"]) == 1
    err = capsys.readouterr().err
    assert "DRIFT: 2 figures" in err and "off by 1" in err


async def test_reading_a_current_loan_sums_no_paid_history(db, runtime):
    """The loan views and the payoff read the read model; postings are read only from the
    earliest installment still owed (what the accrual may need), never all of them."""
    from tests.support.statements import count_statements

    from puente.loans.application import apply_payment
    from puente.loans.models import Installment
    from puente.loans.payoff import payoff_quote
    from puente.loans.state import load_loan_views
    from puente.money import from_centavos

    _, loan = await _loan(runtime, "reader")
    first = await Installment.get(loan_id=loan.id, number=1)
    await apply_payment(
        loan,
        from_centavos(first.total_centavos),
        received_on=first.due_date,
        provider=ProviderName.STRIPE,
        idempotency_key="reader-1",
    )
    await loan.refresh_from_db()
    with count_statements() as log:
        (view,) = await load_loan_views([loan], first.due_date)
        quote = await payoff_quote(loan, first.due_date)
    assert view.installments[0].status == "PAID" and quote.total > 0
    assert len(log) > 3  # the counter counts
    from_postings = [sql for sql in log.statements if '"postings"' in sql]
    assert len(from_postings) == 1, log.statements  # the payoff's contract, from a day on
    assert '"effective_date">=' in from_postings[0]
