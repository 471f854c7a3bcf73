"""How a payment was applied, read back from its ledger entry (for the comprobante de pago).

The ledger is the only truth about balances, so the receipt does not recompute the
prelación: it folds the postings of the payment's journal entry, which are tagged with the
installment and the component they settled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from puente.enums import JournalKind
from puente.enums import LedgerAccountType as T
from puente.ledger.entries import Line
from puente.ledger.models import JournalEntry
from puente.ledger.posting import entry_lines
from puente.loans.engine import Component
from puente.loans.models import Installment
from puente.money import ZERO, from_centavos

__all__ = [
    "Application",
    "AppliedInstallment",
    "fold_application",
    "payment_application",
    "schedule_after_prepayment",
]

_COLUMN = {
    Component.PRINCIPAL: "principal",
    Component.INTEREST: "interest",
    Component.INTEREST_VAT: "vat",
    Component.LATE_INTEREST_VAT: "vat",
    Component.FEE_VAT: "vat",
    Component.LATE_INTEREST: "late_interest",
    Component.FEE: "fees",
}


@dataclass(frozen=True, slots=True)
class AppliedInstallment:
    """What the payment settled of one installment, by component (IVA summed)."""

    number: int
    principal: Decimal = ZERO
    interest: Decimal = ZERO
    vat: Decimal = ZERO
    late_interest: Decimal = ZERO  # intereses moratorios (tuition: recargo)
    fees: Decimal = ZERO  # comisiones (tuition: the colegiatura itself)

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.vat + self.late_interest + self.fees


@dataclass(frozen=True, slots=True)
class Application:
    installments: tuple[AppliedInstallment, ...] = ()
    prepayment: Decimal = ZERO  # pago anticipado straight to principal
    advance: Decimal = ZERO  # saldo a favor kept for the next installments
    advance_used: Decimal = ZERO  # saldo a favor from before, applied with this payment
    unapplied: Decimal = ZERO  # held in suspense (nothing left to owe)


def fold_application(lines: Iterable[Line]) -> Application:
    """The payment entry's lines as the borrower reads them (pure)."""
    by_number: dict[int, dict[str, int]] = {}
    prepayment = advance = advance_used = unapplied = 0
    for line in lines:
        kind = line.account.type
        if kind is T.LOAN_ADVANCE:
            if line.centavos < 0:
                advance += -line.centavos
            else:
                advance_used += line.centavos
        elif kind is T.SUSPENSE:
            unapplied += -line.centavos
        elif line.account.loan_id is not None and line.component and line.centavos < 0:
            column = _COLUMN.get(Component(line.component))
            if column is None:
                continue
            if line.installment_number is None:
                prepayment += -line.centavos
                continue
            bucket = by_number.setdefault(line.installment_number, {})
            bucket[column] = bucket.get(column, 0) - line.centavos
    installments = tuple(
        AppliedInstallment(number, **{k: from_centavos(v) for k, v in columns.items()})
        for number, columns in sorted(by_number.items())
    )
    return Application(
        installments=installments,
        prepayment=from_centavos(prepayment),
        advance=from_centavos(advance),
        advance_used=from_centavos(advance_used),
        unapplied=from_centavos(unapplied),
    )


async def payment_application(payment_id: int) -> Application | None:
    """How a paid payment was applied; None while nothing is posted (not paid yet)."""
    entry = await JournalEntry.filter(payment_id=payment_id, kind=JournalKind.PAYMENT).first()
    if entry is None:
        return None
    return fold_application(await entry_lines(entry))


async def schedule_after_prepayment(loan_id: int, application: Application | None) -> list:
    """The re-amortized installments in force, for a payment that prepaid principal (the
    borrower gets the new schedule with the receipt, mexico.md §2.5); otherwise none."""
    if application is None or application.prepayment <= 0:
        return []
    return list(
        await Installment.filter(
            loan_id=loan_id, superseded_on__isnull=True, version__gt=1
        ).order_by("number")
    )
