"""What each document says, read from the ledger and the loan's contract (no layout here).

Amounts are sums of the loan's postings: the statement's movements and balances, the
receipt's application, the zero balance a constancia de no adeudo certifies. Nothing is
recomputed beside the ledger.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tortoise.functions import Sum

from puente.enums import JournalKind, LoanStatus, PaymentMethodType, PaymentStatus
from puente.enums import LedgerAccountType as T
from puente.institutions.models import Institution
from puente.ledger.models import JournalEntry, Posting
from puente.loans.models import Installment, Loan
from puente.money import ZERO, from_centavos
from puente.payments.models import Payment

__all__ = [
    "COMPONENT_LABELS",
    "Movement",
    "ReceiptData",
    "StatementData",
    "clave_rastreo_of",
    "has_receipt",
    "ledger_balance",
    "parse_period",
    "receipt_data",
    "statement_data",
    "statement_periods",
]

# The loan's receivable accounts and how a document names them (the advance is a credit).
COMPONENT_LABELS: Mapping[T, str] = {
    T.LOAN_PRINCIPAL: "Capital",
    T.LOAN_INTEREST: "Interés ordinario",
    T.LOAN_INTEREST_VAT: "IVA del interés",
    T.LOAN_LATE_INTEREST: "Interés moratorio",
    T.LOAN_LATE_INTEREST_VAT: "IVA del interés moratorio",
    T.LOAN_FEES: "Comisiones",
    T.LOAN_FEE_VAT: "IVA de comisiones",
    T.LOAN_ADVANCE: "Pagos adelantados (a tu favor)",
}
KIND_LABELS = {
    JournalKind.DISBURSEMENT: "Disposición del crédito",
    JournalKind.BILLING: "Vencimiento de pago",
    JournalKind.PAYMENT: "Pago recibido",
    JournalKind.LATE_CHARGE: "Cargo por atraso",
    JournalKind.REFUND: "Reembolso",
    JournalKind.CHARGEBACK: "Contracargo",
    JournalKind.REVERSAL: "Corrección",
    JournalKind.ADJUSTMENT: "Ajuste",
    JournalKind.SETTLEMENT: "Liquidación",
    JournalKind.WRITE_OFF: "Castigo",
}
RECEIPT_STATUSES = frozenset(
    {
        PaymentStatus.PAID,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
        PaymentStatus.CHARGED_BACK,
    }
)


def has_receipt(payment: Payment) -> bool:
    """A payment has a receipt once money was received for it."""
    return PaymentStatus(payment.status) in RECEIPT_STATUSES and payment.paid_at is not None


async def clave_rastreo_of(payment: Payment) -> str:
    """The SPEI clave de rastreo of a received transfer, when a bank statement told us."""
    if PaymentMethodType(payment.method) is not PaymentMethodType.SPEI:
        return ""
    from puente.reconciliation.models import StatementMatch

    match = await StatementMatch.filter(payment_id=payment.id).prefetch_related("line").first()
    return match.line.clave_rastreo if match is not None else ""


async def _sums(loan_id: int, **filters: Any) -> dict[T, int]:
    rows = (
        await Posting.filter(account__loan_id=loan_id, **filters)
        .annotate(total=Sum("amount_centavos"))
        .group_by("account__type")
        .values("account__type", "total")
    )
    return {T(row["account__type"]): int(row["total"] or 0) for row in rows}


async def ledger_balance(loan_id: int, as_of: date | None = None) -> dict[T, Decimal]:
    """What the loan's accounts hold (debit positive: owed) at the end of ``as_of``."""
    filters = {"entry__effective_date__lte": as_of} if as_of else {}
    return {k: from_centavos(v) for k, v in (await _sums(loan_id, **filters)).items()}


@dataclass(frozen=True, slots=True)
class Movement:
    day: date
    concept: str
    amount: Decimal  # positive: increases what is owed; negative: a payment or credit
    components: dict[str, Decimal]


@dataclass(frozen=True, slots=True)
class StatementData:
    institution: Institution
    loan: Loan
    borrower_name: str
    period: str  # YYYY-MM
    period_start: date
    cut_date: date  # fecha de corte
    due_date: date | None  # fecha límite de pago: the next installment after the cut
    next_payment: Decimal
    opening_balance: Decimal
    closing_balance: Decimal
    balance_by_component: dict[str, Decimal]
    charged: dict[str, Decimal]  # interest, IVA, moratorium, fees charged in the period
    paid_in_period: Decimal
    movements: list[Movement] = field(default_factory=list)
    annual_rate: Decimal = ZERO
    late_annual_rate: Decimal | None = None
    cat: Decimal | None = None


def parse_period(text: str) -> tuple[date, date] | None:
    """``YYYY-MM`` → (first day, last day = fecha de corte), or None when malformed."""
    try:
        year, month = (int(part) for part in text.split("-"))
        first = date(year, month, 1)
    except ValueError:
        return None
    return first, date(year, month, calendar.monthrange(year, month)[1])


def statement_periods(loan: Loan, today: date) -> list[str]:
    """The months with a statement: from the start month to the last month already cut."""
    if loan.disbursed_at is None and LoanStatus(loan.status) in (
        LoanStatus.APPLICATION,
        LoanStatus.APPROVED,
    ):
        return []
    periods = []
    year, month = loan.start_date.year, loan.start_date.month
    while True:
        cut = date(year, month, calendar.monthrange(year, month)[1])
        if cut >= today:
            return periods
        periods.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _total(balances: Mapping[T, Decimal]) -> Decimal:
    return sum(balances.values(), ZERO)


async def statement_data(loan: Loan, period: str, today: date) -> StatementData | None:
    """The estado de cuenta of ``period`` (None: no such period for this loan yet)."""
    if period not in statement_periods(loan, today):
        return None
    bounds = parse_period(period)
    assert bounds is not None
    start, cut = bounds
    await loan.fetch_related("product", "institution", "borrower")
    opening = await ledger_balance(loan.id, date.fromordinal(start.toordinal() - 1))
    closing = await ledger_balance(loan.id, cut)
    entries = (
        await JournalEntry.filter(
            loan_id=loan.id, effective_date__gte=start, effective_date__lte=cut
        )
        .order_by("effective_date", "id")
        .prefetch_related("postings__account")
    )
    movements: list[Movement] = []
    charged: dict[str, Decimal] = {}
    paid = ZERO
    for entry in entries:
        parts: dict[str, Decimal] = {}
        for posting in entry.postings:
            if posting.account.loan_id != loan.id:
                continue
            label = COMPONENT_LABELS.get(T(posting.account.type))
            if label is None:
                continue
            parts[label] = parts.get(label, ZERO) + from_centavos(posting.amount_centavos)
        if not parts:
            continue
        kind = JournalKind(entry.kind)
        amount = sum(parts.values(), ZERO)
        movements.append(
            Movement(entry.effective_date, KIND_LABELS.get(kind, entry.memo), amount, parts)
        )
        if kind in (JournalKind.BILLING, JournalKind.LATE_CHARGE):
            for label, value in parts.items():
                if label != COMPONENT_LABELS[T.LOAN_PRINCIPAL]:
                    charged[label] = charged.get(label, ZERO) + value
        if kind is JournalKind.PAYMENT:
            paid -= amount
    upcoming = (
        await Installment.filter(loan_id=loan.id, due_date__gt=cut).order_by("due_date").first()
    )
    product = loan.product
    return StatementData(
        institution=loan.institution,
        loan=loan,
        borrower_name=loan.borrower.full_name,
        period=period,
        period_start=start,
        cut_date=cut,
        due_date=upcoming.due_date if upcoming else None,
        next_payment=from_centavos(upcoming.total_centavos) if upcoming else ZERO,
        opening_balance=_total(opening),
        closing_balance=_total(closing),
        balance_by_component={
            COMPONENT_LABELS[k]: v for k, v in closing.items() if k in COMPONENT_LABELS and v
        },
        charged=charged,
        paid_in_period=paid,
        movements=movements,
        annual_rate=Decimal(loan.annual_rate),
        late_annual_rate=Decimal(product.late_annual_rate) if product.late_annual_rate else None,
        cat=Decimal(loan.cat) if loan.cat is not None else None,
    )


@dataclass(frozen=True, slots=True)
class ReceiptData:
    institution: Institution
    payment: Payment
    loan: Loan
    payer_name: str
    paid_at: datetime
    amount: Decimal
    refunded: Decimal
    clave_rastreo: str
    applied: dict[str, Decimal]  # what the payment paid, by component (from its entry)


async def receipt_data(payment: Payment) -> ReceiptData | None:
    """The receipt of a received payment (None: nothing was received)."""
    if not has_receipt(payment):
        return None
    await payment.fetch_related("loan__product", "institution", "user")
    entry = await JournalEntry.filter(payment_id=payment.id, kind=JournalKind.PAYMENT).first()
    applied: dict[str, Decimal] = {}
    if entry is not None:
        for posting in await Posting.filter(entry_id=entry.id).prefetch_related("account"):
            if posting.account.loan_id != payment.loan_id:
                continue
            label = COMPONENT_LABELS.get(T(posting.account.type))
            if label is not None:
                applied[label] = applied.get(label, ZERO) - from_centavos(posting.amount_centavos)
    assert payment.paid_at is not None
    return ReceiptData(
        institution=payment.institution,
        payment=payment,
        loan=payment.loan,
        payer_name=payment.user.full_name,
        paid_at=payment.paid_at,
        amount=from_centavos(payment.amount_centavos),
        refunded=from_centavos(payment.refunded_centavos),
        clave_rastreo=await clave_rastreo_of(payment),
        applied={k: v for k, v in applied.items() if v},
    )
