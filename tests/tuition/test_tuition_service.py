"""Tuition payments priced on their date: pronto-pago discount and recargo through the ledger."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from tests.support import factories
from tests.support.books import books_total, charged_by_component, institution_balance

from puente.enums import InstitutionKind, JournalKind, LoanStatus, ProviderName, Role
from puente.enums import LedgerAccountType as T
from puente.loans.application import apply_payment
from puente.loans.jobs import run_daily
from puente.loans.models import Loan
from puente.loans.payoff import payoff_quote
from puente.loans.state import load_loan_views
from puente.payments.offer import installment_totals
from puente.tuition.engine import TuitionPlan, monthly_due_dates
from puente.tuition.service import enrol_in_plan, plan_of, tuition_quotes

pytestmark = pytest.mark.anyio

# Colegiatura 4,200 less a 10 % beca = 3,780 due the 10th; 5 % off paying by the 5th
# (3,591); a 250 recargo after 5 days of grace; inscripción 3,500 due 10 August.
COLEGIATURA = Decimal("3780.00")
WITH_DISCOUNT = Decimal("3591.00")
RECARGO = Decimal("250.00")


async def enrolled(runtime, **changes) -> Loan:
    school = await factories.institution("colegio", InstitutionKind.SCHOOL)
    luis = await factories.user(runtime, school, email="luis@example.mx", role=Role.GUARDIAN)
    sofia = await factories.user(runtime, school, email="sofia@example.mx", role=Role.STUDENT)
    product = await factories.product(
        school, name="Colegiaturas", kind="tuition", annual_rate=Decimal("0"), vat_rate=0
    )
    plan = TuitionPlan(
        student_id=str(sofia.id),
        payer_id=str(luis.id),
        cycle="2026-2027",
        enrolment_fee=Decimal("3500.00"),
        enrolment_due_date=date(2026, 8, 10),
        monthly_amount=Decimal("4200.00"),
        due_dates=monthly_due_dates(date(2026, 9, 10), 10),
        scholarship_rate=Decimal("0.10"),
        early_discount_rate=Decimal("0.05"),
        early_discount_day=5,
        surcharge_amount=RECARGO,
        surcharge_grace_days=5,
    )
    plan = replace(plan, **changes)
    return await enrol_in_plan(plan, product=product, payer_id=luis.id, student_id=sofia.id)


async def pay(loan: Loan, amount: Decimal, on: date, key: str):
    return await apply_payment(
        loan, amount, received_on=on, provider=ProviderName.CONEKTA, idempotency_key=key
    )


async def test_the_plan_is_stored_with_the_account_and_rebuilt_equal(db, runtime):
    loan = await enrolled(runtime)
    plan = plan_of(await Loan.get(id=loan.id))
    assert plan is not None
    assert plan.early_discount_day == 5 and plan.due_dates[0] == date(2026, 9, 10)
    assert plan.scholarship_rate == Decimal("0.10") and plan.surcharge_amount == RECARGO


async def test_paying_by_the_discount_day_earns_the_pronto_pago_discount(db, runtime):
    loan = await enrolled(runtime)
    await pay(loan, Decimal("3500.00"), date(2026, 8, 1), "inscripcion")
    applied = await pay(loan, WITH_DISCOUNT, date(2026, 9, 3), "septiembre")
    assert applied.unapplied == 0 and applied.advance == 0
    (view,) = await load_loan_views([loan], date(2026, 9, 3))
    september = view.installments[1]
    assert september.status.value == "PAID"
    assert september.total == WITH_DISCOUNT and september.paid == WITH_DISCOUNT
    # The discount lowers the income: billed 3,780, 189 given back.
    assert await institution_balance(loan.institution_id, T.FEE_INCOME) == 3500_00 + 3591_00
    adjustments = await charged_by_component(loan.id, JournalKind.ADJUSTMENT)
    assert adjustments == {"FEE": -189_00}
    assert await books_total() == 0


async def test_a_partial_payment_does_not_earn_the_discount(db, runtime):
    loan = await enrolled(runtime)
    await pay(loan, Decimal("3500.00"), date(2026, 8, 1), "inscripcion")
    await pay(loan, Decimal("1000.00"), date(2026, 9, 3), "parte")
    assert await charged_by_component(loan.id, JournalKind.ADJUSTMENT) == {}
    (view,) = await load_loan_views([loan], date(2026, 9, 3))
    # Paying the rest by the 5th still earns the discount: that is the price shown today.
    assert view.installments[1].total == WITH_DISCOUNT
    assert await charged_by_component(loan.id, JournalKind.ADJUSTMENT) == {}
    # Paying the rest on the 5th still completes it on time: the discount applies then.
    await pay(loan, WITH_DISCOUNT - Decimal("1000.00"), date(2026, 9, 5), "resto")
    (view,) = await load_loan_views([loan], date(2026, 9, 5))
    assert view.installments[1].status.value == "PAID"


async def test_paying_after_the_grace_period_charges_the_recargo(db, runtime):
    loan = await enrolled(runtime)
    await pay(loan, Decimal("3500.00"), date(2026, 8, 1), "inscripcion")
    late = date(2026, 9, 16)  # due the 10th, grace until the 15th
    quotes = await tuition_quotes(loan, late)
    assert quotes[0].charge.surcharge == RECARGO
    assert quotes[0].outstanding == COLEGIATURA + RECARGO
    applied = await pay(loan, COLEGIATURA + RECARGO, late, "septiembre")
    assert applied.unapplied == 0
    charged = await charged_by_component(loan.id, JournalKind.LATE_CHARGE)
    assert charged == {"LATE_INTEREST": 250_00}
    assert await institution_balance(loan.institution_id, T.LATE_INTEREST_INCOME) == 250_00
    (view,) = await load_loan_views([loan], late)
    assert view.installments[1].status.value == "PAID"
    assert view.installments[1].total == COLEGIATURA + RECARGO
    assert await books_total() == 0


async def test_the_daily_job_charges_the_recargo_once(db, runtime):
    loan = await enrolled(runtime)
    await run_daily(date(2026, 9, 16))
    await run_daily(date(2026, 9, 20))
    charged = await charged_by_component(loan.id, JournalKind.LATE_CHARGE)
    # The inscripción (due 10 August) is late too, but only colegiaturas carry a recargo.
    assert charged == {"LATE_INTEREST": 250_00}
    quote = await payoff_quote(loan, date(2026, 9, 20))
    await pay(loan, Decimal("3500.00") + COLEGIATURA + RECARGO, date(2026, 9, 20), "al día")
    (view,) = await load_loan_views([loan], date(2026, 9, 20))
    assert view.balance.overdue == 0
    assert quote.total > view.balance.total  # the rest of the cycle is still to pay


async def test_paying_the_whole_cycle_closes_the_account(db, runtime):
    loan = await enrolled(runtime)
    quote = await payoff_quote(loan, date(2026, 8, 1))
    # Inscripción 3,500 and ten colegiaturas each with its own pronto-pago discount.
    assert quote.total == Decimal("3500.00") + 10 * WITH_DISCOUNT
    applied = await pay(loan, quote.total, date(2026, 8, 1), "todo")
    assert applied.paid_off and applied.unapplied == 0
    assert (await Loan.get(id=loan.id)).status == LoanStatus.PAID_OFF
    assert await books_total() == 0


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2026, 9, 3), WITH_DISCOUNT),  # pronto pago applies today
        (date(2026, 9, 10), COLEGIATURA),  # due today: list price after beca
        (date(2026, 9, 16), COLEGIATURA + RECARGO),  # after the grace: with the recargo
    ],
)
async def test_every_door_offers_the_price_of_today(db, runtime, on, expected):
    """nextInstallment (GraphQL), the portal's pay form and its quotes read one price."""
    loan = await enrolled(runtime)
    await pay(loan, Decimal("3500.00"), date(2026, 8, 1), "inscripcion")
    (view,) = await load_loan_views([loan], on)
    assert view.next_installment is not None and view.next_installment.number == 1
    assert view.next_installment.total == expected
    assert view.next_installment.outstanding == expected
    assert installment_totals(view)[0] == (1, expected)  # the pay form's "próximo pago"
    quotes = await tuition_quotes(loan, on)
    assert quotes[0].outstanding == expected
    # Paying exactly what is offered settles it, nothing left over or missing.
    applied = await pay(loan, expected, on, "lo-ofrecido")
    assert applied.unapplied == 0 and applied.advance == 0
    (after,) = await load_loan_views([loan], on)
    assert after.installments[1].status.value == "PAID"


async def test_colegiatura_iva_is_billed_and_collected_when_the_plan_has_iva(db, runtime):
    """A school without RVOE: IVA 16 % on each colegiatura (and its recargo), receivable when
    billed, owed to SAT (vat_payable) once paid."""
    loan = await enrolled(runtime, vat_rate=Decimal("0.16"))
    inscripcion = Decimal("3500.00") * Decimal("1.16")
    await pay(loan, inscripcion, date(2026, 8, 1), "inscripcion")
    on_time = WITH_DISCOUNT + Decimal("574.56")  # 3,591 + 16 % IVA
    (view,) = await load_loan_views([loan], date(2026, 9, 3))
    assert view.next_installment.total == on_time
    applied = await pay(loan, on_time, date(2026, 9, 3), "septiembre")
    assert applied.unapplied == 0 and applied.advance == 0
    await run_daily(date(2026, 10, 20))  # October is late: colegiatura, recargo, their IVA
    billed = await charged_by_component(loan.id, JournalKind.BILLING)
    assert billed["FEE_VAT"] == 560_00 + 604_80 + 604_80  # inscripción, Sept, Oct as billed
    late = await charged_by_component(loan.id, JournalKind.LATE_CHARGE)
    assert late == {"LATE_INTEREST": 250_00, "LATE_INTEREST_VAT": 40_00}
    # Collected IVA is owed to SAT: the inscripción's and September's after the discount.
    assert await institution_balance(loan.institution_id, T.VAT_PAYABLE) == 560_00 + 574_56
    assert await books_total() == 0
