"""Loan use cases: originate, approve, disburse, bill and apply payments (prelación).

The only place that writes loans and their ledger entries. Callers (GraphQL, portal,
webhook processing, demo loader) go through these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.audit.service import record_audit
from puente.enums import JournalKind, LoanStatus, ProviderName
from puente.enums import LedgerAccountType as T
from puente.ledger.entries import AccountRef, Line
from puente.ledger.posting import AlreadyPosted, installment_activity, post_entry
from puente.loans.engine import (
    MEXICO_BANKS,
    AmortizationMethod,
    Component,
    DayCount,
    LoanTerms,
    OverpaymentMode,
    Periodicity,
    allocate_payment,
    build_schedule,
    cat_for_schedule,
)
from puente.loans.models import Installment, Loan, LoanProduct
from puente.loans.state import installment_states
from puente.money import to_centavos

__all__ = [
    "AppliedPayment",
    "LoanLifecycleError",
    "apply_payment",
    "approve_loan",
    "bill_installments",
    "loan_terms",
    "originate_loan",
    "record_disbursement",
]

# Where each allocated component is credited, and (for IVA) that it becomes payable to SAT
# once collected: LIVA art. 1-B causes IVA when the consideration is effectively received.
COMPONENT_ACCOUNT = {
    Component.PRINCIPAL: T.LOAN_PRINCIPAL,
    Component.INTEREST: T.LOAN_INTEREST,
    Component.INTEREST_VAT: T.LOAN_INTEREST_VAT,
    Component.LATE_INTEREST: T.LOAN_LATE_INTEREST,
    Component.LATE_INTEREST_VAT: T.LOAN_LATE_INTEREST_VAT,
    Component.FEE: T.LOAN_FEES,
    Component.FEE_VAT: T.LOAN_FEE_VAT,
}
VAT_COMPONENTS = frozenset({Component.INTEREST_VAT, Component.LATE_INTEREST_VAT, Component.FEE_VAT})

ALLOWED = {
    LoanStatus.APPLICATION: {LoanStatus.APPROVED},
    LoanStatus.APPROVED: {LoanStatus.DISBURSED, LoanStatus.ACTIVE},
    LoanStatus.DISBURSED: {LoanStatus.ACTIVE},
    LoanStatus.ACTIVE: {
        LoanStatus.PAID_OFF,
        LoanStatus.DEFAULTED,
        LoanStatus.RESTRUCTURED,
    },
    LoanStatus.DEFAULTED: {LoanStatus.ACTIVE, LoanStatus.WRITTEN_OFF, LoanStatus.PAID_OFF},
}


class LoanLifecycleError(Exception):
    """A transition the loan's current status does not allow."""


@dataclass(frozen=True, slots=True)
class AppliedPayment:
    entry_id: int
    applied: Decimal
    advance: Decimal
    prepayment: Decimal
    unapplied: Decimal


def loan_terms(loan: Loan, opening_fee_rate: Decimal = Decimal("0")) -> LoanTerms:
    """The engine's view of a loan's frozen terms."""
    return LoanTerms(
        principal=Decimal(loan.principal_centavos) / 100,
        annual_rate=Decimal(loan.annual_rate),
        term_count=loan.term_count,
        start_date=loan.start_date,
        periodicity=Periodicity(loan.periodicity),
        method=AmortizationMethod(loan.method),
        vat_rate=Decimal(loan.vat_rate),
        day_count=DayCount(loan.day_count),
        opening_fee_rate=opening_fee_rate,
        calendar=MEXICO_BANKS,
    )


async def _transition(
    loan: Loan, to: LoanStatus, actor_id: int | None, conn: BaseDBAsyncClient, **data: object
) -> None:
    current = LoanStatus(loan.status)
    if to not in ALLOWED.get(current, set()):
        raise LoanLifecycleError(f"a loan in status {current} cannot become {to}")
    loan.status = to
    await loan.save(using_db=conn, update_fields=["status", "updated_at"])
    await record_audit(
        "loan.status_changed",
        actor_id=actor_id,
        institution_id=loan.institution_id,
        subject_type="loan",
        subject_id=loan.id,
        data={"from": current.value, "to": to.value, **data},
        conn=conn,
    )


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
    )
    terms = loan_terms(draft, Decimal(product.opening_fee_rate))
    schedule = build_schedule(terms)
    async with in_transaction() as tx:
        draft.opening_fee_centavos = to_centavos(schedule.opening_fee)
        draft.opening_fee_vat_centavos = to_centavos(schedule.opening_fee_vat)
        draft.cat = cat_for_schedule(schedule)
        await draft.save(using_db=tx)
        await Installment.bulk_create(
            [
                Installment(
                    loan_id=draft.id,
                    number=row.number,
                    due_date=row.due_date,
                    principal_centavos=to_centavos(row.principal),
                    interest_centavos=to_centavos(row.interest),
                    vat_centavos=to_centavos(row.vat),
                    total_centavos=to_centavos(row.total),
                )
                for row in schedule.rows
            ],
            using_db=tx,
        )
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


async def approve_loan(loan: Loan, *, actor_id: int | None = None) -> None:
    async with in_transaction() as tx:
        await _transition(loan, LoanStatus.APPROVED, actor_id, tx)


async def record_disbursement(
    loan: Loan, *, on: date, actor_id: int | None = None, reference: str = ""
) -> int:
    """Post the settled disbursement and activate the loan.

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
        entry = await post_entry(
            lines,
            kind=JournalKind.DISBURSEMENT,
            effective_date=on,
            memo=f"disbursement {reference}".strip(),
            loan_id=loan.id,
            idempotency_key=f"disbursement:{loan.id}",
            conn=tx,
        )
        await _transition(locked, LoanStatus.ACTIVE, actor_id, tx, reference=reference)
        await Loan.filter(id=loan.id).using_db(tx).update(disbursed_at=locked.updated_at)
    loan.status = LoanStatus.ACTIVE
    return entry.id


async def _bill(loan: Loan, row: Installment, conn: BaseDBAsyncClient) -> None:
    """Make an installment's interest, IVA (and tuition fee) receivable, once."""
    inst = loan.institution_id
    pairs = [
        (T.LOAN_INTEREST, T.INTEREST_INCOME, row.interest_centavos, Component.INTEREST),
        (T.LOAN_INTEREST_VAT, T.VAT_UNCOLLECTED, row.vat_centavos, Component.INTEREST_VAT),
        (T.LOAN_FEES, T.FEE_INCOME, row.fee_centavos, Component.FEE),
    ]
    lines: list[Line] = []
    for receivable, counterpart, centavos, component in pairs:
        if centavos:
            lines.append(
                Line(AccountRef(inst, receivable, loan_id=loan.id), centavos, row.number, component)
            )
            lines.append(Line(AccountRef(inst, counterpart), -centavos))
    if not lines:
        return
    try:
        await post_entry(
            lines,
            kind=JournalKind.BILLING,
            effective_date=row.due_date,
            memo=f"installment {row.number} falls due",
            loan_id=loan.id,
            idempotency_key=f"billing:{loan.id}:{row.number}",
            conn=conn,
        )
    except AlreadyPosted:
        pass


async def bill_installments(loan: Loan, today: date) -> int:
    """Bill every installment due by ``today`` (idempotent: a daily job may rerun it)."""
    rows = await Installment.filter(loan_id=loan.id, due_date__lte=today)
    async with in_transaction() as tx:
        for row in rows:
            await _bill(loan, row, tx)
    return len(rows)


async def apply_payment(
    loan: Loan,
    amount: Decimal,
    *,
    received_on: date,
    provider: ProviderName,
    payment_id: int | None = None,
    idempotency_key: str,
    overpayment: OverpaymentMode = OverpaymentMode.ADVANCE,
    conn: BaseDBAsyncClient | None = None,
) -> AppliedPayment:
    """Allocate a received payment by prelación and post it, exactly once per key.

    Runs in the caller's transaction when ``conn`` is given (the payment's state change and
    its ledger entry must commit together).
    """
    if conn is None:
        async with in_transaction() as tx:
            return await apply_payment(
                loan,
                amount,
                received_on=received_on,
                provider=provider,
                payment_id=payment_id,
                idempotency_key=idempotency_key,
                overpayment=overpayment,
                conn=tx,
            )
    # Serialise payments of one loan: allocation reads the state it then changes.
    locked = await Loan.select_for_update().using_db(conn).get(id=loan.id)
    rows = await Installment.filter(loan_id=loan.id).using_db(conn).order_by("number")
    activity = (await installment_activity([loan.id], conn))[loan.id]
    states = installment_states(rows, activity)
    allocation = allocate_payment(states, amount, received_on, overpayment=overpayment)
    by_number = {row.number: row for row in rows}
    for number in sorted({line.installment_number for line in allocation.lines}):
        await _bill(locked, by_number[number], conn)
    inst = loan.institution_id
    lines = [Line(AccountRef(inst, T.CASH_CLEARING, provider=provider), to_centavos(amount))]
    for line in allocation.lines:
        centavos = to_centavos(line.amount)
        account = AccountRef(inst, COMPONENT_ACCOUNT[line.component], loan_id=loan.id)
        lines.append(Line(account, -centavos, line.installment_number, line.component.value))
        if line.component in VAT_COMPONENTS:
            lines.append(Line(AccountRef(inst, T.VAT_UNCOLLECTED), centavos))
            lines.append(Line(AccountRef(inst, T.VAT_PAYABLE), -centavos))
    if allocation.advance:
        lines.append(
            Line(
                AccountRef(inst, T.LOAN_ADVANCE, loan_id=loan.id), -to_centavos(allocation.advance)
            )
        )
    held = allocation.prepayment + allocation.unapplied
    if held:
        # Prepayment re-amortization is decided by staff/borrower; until then it waits in
        # suspense rather than silently changing the contract.
        lines.append(Line(AccountRef(inst, T.SUSPENSE), -to_centavos(held)))
    entry = await post_entry(
        lines,
        kind=JournalKind.PAYMENT,
        effective_date=received_on,
        memo=f"payment {payment_id or idempotency_key}",
        loan_id=loan.id,
        payment_id=payment_id,
        idempotency_key=f"payment:{idempotency_key}",
        conn=conn,
    )
    after = allocation.installments
    if LoanStatus(locked.status) is LoanStatus.ACTIVE and all(s.is_settled for s in after):
        await _transition(locked, LoanStatus.PAID_OFF, None, conn)
    return AppliedPayment(
        entry_id=entry.id,
        applied=allocation.applied,
        advance=allocation.advance,
        prepayment=allocation.prepayment,
        unapplied=allocation.unapplied,
    )
