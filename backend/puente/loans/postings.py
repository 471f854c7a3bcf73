"""The loan's ledger lines, as pure rules: which accounts each event moves (values in, lines out).

The chart and the table of events are in docs/architecture.md. Every line on a per-loan
account is tagged with its installment number and the component as the engine names it
(``Component``), so the read model can rebuild each installment from the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable

from puente.enums import LedgerAccountType as T
from puente.ledger.entries import AccountRef, Line, reversal_lines
from puente.loans.engine import AllocationLine, Charge, Component
from puente.money import to_centavos

__all__ = [
    "COMPONENT_ACCOUNT",
    "VAT_COMPONENTS",
    "allocation_lines",
    "cash_line",
    "charge_lines",
    "credit_back_lines",
    "reduction_lines",
]

# Where each component is receivable.
COMPONENT_ACCOUNT = {
    Component.PRINCIPAL: T.LOAN_PRINCIPAL,
    Component.INTEREST: T.LOAN_INTEREST,
    Component.INTEREST_VAT: T.LOAN_INTEREST_VAT,
    Component.LATE_INTEREST: T.LOAN_LATE_INTEREST,
    Component.LATE_INTEREST_VAT: T.LOAN_LATE_INTEREST_VAT,
    Component.FEE: T.LOAN_FEES,
    Component.FEE_VAT: T.LOAN_FEE_VAT,
}
# The other side when a component becomes receivable: income, or IVA trasladado no cobrado.
COUNTERPART = {
    Component.INTEREST: T.INTEREST_INCOME,
    Component.INTEREST_VAT: T.VAT_UNCOLLECTED,
    Component.LATE_INTEREST: T.LATE_INTEREST_INCOME,
    Component.LATE_INTEREST_VAT: T.VAT_UNCOLLECTED,
    Component.FEE: T.FEE_INCOME,
    Component.FEE_VAT: T.VAT_UNCOLLECTED,
}
VAT_COMPONENTS = frozenset({Component.INTEREST_VAT, Component.LATE_INTEREST_VAT, Component.FEE_VAT})


def _receivable(institution_id: int, loan_id: int, component: Component) -> AccountRef:
    return AccountRef(institution_id, COMPONENT_ACCOUNT[component], loan_id=loan_id)


def cash_line(institution_id: int, provider: str, centavos: int) -> Line:
    """Dr the provider's clearing account: money it holds for us."""
    return Line(AccountRef(institution_id, T.CASH_CLEARING, provider=provider), centavos)


def allocation_lines(
    institution_id: int, loan_id: int, lines: Iterable[AllocationLine]
) -> list[Line]:
    """Credit each allocated component; collected IVA moves from uncollected to payable
    (LIVA art. 1-B: IVA is caused when the consideration is effectively received)."""
    result: list[Line] = []
    for line in lines:
        centavos = to_centavos(line.amount)
        if not centavos:
            continue
        result.append(
            Line(
                _receivable(institution_id, loan_id, line.component),
                -centavos,
                line.installment_number,
                line.component.value,
            )
        )
        if line.component in VAT_COMPONENTS:
            result.append(Line(AccountRef(institution_id, T.VAT_UNCOLLECTED), centavos))
            result.append(Line(AccountRef(institution_id, T.VAT_PAYABLE), -centavos))
    return result


def charge_lines(institution_id: int, loan_id: int, charges: Iterable[Charge]) -> list[Line]:
    """A charge makes a component receivable: Dr loan_<component>, Cr its income (or, for
    IVA, vat_uncollected until it is collected)."""
    result: list[Line] = []
    for charge in charges:
        centavos = to_centavos(charge.amount)
        if not centavos:
            continue
        result.append(
            Line(
                _receivable(institution_id, loan_id, charge.component),
                centavos,
                charge.installment_number,
                charge.component.value,
            )
        )
        result.append(Line(AccountRef(institution_id, COUNTERPART[charge.component]), -centavos))
    return result


def reduction_lines(institution_id: int, loan_id: int, charges: Iterable[Charge]) -> list[Line]:
    """The opposite of ``charge_lines``: an amount the borrower no longer owes (a pronto-pago
    discount, interest not earned on payoff). Income (or uncollected IVA) goes down with it."""
    return reversal_lines(charge_lines(institution_id, loan_id, charges))


def credit_back_lines(institution_id: int, loan_id: int, credits: Iterable[Charge]) -> list[Line]:
    """Take back interest (and IVA) a payment collected ahead of the days elapsed, so it
    pays something else: the opposite of ``allocation_lines`` (the IVA collected on it is
    no longer owed to SAT, as the interest it was caused on is waived)."""
    paid = [AllocationLine(c.installment_number, c.component, c.amount) for c in credits]
    return reversal_lines(allocation_lines(institution_id, loan_id, paid))
