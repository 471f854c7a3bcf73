"""Money beyond what is due, per the borrower's choice, and the payoff quote."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from tests.support import factories
from tests.support.books import books_total, institution_balance, loan_balances

from puente.audit.models import AuditEvent
from puente.enums import LedgerAccountType as T
from puente.enums import LoanStatus, ProviderName
from puente.loans.application import apply_payment
from puente.loans.engine import OverpaymentMode
from puente.loans.jobs import run_daily
from puente.loans.models import Installment, Loan
from puente.loans.origination import set_overpayment_mode
from puente.loans.payoff import payoff_quote
from puente.loans.state import load_loan_views
from puente.money import ZERO, from_centavos

pytestmark = pytest.mark.anyio
START = date(2026, 6, 15)
EARLY = date(2026, 7, 10)  # installment 1 (due 15 July) is the current one
INSTALLMENT = Decimal("1240.35")


async def loan_for(runtime, mode: OverpaymentMode | None = None):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=START)
    if mode is not None:
        await set_overpayment_mode(loan, mode, actor_id=ana.id)
    return loan


async def pay(loan, amount: Decimal, on: date, key: str):
    return await apply_payment(
        loan, amount, received_on=on, provider=ProviderName.STRIPE, idempotency_key=key
    )


async def contract(loan) -> list[Installment]:
    return await Installment.filter(loan_id=loan.id, superseded_on__isnull=True).order_by("number")


async def assert_principal_is_exact(loan, prepaid: Decimal) -> None:
    rows = await contract(loan)
    assert sum(row.principal_centavos for row in rows) + int(prepaid * 100) == 12_000_00
    (view,) = await load_loan_views([loan], EARLY)
    owed = sum((i.principal for i in view.installments), ZERO) - (
        view.installments[0].principal if view.installments[0].status.value == "PAID" else ZERO
    )
    assert from_centavos((await loan_balances(loan.id))[T.LOAN_PRINCIPAL]) == owed


async def test_reduce_term_keeps_the_installment_and_drops_installments(db, runtime):
    loan = await loan_for(runtime, OverpaymentMode.REDUCE_TERM)
    first = await Installment.get(loan_id=loan.id, number=1)
    applied = await pay(loan, INSTALLMENT + Decimal("3000.00"), EARLY, "pre-1")
    assert applied.prepayment == Decimal("3000.00") and applied.unapplied == 0
    rows = await contract(loan)
    assert len(rows) < 12
    assert rows[0].id == first.id and rows[0].version == 1  # the past is untouched
    assert {row.version for row in rows[1:]} == {2}
    assert all(row.total_centavos == 1240_35 for row in rows[1:-1])  # level kept
    assert rows[-1].total_centavos <= 1240_35
    superseded = await Installment.filter(loan_id=loan.id, superseded_on=EARLY)
    assert len(superseded) == 11 and superseded[0].total_centavos == 1240_35  # history kept
    await assert_principal_is_exact(loan, Decimal("3000.00"))
    assert await books_total() == 0
    assert await institution_balance(loan.institution_id, T.SUSPENSE) == 0
    event = await AuditEvent.get(action="loan.prepaid", subject_id=str(loan.id))
    assert event.data["mode"] == "REDUCE_TERM" and event.data["version"] == 2


async def test_reduce_installment_keeps_the_term_and_lowers_the_installment(db, runtime):
    loan = await loan_for(runtime, OverpaymentMode.REDUCE_INSTALLMENT)
    await pay(loan, INSTALLMENT + Decimal("3000.00"), EARLY, "pre-2")
    rows = await contract(loan)
    assert len(rows) == 12
    original = await Installment.get(loan_id=loan.id, number=2, version=1)
    assert rows[1].due_date == original.due_date  # same dates, lower amounts
    assert all(row.total_centavos < 1240_35 for row in rows[1:])
    await assert_principal_is_exact(loan, Decimal("3000.00"))
    # The new schedule is what the borrower now owes: pay the next one exactly.
    second = rows[1]
    await pay(loan, from_centavos(second.total_centavos), second.due_date, "next")
    (view,) = await load_loan_views([loan], second.due_date)
    assert [i.status.value for i in view.installments[:2]] == ["PAID", "PAID"]
    assert await books_total() == 0


async def test_a_payment_choice_overrides_the_stored_preference(db, runtime):
    loan = await loan_for(runtime)  # ADVANCE by default
    await apply_payment(
        loan,
        INSTALLMENT + Decimal("500.00"),
        received_on=EARLY,
        provider=ProviderName.STRIPE,
        idempotency_key="choice",
        overpayment=OverpaymentMode.REDUCE_TERM,
    )
    assert await Installment.filter(loan_id=loan.id, version=2).exists()


async def test_an_advance_is_held_and_applied_when_the_next_installment_falls_due(db, runtime):
    loan = await loan_for(runtime)
    applied = await pay(loan, INSTALLMENT + Decimal("500.00"), EARLY, "adv")
    assert applied.advance == Decimal("500.00")
    assert (await loan_balances(loan.id))[T.LOAN_ADVANCE] == 500_00
    second = await Installment.get(loan_id=loan.id, number=2)  # due Monday 17 August
    before = await run_daily(date(2026, 8, 14))
    assert before.advances_applied == 0
    on_due = await run_daily(second.due_date)
    assert on_due.advances_applied == Decimal("500.00")
    assert (await run_daily(second.due_date)).advances_applied == 0  # once per day
    assert (await loan_balances(loan.id))[T.LOAN_ADVANCE] == 0
    (view,) = await load_loan_views([loan], second.due_date)
    assert view.installments[1].paid == Decimal("500.00")
    assert view.installments[1].outstanding == INSTALLMENT - Decimal("500.00")
    assert view.balance.advance == 0
    assert await books_total() == 0


async def test_the_payoff_quote_settles_the_loan_to_zero(db, runtime):
    loan = await loan_for(runtime, OverpaymentMode.REDUCE_TERM)
    await pay(loan, INSTALLMENT, date(2026, 7, 15), "first")
    as_of = date(2026, 8, 1)  # 17 of the 31 days of installment 2's period
    quote = await payoff_quote(loan, as_of)
    assert quote.payoff.principal == Decimal("12000.00") - Decimal("822.75")
    assert quote.payoff.interest == (Decimal("335.32") * 17 / 31).quantize(Decimal("0.01"))
    assert quote.total == quote.payoff.total
    applied = await pay(loan, quote.total, as_of, "payoff")
    assert applied.paid_off and applied.unapplied == 0
    assert (await Loan.get(id=loan.id)).status == LoanStatus.PAID_OFF
    assert all(centavos == 0 for centavos in (await loan_balances(loan.id)).values())
    assert await institution_balance(loan.institution_id, T.VAT_UNCOLLECTED) == 0
    assert await books_total() == 0
    (view,) = await load_loan_views([await Loan.get(id=loan.id)], as_of)
    assert view.balance.total == 0
    assert all(i.outstanding == 0 for i in view.installments)


async def test_the_payoff_counts_the_advance_already_held(db, runtime):
    loan = await loan_for(runtime)
    await pay(loan, INSTALLMENT + Decimal("1000.00"), EARLY, "adv")
    quote = await payoff_quote(loan, EARLY)
    assert quote.advance == Decimal("1000.00")
    assert quote.total == quote.payoff.total - Decimal("1000.00")
    applied = await pay(loan, quote.total, EARLY, "payoff")
    assert applied.paid_off
    assert all(centavos == 0 for centavos in (await loan_balances(loan.id)).values())
    assert await books_total() == 0


async def test_money_beyond_the_payoff_waits_in_suspense(db, runtime):
    loan = await loan_for(runtime)
    quote = await payoff_quote(loan, EARLY)
    applied = await pay(loan, quote.total + Decimal("10.00"), EARLY, "too-much")
    assert applied.paid_off and applied.unapplied == Decimal("10.00")
    assert await institution_balance(loan.institution_id, T.SUSPENSE) == -10_00


@pytest.mark.parametrize(
    ("mode", "amount", "on"),
    [
        (OverpaymentMode.ADVANCE, INSTALLMENT, EARLY),  # the installment, 5 days early
        (OverpaymentMode.REDUCE_TERM, Decimal("3000.00"), date(2026, 7, 20)),
        (OverpaymentMode.REDUCE_INSTALLMENT, Decimal("5000.00"), date(2026, 6, 20)),
        (OverpaymentMode.ADVANCE, Decimal("100.00"), date(2026, 6, 16)),
    ],
)
async def test_a_payment_lowers_the_balance_by_exactly_what_it_paid(db, runtime, mode, amount, on):
    loan = await loan_for(runtime, mode)
    (before,) = await load_loan_views([loan], on)
    await pay(loan, amount, on, "exact")
    (after,) = await load_loan_views([await Loan.get(id=loan.id)], on)
    assert before.balance.total - after.balance.total == amount
    # ... and the balance shown then settles the loan to zero, nothing left over.
    applied = await pay(loan, after.balance.total, on, "payoff")
    assert applied.paid_off and applied.unapplied == 0
    assert all(centavos == 0 for centavos in (await loan_balances(loan.id)).values())
    assert await institution_balance(loan.institution_id, T.VAT_UNCOLLECTED) == 0
    assert await books_total() == 0
