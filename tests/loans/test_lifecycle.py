"""Loan lifecycle: each transition allowed or refused with a reason, and audited; castigo."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from tests.support import factories
from tests.support.books import books_total, institution_balance, loan_balances

from puente.audit.models import AuditEvent
from puente.audit.service import verify_audit_log
from puente.enums import JournalKind, LoanStatus, ProviderName
from puente.enums import LedgerAccountType as T
from puente.ledger.models import JournalEntry
from puente.loans.application import apply_payment
from puente.loans.jobs import run_daily
from puente.loans.lifecycle import (
    LoanLifecycleError,
    approve_loan,
    cure_default,
    mark_defaulted,
    restructure_loan,
    start_disbursement,
    write_off_loan,
)
from puente.loans.models import Installment, Loan
from puente.loans.origination import originate_loan, record_disbursement
from puente.loans.state import InstallmentStatus, load_loan_views

pytestmark = pytest.mark.anyio
START = date(2026, 6, 15)


async def status_changes(loan_id: int) -> list[tuple[str, str]]:
    events = await AuditEvent.filter(
        action="loan.status_changed", subject_id=str(loan_id)
    ).order_by("seq")
    return [(event.data["from"], event.data["to"]) for event in events]


async def application(runtime, **product_overrides):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    product = await factories.product(inst, **product_overrides)
    return await originate_loan(
        product=product,
        borrower_id=ana.id,
        principal=Decimal("12000.00"),
        term_count=12,
        start_date=START,
    )


async def test_a_loan_goes_from_application_to_paid_off_and_each_step_is_audited(db, runtime):
    loan = await application(runtime)
    assert loan.status == LoanStatus.APPLICATION
    await approve_loan(loan, actor_id=None)
    await start_disbursement(loan, reference="SPEI 123")
    await record_disbursement(loan, on=START)
    await mark_defaulted(loan, on=date(2026, 10, 20), reason="90 días")
    await cure_default(loan, on=date(2026, 10, 25))
    total = (await load_loan_views([loan], START))[0].balance.total
    await apply_payment(
        loan, total, received_on=START, provider=ProviderName.BANK, idempotency_key="all"
    )
    assert (await Loan.get(id=loan.id)).status == LoanStatus.PAID_OFF
    assert await status_changes(loan.id) == [
        ("application", "approved"),
        ("approved", "disbursed"),
        ("disbursed", "active"),
        ("active", "defaulted"),
        ("defaulted", "active"),
        ("active", "paid_off"),
    ]
    report, _ = await verify_audit_log()
    assert report.ok


async def test_transitions_the_status_does_not_allow_are_refused_clearly(db, runtime):
    loan = await application(runtime)
    with pytest.raises(LoanLifecycleError, match="application cannot become active.*approved"):
        await record_disbursement(loan, on=START)
    with pytest.raises(LoanLifecycleError, match="cannot become defaulted"):
        await mark_defaulted(loan, on=START)
    with pytest.raises(LoanLifecycleError, match="cannot become written_off"):
        await write_off_loan(loan, on=START)
    stored = await Loan.get(id=loan.id)
    assert stored.status == LoanStatus.APPLICATION
    assert await status_changes(loan.id) == []  # a refusal writes nothing
    assert await JournalEntry.filter(loan_id=loan.id).count() == 0


async def test_an_active_loan_cannot_be_written_off_without_defaulting_first(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=START)
    with pytest.raises(LoanLifecycleError, match="active cannot become written_off"):
        await write_off_loan(loan, on=date(2026, 12, 1))


async def test_write_off_zeroes_the_receivables_and_the_books_still_balance(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(
        inst,
        ana,
        start=START,
        late_annual_rate=Decimal("0.72"),
        late_fee_centavos=250_00,
    )
    await apply_payment(
        loan,
        Decimal("1240.35"),
        received_on=date(2026, 7, 15),
        provider=ProviderName.STRIPE,
        idempotency_key="one",
    )
    day = date(2026, 11, 20)  # installments 2 to 5 unpaid, moratorium accrued
    await run_daily(day)
    before = await loan_balances(loan.id)
    assert before[T.LOAN_LATE_INTEREST] > 0 and before[T.LOAN_FEES] > 0
    await mark_defaulted(loan, on=day)
    await write_off_loan(loan, on=day, reason="incobrable")

    after = await loan_balances(loan.id)
    assert all(centavos == 0 for centavos in after.values()), after
    assert await books_total() == 0
    # The uncollected IVA is reversed, not booked as a loss: nothing of it is left.
    assert await institution_balance(inst.id, T.VAT_UNCOLLECTED) == 0
    non_vat = sum(
        before.get(kind, 0)
        for kind in (T.LOAN_PRINCIPAL, T.LOAN_INTEREST, T.LOAN_LATE_INTEREST, T.LOAN_FEES)
    )
    assert await institution_balance(inst.id, T.WRITE_OFF_EXPENSE) == non_vat
    entry = await JournalEntry.get(loan_id=loan.id, kind=JournalKind.WRITE_OFF)
    assert entry.idempotency_key == f"write-off:{loan.id}"

    (view,) = await load_loan_views([await Loan.get(id=loan.id)], day)
    assert view.balance.total == 0 and view.balance.overdue == 0
    statuses = [i.status for i in view.installments]
    assert statuses[0] is InstallmentStatus.PAID
    assert set(statuses[1:]) == {InstallmentStatus.WRITTEN_OFF}
    assert view.next_installment is None
    assert await status_changes(loan.id) == [
        ("application", "approved"),
        ("approved", "active"),
        ("active", "defaulted"),
        ("defaulted", "written_off"),
    ]
    with pytest.raises(LoanLifecycleError, match="final status"):
        await cure_default(loan, on=day)
    # The job leaves a written-off loan alone.
    assert (await run_daily(date(2026, 12, 20))).loans == 0


async def test_restructuring_stretches_the_remaining_principal_over_a_new_term(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=START)
    on = date(2026, 7, 1)  # installment 1 is current; 2..12 are rescheduled
    version = await restructure_loan(loan, on=on, term_count=20, reason="ampliación")
    rows = await Installment.filter(loan_id=loan.id, superseded_on__isnull=True).order_by("number")
    assert version == 2 and len(rows) == 21
    assert rows[0].version == 1 and {row.version for row in rows[1:]} == {2}
    assert sum(row.principal_centavos for row in rows) == 12_000_00
    assert rows[1].total_centavos < 1240_35  # a longer term, a lower installment
    assert await Installment.filter(loan_id=loan.id, superseded_on=on).count() == 11
    assert (await Loan.get(id=loan.id)).status == LoanStatus.RESTRUCTURED
    assert (await status_changes(loan.id))[-1] == ("active", "restructured")


async def test_a_restructured_actual_360_loan_keeps_its_new_installment_level(db, runtime):
    # ACTUAL_360: the new level is solved on the new periods' own days, not on rate/12, so
    # the last new installment carries no balloon (issue 8, item 8).
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(
        inst, ana, principal="200000.00", term_count=24, start=START, day_count="ACTUAL_360"
    )
    await restructure_loan(loan, on=date(2026, 7, 1), term_count=48, reason="ampliación")
    rows = await Installment.filter(loan_id=loan.id, superseded_on__isnull=True).order_by("number")
    new = [row.total_centavos for row in rows[1:]]
    assert len(new) == 48 and len(set(new[:-1])) == 1
    assert abs(new[-1] - new[0]) <= 48  # a centavo per installment at most
