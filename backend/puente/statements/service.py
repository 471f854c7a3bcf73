"""The documents a person may download, each checked against who is asking.

One function per document: it answers the bytes (and a file name), or None when the
document does not exist or is not theirs (the door then answers 404 either way).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from puente.accounts.models import User
from puente.enums import JournalKind, LoanStatus
from puente.ledger.models import JournalEntry
from puente.loans.access import can_see_loan
from puente.loans.models import Loan
from puente.money import ZERO, format_mxn, from_centavos
from puente.payments.history import visible_payments
from puente.payments.models import Payment
from puente.statements.data import (
    has_receipt,
    ledger_balance,
    parse_period,
    receipt_data,
    statement_data,
    statement_periods,
)
from puente.statements.pdf import no_debt_pdf, receipt_pdf, statement_pdf

__all__ = [
    "Document",
    "no_debt_document",
    "payment_history_csv",
    "receipt_document",
    "receipt_path",
    "statement_document",
    "statement_path",
    "visible_statement_periods",
]

MAX_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Document:
    filename: str
    content: bytes
    media_type: str = "application/pdf"


def receipt_path(payment: Payment) -> str | None:
    """Root-relative URL of a payment's PDF receipt (None: it has none)."""
    return f"/pagos/{payment.id}/comprobante.pdf" if has_receipt(payment) else None


def statement_path(loan_id: int, period: str) -> str:
    return f"/prestamos/{loan_id}/estados/{period}.pdf"


async def _visible_loan(user: User, loan_id: int) -> Loan | None:
    if not 0 < loan_id <= MAX_ID:
        return None
    loan = await Loan.filter(id=loan_id).prefetch_related("student").first()
    return loan if loan is not None and can_see_loan(user, loan) else None


async def visible_statement_periods(loan: Loan, today: date) -> list[str]:
    return statement_periods(loan, today)


async def statement_document(user: User, loan_id: int, period: str, today: date) -> Document | None:
    loan = await _visible_loan(user, loan_id)
    if loan is None or parse_period(period) is None:
        return None
    data = await statement_data(loan, period, today)
    if data is None:
        return None
    return Document(f"estado-de-cuenta-{loan.id}-{period}.pdf", statement_pdf(data))


async def receipt_document(user: User, payment_id: int) -> Document | None:
    if not 0 < payment_id <= MAX_ID:
        return None
    payment = await visible_payments(user).filter(id=payment_id).first()
    data = await receipt_data(payment) if payment is not None else None
    if data is None:
        return None
    return Document(f"comprobante-{payment_id}.pdf", receipt_pdf(data))


async def no_debt_document(user: User, loan_id: int, today: date) -> Document | None:
    """Constancia de no adeudo: only for a loan paid off whose ledger owes nothing."""
    loan = await _visible_loan(user, loan_id)
    if loan is None or LoanStatus(loan.status) is not LoanStatus.PAID_OFF:
        return None
    balances = await ledger_balance(loan.id)
    if any(value != ZERO for value in balances.values()):
        return None  # paid off on paper but the books disagree: staff must look first
    last = (
        await JournalEntry.filter(loan_id=loan.id, kind=JournalKind.PAYMENT)
        .order_by("-effective_date")
        .first()
    )
    await loan.fetch_related("institution", "borrower", "product")
    content = no_debt_pdf(
        loan.institution.name,
        loan.borrower.full_name,
        f"{loan.product.name} #{loan.id}",
        last.effective_date if last else today,
        today,
    )
    return Document(f"constancia-no-adeudo-{loan.id}.pdf", content)


async def payment_history_csv(user: User, loan_id: int) -> Document | None:
    """Every payment of a loan, oldest first, as CSV (UTF-8 with BOM: Excel reads accents)."""
    loan = await _visible_loan(user, loan_id)
    if loan is None:
        return None
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(
        [
            "folio",
            "creado",
            "pagado",
            "estado",
            "metodo",
            "proveedor",
            "importe",
            "reembolsado",
            "referencia",
        ]
    )
    for payment in await Payment.filter(loan_id=loan.id).order_by("created_at", "id"):
        writer.writerow(
            [
                payment.id,
                payment.created_at.isoformat(),
                payment.paid_at.isoformat() if payment.paid_at else "",
                payment.status,
                payment.method,
                payment.provider,
                format_mxn(from_centavos(payment.amount_centavos), currency=False),
                format_mxn(from_centavos(payment.refunded_centavos), currency=False),
                payment.provider_reference or "",
            ]
        )
    return Document(f"pagos-{loan.id}.csv", out.getvalue().encode(), "text/csv; charset=utf-8")
