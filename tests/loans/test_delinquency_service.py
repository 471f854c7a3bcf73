"""Moratorium accrual as a daily job: the engine's amounts, posted once, and aging buckets."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from tests.support import factories
from tests.support.books import (
    books_total,
    charged_by_component,
    loan_balances,
    postings_snapshot,
)

from puente.enums import JournalKind, ProviderName
from puente.enums import LedgerAccountType as T
from puente.ledger.models import Posting
from puente.loans.application import apply_payment
from puente.loans.delinquency_service import accrue_all, accrue_loan
from puente.loans.engine import (
    MEXICO_BANKS,
    DelinquencyBucket,
    LoanTerms,
    MoratoriumPolicy,
    accrue_range,
    build_schedule,
    installments_from_schedule,
)
from puente.loans.jobs import run_daily
from puente.loans.state import load_loan_views
from puente.money import from_centavos, round_centavos, to_centavos

pytestmark = pytest.mark.anyio
START = date(2026, 6, 15)
FIRST_DUE = date(2026, 7, 15)  # a Wednesday: late from the 16th
LATE = {"late_annual_rate": Decimal("0.72"), "late_fee_centavos": 250_00}


async def overdue_loan(runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    return await factories.active_loan(inst, ana, start=START, **LATE)


async def test_running_the_accrual_twice_for_a_day_changes_nothing(db, runtime):
    loan = await overdue_loan(runtime)
    day = date(2026, 7, 20)
    first = await run_daily(day)
    snapshot = await postings_snapshot()
    assert first.billed == 1 and first.charges_posted > 0 and first.failures == []
    assert await accrue_loan(loan, day) == 0
    assert await accrue_all(day) == 0
    again = await run_daily(day)
    assert (again.billed, again.charges_posted, again.failures) == (0, 0, [])
    assert await postings_snapshot() == snapshot
    assert await books_total() == 0


async def test_moratorium_matches_the_engine_for_an_overdue_installment(db, runtime):
    loan = await overdue_loan(runtime)
    through = date(2026, 7, 31)
    await run_daily(through)
    terms = LoanTerms(
        principal=Decimal(12000), annual_rate=Decimal("0.36"), term_count=12, start_date=START
    )
    policy = MoratoriumPolicy(
        annual_rate=Decimal("0.72"), vat_rate=Decimal("0.16"), late_fee=Decimal("250.00")
    )
    expected: dict[str, int] = {}
    for accrual in accrue_range(
        installments_from_schedule(build_schedule(terms)),
        policy,
        accrued_through=FIRST_DUE,
        through=through,
        calendar=MEXICO_BANKS,
    ):
        for charge in accrual.charges:
            key = charge.component.value
            expected[key] = expected.get(key, 0) + to_centavos(charge.amount)
    charged = await charged_by_component(loan.id, JournalKind.LATE_CHARGE)
    assert charged == expected
    # 822.75 overdue × 72 % / 360 = 1.6455 a day for 16 days = 26.328, rounded once: 26.33,
    # IVA 16 % of 26.33 = 4.21 (daily rounding posted 26.40 + 4.16: not 16 %); one late fee.
    assert charged == {
        "LATE_INTEREST": 26_33,
        "LATE_INTEREST_VAT": 4_21,
        "FEE": 250_00,
        "FEE_VAT": 40_00,
    }
    balances = await loan_balances(loan.id)
    assert balances[T.LOAN_LATE_INTEREST] == 26_33
    (view,) = await load_loan_views([loan], through)
    first = view.installments[0]
    assert first.charges == Decimal("26.33") + Decimal("4.21") + Decimal("290.00")


async def test_a_missed_day_is_caught_up_and_a_payment_accrues_first(db, runtime):
    loan = await overdue_loan(runtime)
    await accrue_loan(loan, date(2026, 7, 17))  # two days
    # The job did not run on the 18th and 19th; the payment on the 20th accrues them first.
    (view,) = await load_loan_views([loan], date(2026, 7, 20))
    owed = Decimal("1240.35") + Decimal("290.00") + 5 * Decimal("1.91")
    applied = await apply_payment(
        loan,
        owed,
        received_on=date(2026, 7, 20),
        provider=ProviderName.STRIPE,
        idempotency_key="late-1",
    )
    assert applied.unapplied == 0 and applied.advance == 0
    (view,) = await load_loan_views([loan], date(2026, 7, 21))
    assert view.installments[0].status.value == "PAID"
    assert view.balance.days_past_due == 0
    # Paid: nothing accrues on the 21st.
    assert await accrue_loan(loan, date(2026, 7, 21)) == 0


@pytest.mark.parametrize(
    ("days_late", "bucket"),
    [
        (0, DelinquencyBucket.CURRENT),
        (1, DelinquencyBucket.DPD_1_29),
        (29, DelinquencyBucket.DPD_1_29),
        (30, DelinquencyBucket.DPD_30_59),
        (59, DelinquencyBucket.DPD_30_59),
        (60, DelinquencyBucket.DPD_60_89),
        (89, DelinquencyBucket.DPD_60_89),
        (90, DelinquencyBucket.DPD_90_PLUS),
    ],
)
async def test_the_bucket_follows_the_days_past_due(db, runtime, days_late, bucket):
    loan = await overdue_loan(runtime)
    (view,) = await load_loan_views([loan], FIRST_DUE + timedelta(days=days_late))
    assert view.balance.days_past_due == days_late
    assert view.balance.bucket is bucket


async def test_paying_what_is_overdue_brings_the_loan_back_to_current(db, runtime):
    loan = await overdue_loan(runtime)
    day = FIRST_DUE + timedelta(days=35)  # installment 2 (due 17 Aug) is late too
    await run_daily(day)
    (before,) = await load_loan_views([loan], day)
    assert before.balance.bucket is DelinquencyBucket.DPD_30_59
    await apply_payment(
        loan,
        before.balance.overdue,
        received_on=day,
        provider=ProviderName.STRIPE,
        idempotency_key="catch-up",
    )
    (after,) = await load_loan_views([loan], day)
    assert after.balance.overdue == 0
    assert after.balance.bucket is DelinquencyBucket.CURRENT


async def test_every_posted_moratorium_iva_is_that_of_its_rounded_base(db, runtime):
    """Daily job runs, missed days and partial payments in between: for each installment the
    moratorium posted is the exact accrual rounded once and its IVA is round(base × 16 %)."""
    loan = await overdue_loan(runtime)
    day = FIRST_DUE
    for step, paid in enumerate([None, "500.00", None, None, "2000.00", None, "37.15", None]):
        day += timedelta(days=3 + step)  # the job misses days now and then
        await run_daily(day)
        if paid is not None:
            await apply_payment(
                loan,
                Decimal(paid),
                received_on=day,
                provider=ProviderName.STRIPE,
                idempotency_key=f"partial-{step}",
            )
        posted = await late_interest_by_installment(loan.id)
        assert posted, "the loan is late: moratorium must have been posted"
        for number, (late, vat) in posted.items():
            assert vat == round_centavos(late * Decimal("0.16")), (number, late, vat)
    assert await books_total() == 0


async def late_interest_by_installment(loan_id: int) -> dict[int, tuple[Decimal, Decimal]]:
    rows = await Posting.filter(
        entry__loan_id=loan_id,
        entry__kind=JournalKind.LATE_CHARGE,
        account__loan_id=loan_id,
        component__in=["LATE_INTEREST", "LATE_INTEREST_VAT"],
    ).values("installment_number", "component", "amount_centavos")
    totals: dict[int, dict[str, int]] = {}
    for row in rows:
        bucket = totals.setdefault(row["installment_number"], {})
        bucket[row["component"]] = bucket.get(row["component"], 0) + row["amount_centavos"]
    return {
        number: (
            from_centavos(bucket.get("LATE_INTEREST", 0)),
            from_centavos(bucket.get("LATE_INTEREST_VAT", 0)),
        )
        for number, bucket in totals.items()
    }
