"""Loan origination: the application with its schedule and CAT, the settled disbursement,
and the borrower's standing choice for money beyond what is due.

Status changes live in ``lifecycle``; billing in ``billing``; payments in ``application``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tortoise.transactions import in_transaction

from puente.audit.service import record_audit
from puente.enums import JournalKind, LoanStatus
from puente.enums import LedgerAccountType as T
from puente.ledger.entries import AccountRef, Line
from puente.ledger.posting import post_entry
from puente.loans.contract import installment_records, loan_terms
from puente.loans.engine import OverpaymentMode, build_schedule, cat_for_schedule
from puente.loans.lifecycle import require_transition, transition
from puente.loans.models import Installment, Loan, LoanProduct
from puente.money import to_centavos

__all__ = ["originate_loan", "record_disbursement", "set_overpayment_mode"]


async def originate_loan(
    *,
    product: LoanProduct,
    borrower_id: int,
    principal: Decimal,
    term_count: int,
    start_date: date,
    actor_id: int | None = None,
) -> Loan:
    """Create a loan application with its schedule and CAT computed by the engine."""
    draft = Loan(
        institution_id=product.institution_id,
        borrower_id=borrower_id,
        product_id=product.id,
        principal_centavos=to_centavos(principal),
        annual_rate=Decimal(product.annual_rate),
        vat_rate=Decimal(product.vat_rate),
        term_count=term_count,
        periodicity=product.periodicity,
        method=product.method,
        day_count=product.day_count,
        start_date=start_date,
        # The product's default for money beyond what is due, until the borrower chooses.
        overpayment_mode=OverpaymentMode(product.default_prepayment_mode).value,
    )
    terms = loan_terms(draft, Decimal(product.opening_fee_rate))
    schedule = build_schedule(terms)
    async with in_transaction() as tx:
        draft.opening_fee_centavos = to_centavos(schedule.opening_fee)
        draft.opening_fee_vat_centavos = to_centavos(schedule.opening_fee_vat)
        draft.cat = cat_for_schedule(schedule)
        await draft.save(using_db=tx)
        await Installment.bulk_create(installment_records(draft.id, schedule.rows), using_db=tx)
        await record_audit(
            "loan.originated",
            actor_id=actor_id,
            institution_id=draft.institution_id,
            subject_type="loan",
            subject_id=draft.id,
            data={"principal": str(principal), "terms": term_count, "cat": str(draft.cat)},
            conn=tx,
        )
    return draft


async def record_disbursement(
    loan: Loan, *, on: date, actor_id: int | None = None, reference: str = ""
) -> int:
    """Post the settled disbursement and activate the loan (from approved or disbursed).

    The borrower owes the whole principal; the bank pays out the principal less the opening
    fee and its IVA when the fee is withheld (comisión por apertura descontada).
    """
    inst = loan.institution_id
    fee = loan.opening_fee_centavos
    fee_vat = loan.opening_fee_vat_centavos
    lines = [
        Line(AccountRef(inst, T.LOAN_PRINCIPAL, loan_id=loan.id), loan.principal_centavos),
        Line(AccountRef(inst, T.BANK), -(loan.principal_centavos - fee - fee_vat)),
    ]
    if fee:
        lines.append(Line(AccountRef(inst, T.FEE_INCOME), -fee))
    if fee_vat:
        lines.append(Line(AccountRef(inst, T.VAT_PAYABLE), -fee_vat))
    async with in_transaction() as tx:
        locked = await Loan.select_for_update().using_db(tx).get(id=loan.id)
        require_transition(locked, LoanStatus.ACTIVE)
        entry = await post_entry(
            lines,
            kind=JournalKind.DISBURSEMENT,
            effective_date=on,
            memo=f"disbursement {reference}".strip(),
            loan_id=loan.id,
            idempotency_key=f"disbursement:{loan.id}",
            conn=tx,
        )
        await transition(locked, LoanStatus.ACTIVE, actor_id, tx, reference=reference)
        await Loan.filter(id=loan.id).using_db(tx).update(disbursed_at=locked.updated_at)
    loan.status = LoanStatus.ACTIVE
    return entry.id


async def set_overpayment_mode(
    loan: Loan, mode: OverpaymentMode | str, *, actor_id: int | None = None
) -> None:
    """Record the borrower's choice for money beyond what is due (mexico.md §2.5: the client
    chooses a shorter term or a lower installment, or pagos adelantados)."""
    chosen = OverpaymentMode(mode)
    async with in_transaction() as tx:
        locked = await Loan.select_for_update().using_db(tx).get(id=loan.id)
        previous = locked.overpayment_mode
        locked.overpayment_mode = chosen.value
        await locked.save(using_db=tx, update_fields=["overpayment_mode", "updated_at"])
        await record_audit(
            "loan.overpayment_mode_changed",
            actor_id=actor_id,
            institution_id=locked.institution_id,
            subject_type="loan",
            subject_id=locked.id,
            data={"from": previous, "to": chosen.value},
            conn=tx,
        )
    loan.overpayment_mode = chosen.value
