"""One loan as the console opens it: schedule, ledger activity, payments, payouts, audit."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise.expressions import Q

from puente.accounts.models import User
from puente.audit.models import AuditEvent
from puente.ledger.models import JournalEntry, Posting
from puente.loans.models import Loan
from puente.loans.payable import Payable, payable_amount
from puente.loans.state import LoanView, load_loan_views
from puente.money import from_centavos
from puente.payments.models import Disbursement, Payment

__all__ = ["ENTRY_KINDS", "LedgerLine", "LoanFile", "open_loan_file"]

ENTRY_KINDS = {
    "disbursement": "Dispersión",
    "billing": "Facturación de la cuota",
    "payment": "Pago",
    "late_charge": "Moratorio",
    "refund": "Reembolso",
    "chargeback": "Contracargo",
    "reversal": "Reverso",
    "adjustment": "Ajuste",
    "settlement": "Liquidación bancaria",
    "write_off": "Castigo",
}


@dataclass(frozen=True, slots=True)
class LedgerLine:
    entry_id: int
    kind: str
    memo: str
    effective_date: date
    amount: Decimal  # the entry's size: the sum of its debits


@dataclass(frozen=True, slots=True)
class LoanFile:
    loan: Loan
    borrower: User
    view: LoanView
    payable: Payable
    payments: list[Payment]
    disbursements: list[Disbursement]
    ledger: list[LedgerLine]
    audit: list[AuditEvent]


async def open_loan_file(institution_id: int, loan_id: int, today: date) -> LoanFile | None:
    """The loan's file if it belongs to ``institution_id``, else None."""
    loan = (
        await Loan.filter(id=loan_id, institution_id=institution_id)
        .prefetch_related("product", "student", "borrower")
        .first()
    )
    if loan is None:
        return None
    (view,) = await load_loan_views([loan], today)
    payments = await Payment.filter(loan_id=loan.id).order_by("-id")
    entries = await JournalEntry.filter(loan_id=loan.id).order_by("effective_date", "id")
    sizes: dict[int, int] = defaultdict(int)
    for entry_id, centavos in await Posting.filter(
        entry_id__in=[e.id for e in entries], amount_centavos__gt=0
    ).values_list("entry_id", "amount_centavos"):
        sizes[entry_id] += centavos
    subjects = Q(subject_type="loan", subject_id=str(loan.id))
    if payments:
        subjects |= Q(subject_type="payment", subject_id__in=[str(p.id) for p in payments])
    audit = (
        await AuditEvent.filter(subjects, institution_id=institution_id).order_by("-id").limit(100)
    )
    return LoanFile(
        loan=loan,
        borrower=loan.borrower,
        view=view,
        payable=await payable_amount(loan, today),
        payments=payments,
        disbursements=await Disbursement.filter(loan_id=loan.id).order_by("-id"),
        ledger=[
            LedgerLine(e.id, str(e.kind), e.memo, e.effective_date, from_centavos(sizes[e.id]))
            for e in entries
        ],
        audit=audit,
    )
