"""Tuition accounts (colegiaturas): the same loan, installment and ledger machinery.

Enrolment creates a loan of kind tuition with one installment per payment and stores the plan
on it (``Loan.settings``), so every later step can price a payment by its date:
- a recargo is a LATE_CHARGE entry (Dr loan_late_interest, Cr late_interest_income; IVA, if
  any, to vat_uncollected), charged once per late colegiatura, by the daily job or by the
  payment that finds it late, whichever comes first;
- a pronto-pago discount is an ADJUSTMENT entry that lowers the colegiatura's receivable
  (Dr fee_income, Cr loan_fees) when a payment on time settles it: a discount is a reduction
  of the income, never an expense, and it is granted only once the colegiatura is paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.audit.service import record_audit
from puente.enums import JournalKind, LoanStatus
from puente.ledger.posting import AlreadyPosted, post_entry
from puente.loans.contract import LoanContract, load_contract
from puente.loans.engine import Allocation, Charge
from puente.loans.models import Installment, Loan, LoanProduct
from puente.loans.postings import charge_lines, reduction_lines
from puente.money import round_centavos, to_centavos
from puente.tuition.engine import TuitionCharge, TuitionPlan, amount_due_on
from puente.tuition.pricing import (
    PLAN_KEY,
    TuitionPricing,
    plan_from_settings,
    plan_to_settings,
    price_installments,
)

__all__ = [
    "TuitionQuote",
    "charge_recargos",
    "enrol_in_plan",
    "grant_discounts",
    "plan_of",
    "price_for_payment",
    "tuition_quotes",
]


async def enrol_in_plan(
    plan: TuitionPlan, *, product: LoanProduct, payer_id: int, student_id: int
) -> Loan:
    """Create the tuition account (a loan of kind tuition) with one installment per payment.

    Installment 0 is the inscripción; amounts are list price less the beca. Early-payment
    discounts and recargos depend on the payment date, so they are priced when paid, from
    the plan stored on the loan.
    """
    count = len(plan.due_dates)
    async with in_transaction() as tx:
        loan = await Loan.create(
            institution_id=product.institution_id,
            borrower_id=payer_id,
            student_id=student_id,
            product_id=product.id,
            status=LoanStatus.ACTIVE,
            principal_centavos=0,
            annual_rate=Decimal("0"),
            vat_rate=plan.vat_rate,
            term_count=count,
            periodicity="MONTHLY",
            method="FRENCH",
            day_count="PERIODIC",
            start_date=plan.enrolment_due_date,
            settings={PLAN_KEY: plan_to_settings(plan)},
            using_db=tx,
        )
        rows = []
        for number in plan.installment_numbers:
            due = plan.due_date(number)
            charge = amount_due_on(plan, number, due)
            base = charge.list_price - charge.scholarship
            vat = round_centavos(base * plan.vat_rate)  # billed with it (no RVOE: 16 %)
            rows.append(
                Installment(
                    loan_id=loan.id,
                    number=number,
                    due_date=due,
                    principal_centavos=0,
                    interest_centavos=0,
                    vat_centavos=0,
                    fee_centavos=to_centavos(base),
                    total_centavos=to_centavos(base + vat),
                )
            )
        await Installment.bulk_create(rows, using_db=tx)
        await record_audit(
            "tuition.enrolled",
            institution_id=product.institution_id,
            subject_type="loan",
            subject_id=loan.id,
            data={"cycle": plan.cycle, "student": student_id, "payer": payer_id},
            conn=tx,
        )
    return loan


def plan_of(loan: Loan) -> TuitionPlan | None:
    """The plan stored at enrolment (None for accounts enrolled before plans were stored)."""
    return plan_from_settings(loan.settings)


def price_for_payment(contract: LoanContract, on: date) -> TuitionPricing | None:
    """The account priced for a payment on ``on``; None when no plan is stored."""
    plan = plan_of(contract.loan)
    if plan is None:
        return None
    return price_installments(plan, contract.states, on)


def _recargo_key(loan_id: int, charge: Charge) -> str:
    # A recargo is charged once per colegiatura, whatever day it is noticed on.
    return f"recargo:{loan_id}:{charge.installment_number}:{charge.component}"


async def post_recargos(
    loan: Loan, recargos: Sequence[Charge], on: date, *, conn: BaseDBAsyncClient
) -> int:
    """One LATE_CHARGE entry per recargo component; an existing one is left alone."""
    posted = 0
    for charge in recargos:
        lines = charge_lines(loan.institution_id, loan.id, [charge])
        if not lines:
            continue
        try:
            await post_entry(
                lines,
                kind=JournalKind.LATE_CHARGE,
                effective_date=on,
                memo=f"recargo colegiatura {charge.installment_number}",
                loan_id=loan.id,
                idempotency_key=_recargo_key(loan.id, charge),
                conn=conn,
            )
            posted += 1
        except AlreadyPosted:
            continue
    return posted


async def charge_recargos(contract: LoanContract, day: date, *, conn: BaseDBAsyncClient) -> int:
    """The daily job's part for tuition: charge the recargos owed by ``day``."""
    pricing = price_for_payment(contract, day)
    if pricing is None:
        return 0
    return await post_recargos(contract.loan, pricing.recargos, day, conn=conn)


async def grant_discounts(
    loan: Loan,
    pricing: TuitionPricing,
    allocation: Allocation,
    *,
    payment_key: str,
    conn: BaseDBAsyncClient,
) -> int:
    """Post the pronto-pago discount of each colegiatura this payment settled on time."""
    settled = {state.number for state in allocation.installments if state.is_settled}
    granted = [charge for charge in pricing.discounts if charge.installment_number in settled]
    if not granted:
        return 0
    await post_entry(
        reduction_lines(loan.institution_id, loan.id, granted),
        kind=JournalKind.ADJUSTMENT,
        effective_date=pricing.on,
        memo="descuento pronto pago",
        loan_id=loan.id,
        idempotency_key=f"discount:{payment_key}",
        conn=conn,
    )
    return len(granted)


@dataclass(frozen=True)
class TuitionQuote:
    """An open colegiatura as it would be priced if paid on ``charge.on``."""

    number: int
    due_date: date
    outstanding: Decimal  # still owed after discount/recargo as of that day
    charge: TuitionCharge


async def tuition_quotes(loan: Loan, on: date) -> list[TuitionQuote]:
    """Open installments priced for a payment today: what the portal shows the payer."""
    contract = await load_contract(loan)
    pricing = price_for_payment(contract, on)
    if pricing is None:
        return []
    return [
        TuitionQuote(
            number=state.number,
            due_date=state.due_date,
            outstanding=state.outstanding_total,
            charge=pricing.charges[state.number],
        )
        for state in pricing.states
        if state.number in pricing.charges
    ]
