"""What each installment owes and has paid, per component: the state the engines share.

Loans (from a schedule) and tuition plans (colegiaturas) both produce ``InstallmentState``s, so
one allocation engine (prelación) serves both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from puente.loans.engine.schedule import Schedule, ScheduleRow
from puente.money import CENT, ZERO, InvalidAmount

__all__ = [
    "VAT_OF",
    "Charge",
    "Component",
    "InstallmentState",
    "add_charges",
    "current_installment",
    "installment_from_row",
    "installments_after",
    "installments_from_schedule",
]


class Component(StrEnum):
    """The parts of what an installment owes; each base has its IVA companion."""

    FEE = "FEE"  # collection costs, late fees (tuition: the colegiatura itself)
    FEE_VAT = "FEE_VAT"
    LATE_INTEREST = "LATE_INTEREST"  # moratorium interest (tuition: recargo)
    LATE_INTEREST_VAT = "LATE_INTEREST_VAT"
    INTEREST = "INTEREST"  # ordinary interest
    INTEREST_VAT = "INTEREST_VAT"
    PRINCIPAL = "PRINCIPAL"


VAT_OF: Mapping[Component, Component] = MappingProxyType(
    {
        Component.FEE: Component.FEE_VAT,
        Component.LATE_INTEREST: Component.LATE_INTEREST_VAT,
        Component.INTEREST: Component.INTEREST_VAT,
    }
)


# Built once: iterating an Enum class is slow, and every state (and every copy a payment
# or a price makes of one) checks all its amounts (issue 15: the read model builds
# thousands of states per dashboard).
_COMPONENTS = tuple(Component)
_ALL_ZERO = dict.fromkeys(_COMPONENTS, ZERO)


def _amounts(field_name: str, values: Mapping[Component, Decimal]) -> Mapping[Component, Decimal]:
    normalized = dict(_ALL_ZERO)
    for key, amount in values.items():
        component = key if type(key) is Component else Component(key)
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise InvalidAmount(f"{field_name}[{component}] must be a finite Decimal")
        if amount < 0 or amount != amount.quantize(CENT):
            raise InvalidAmount(f"{field_name}[{component}] must be >= 0 in whole centavos")
        normalized[component] = amount.quantize(CENT)
    return MappingProxyType(normalized)


@dataclass(frozen=True)
class InstallmentState:
    """Amounts due and paid per component for one installment (every component present).

    ``period_start``/``period_end`` are the contractual interest dates (loans); ``due_date`` is
    when it is payable. Two states are equal when every amount is equal.
    """

    number: int
    due_date: date
    due: Mapping[Component, Decimal]
    paid: Mapping[Component, Decimal] = field(default_factory=dict)
    period_start: date | None = None
    period_end: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "due", _amounts("due", self.due))
        object.__setattr__(self, "paid", _amounts("paid", self.paid))
        for component in _COMPONENTS:
            if self.paid[component] > self.due[component]:
                raise InvalidAmount(f"installment {self.number}: {component} paid exceeds due")

    def outstanding(self, component: Component) -> Decimal:
        """What is still owed on ``component``."""
        return self.due[component] - self.paid[component]

    @property
    def due_total(self) -> Decimal:
        """Everything charged on this installment."""
        return sum(self.due.values(), ZERO)

    @property
    def paid_total(self) -> Decimal:
        """Everything paid on this installment."""
        return sum(self.paid.values(), ZERO)

    @property
    def outstanding_total(self) -> Decimal:
        """Everything still owed on this installment."""
        return self.due_total - self.paid_total

    @property
    def is_settled(self) -> bool:
        """True when nothing is owed."""
        return self.due == self.paid

    def with_paid(self, component: Component, amount: Decimal) -> InstallmentState:
        """A copy with ``amount`` more paid on ``component``."""
        return replace(self, paid={**self.paid, component: self.paid[component] + amount})

    def with_charge(self, component: Component, amount: Decimal) -> InstallmentState:
        """A copy with ``amount`` more due on ``component`` (a fee, moratorium, surcharge)."""
        return replace(self, due={**self.due, component: self.due[component] + amount})


@dataclass(frozen=True)
class Charge:
    """An amount to add to what an installment owes (produced by accrual, never by payments)."""

    installment_number: int
    component: Component
    amount: Decimal


def installment_from_row(row: ScheduleRow) -> InstallmentState:
    """An unpaid installment state for one schedule row."""
    return InstallmentState(
        number=row.number,
        due_date=row.due_date,
        due={
            Component.INTEREST: row.interest,
            Component.INTEREST_VAT: row.vat,
            Component.PRINCIPAL: row.principal,
        },
        period_start=row.period_start,
        period_end=row.period_end,
    )


def installments_from_schedule(schedule: Schedule) -> tuple[InstallmentState, ...]:
    """Unpaid installment states for every row of a schedule."""
    return tuple(installment_from_row(row) for row in schedule.rows)


def add_charges(
    installments: Sequence[InstallmentState], charges: Iterable[Charge]
) -> tuple[InstallmentState, ...]:
    """Installments with ``charges`` added to what they owe."""
    by_number = {state.number: state for state in installments}
    for charge in charges:
        if charge.installment_number not in by_number:
            raise KeyError(f"no installment number {charge.installment_number}")
        state = by_number[charge.installment_number]
        by_number[charge.installment_number] = state.with_charge(charge.component, charge.amount)
    return tuple(by_number[state.number] for state in installments)


def current_installment(
    installments: Sequence[InstallmentState], today: date
) -> InstallmentState | None:
    """The next installment to fall due on or after ``today`` (paid or not), or None.

    Defined by dates only, never by what is paid, so the answer cannot change between two
    payments made the same day: that is what makes allocation split-invariant.
    """
    upcoming = [state for state in installments if state.due_date >= today]
    return min(upcoming, key=_by_date, default=None)


def installments_after(
    installments: Sequence[InstallmentState], current: InstallmentState | None
) -> list[InstallmentState]:
    """Installments falling due after ``current`` (none when there is no current one), by date."""
    if current is None:
        return []
    key = _by_date(current)
    return sorted((state for state in installments if _by_date(state) > key), key=_by_date)


def _by_date(state: InstallmentState) -> tuple[date, int]:
    return state.due_date, state.number
