"""Enrolling a student in a tuition plan: the same loan, installment and ledger machinery."""

from __future__ import annotations

from decimal import Decimal

from tortoise.transactions import in_transaction

from puente.audit.service import record_audit
from puente.enums import LoanStatus
from puente.loans.models import Installment, Loan, LoanProduct
from puente.money import to_centavos
from puente.tuition.engine import TuitionPlan, amount_due_on

__all__ = ["enrol_in_plan"]


async def enrol_in_plan(
    plan: TuitionPlan, *, product: LoanProduct, payer_id: int, student_id: int
) -> Loan:
    """Create the tuition account (a loan of kind tuition) with one installment per payment.

    Installment 0 is the inscripción; amounts are list price less the beca. Early-payment
    discounts and recargos depend on the payment date, so they are priced when paid.
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
            using_db=tx,
        )
        rows = []
        for number in range(count + 1):
            due = plan.enrolment_due_date if number == 0 else plan.due_dates[number - 1]
            charge = amount_due_on(plan, number, due)
            base = charge.list_price - charge.scholarship
            rows.append(
                Installment(
                    loan_id=loan.id,
                    number=number,
                    due_date=due,
                    principal_centavos=0,
                    interest_centavos=0,
                    vat_centavos=0,
                    fee_centavos=to_centavos(base),
                    total_centavos=to_centavos(base),
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
