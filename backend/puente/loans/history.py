"""A loan's ledger history told in the borrower's words (the API's ``Loan.activity``).

Every journal entry on the loan becomes one row: the money lent, each installment falling
due, moratorium or recargo, each payment with how the prelación applied it, refunds,
chargebacks and write-offs. Amounts are what the entry moved on the loan's own accounts
(``LedgerAccount.loan``): what the borrower owes, or what is held for them. Read for many
loans in three statements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from tortoise.functions import Sum

from puente.enums import JournalKind
from puente.enums import LedgerAccountType as T
from puente.ledger.models import JournalEntry, Posting
from puente.loans.activity import stored_date
from puente.money import format_mxn, from_centavos

__all__ = ["HistoryRow", "describe", "loan_history"]

# What each account holds, said to the borrower (in prelación order for display).
_WORDS = {
    T.LOAN_LATE_INTEREST_VAT: "IVA del interés moratorio",
    T.LOAN_LATE_INTEREST: "interés moratorio",
    T.LOAN_FEE_VAT: "IVA de comisiones",
    T.LOAN_FEES: "comisiones",
    T.LOAN_INTEREST_VAT: "IVA del interés",
    T.LOAN_INTEREST: "interés",
    T.LOAN_PRINCIPAL: "capital",
    T.LOAN_ADVANCE: "saldo a favor",
}
_ORDER = list(_WORDS)


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One entry: its kind, day, amount (centavos, positive) and the parts it touched."""

    entry_id: int
    kind: JournalKind
    on: date
    centavos: int
    payment_id: int | None
    installment: int | None
    parts: dict[str, int] = field(default_factory=dict)  # account type -> signed centavos
    memo: str = ""

    @property
    def description(self) -> str:
        return describe(self)


def _applied(parts: dict[str, int]) -> str:
    shown = [
        f"{_WORDS[T(kind)]} {format_mxn(from_centavos(abs(parts[kind])))}"
        for kind in (k.value for k in _ORDER)
        if parts.get(kind)
    ]
    return ", ".join(shown)


def describe(row: HistoryRow) -> str:
    """The sentence a borrower reads for ``row`` (es-MX)."""
    number = f" {row.installment}" if row.installment is not None else ""
    kind = row.kind
    if kind is JournalKind.DISBURSEMENT:
        return "Depósito del crédito"
    if kind is JournalKind.BILLING:
        return f"Vence el pago{number}"
    if kind is JournalKind.LATE_CHARGE:
        return f"Interés moratorio o recargo del pago{number}"
    if kind is JournalKind.PAYMENT:
        applied = _applied(row.parts)
        return f"Pago recibido, aplicado a: {applied}" if applied else "Pago recibido"
    if kind is JournalKind.REFUND:
        return "Reembolso de un pago"
    if kind is JournalKind.CHARGEBACK:
        return "Contracargo de un pago (el banco lo devolvió)"
    if kind is JournalKind.WRITE_OFF:
        return "Saldo castigado"
    if kind is JournalKind.ADJUSTMENT:
        lowered = sum(parts for parts in row.parts.values()) < 0
        return "Descuento o condonación" if lowered else "Ajuste"
    if kind is JournalKind.REVERSAL:
        return "Corrección de un movimiento"
    return "Movimiento"


async def loan_history(loan_ids: Sequence[int]) -> dict[int, list[HistoryRow]]:
    """Each loan's history, oldest first (three statements for any number of loans)."""
    result: dict[int, list[HistoryRow]] = {loan_id: [] for loan_id in loan_ids}
    if not loan_ids:
        return result
    entries = await JournalEntry.filter(loan_id__in=list(loan_ids)).order_by("effective_date", "id")
    keys = ["entry_id", "account__type"]
    sums = (
        await Posting.filter(entry__loan_id__in=list(loan_ids), account__loan_id__isnull=False)
        .annotate(total=Sum("amount_centavos"))
        .group_by(*keys)
        .values(*keys, "total")
    )
    numbers = (
        await Posting.filter(entry__loan_id__in=list(loan_ids), installment_number__isnull=False)
        .group_by("entry_id", "installment_number")
        .values("entry_id", "installment_number")
    )
    parts: dict[int, dict[str, int]] = defaultdict(dict)
    for row in sums:
        parts[row["entry_id"]][str(row["account__type"])] = int(row["total"] or 0)
    installment: dict[int, int] = {}
    for row in numbers:
        current = installment.get(row["entry_id"])
        value = row["installment_number"]
        installment[row["entry_id"]] = value if current is None else min(current, value)
    for entry in entries:
        touched = parts.get(entry.id, {})
        result[entry.loan_id].append(
            HistoryRow(
                entry_id=entry.id,
                kind=JournalKind(entry.kind),
                on=stored_date(entry.effective_date) or entry.created_at.date(),
                centavos=abs(sum(touched.values())),
                payment_id=entry.payment_id,
                installment=installment.get(entry.id),
                parts=touched,
                memo=entry.memo,
            )
        )
    return result
