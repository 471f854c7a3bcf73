"""Payment allocation (prelación): which components of which installments a payment pays.

The default order is the typical Mexican contract order (mexico.md §2.4; Código Civil art. 2094:
no payment goes to principal while overdue interest is unpaid): fees + IVA, moratorium interest +
IVA, ordinary interest + IVA that is due, overdue principal, then the current installment
(interest + IVA, principal); oldest installment first.
What is left over follows the overpayment mode (mexico.md §2.5).

Split invariance: the order depends only on ``today`` and the installments' dates, and a base
and its IVA are filled as a function of the cumulative amount paid on the pair, so paying 300
then 700 leaves the same state as paying 1,000 at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from puente.loans.engine.installments import (
    VAT_OF,
    Component,
    InstallmentState,
    current_installment,
    installments_after,
)
from puente.money import CENT, ZERO, InvalidAmount, round_centavos

__all__ = [
    "DEFAULT_PRELACION",
    "Allocation",
    "AllocationError",
    "AllocationLine",
    "OverpaymentMode",
    "Prelacion",
    "PrelacionStep",
    "Scope",
    "allocate_payment",
]


class AllocationError(ValueError):
    """Installments or a payment that cannot be allocated (duplicates, bad amounts)."""


class Scope(StrEnum):
    """Which installments a prelación step reaches, relative to ``today``."""

    ANY = "ANY"  # wherever it is owed: fees and moratorium are payable as soon as charged
    DUE = "DUE"  # exigible: due_date on or before today
    PAST_DUE = "PAST_DUE"  # due_date before today
    CURRENT = "CURRENT"  # the next installment due on or after today


class OverpaymentMode(StrEnum):
    """What happens to money left after everything payable today is paid (mexico.md §2.5)."""

    REDUCE_TERM = "REDUCE_TERM"  # pago anticipado to principal; same installment, fewer of them
    REDUCE_INSTALLMENT = "REDUCE_INSTALLMENT"  # pago anticipado; same term, lower installment
    ADVANCE = "ADVANCE"  # pago adelantado: held, applied to installments as they fall due


@dataclass(frozen=True)
class PrelacionStep:
    """Components paid in this step, for the installments in ``scope``, oldest first.

    A base and its IVA in the same step are paid together in proportion (LIVA art. 1-B: IVA is
    caused on what is actually collected, so part of every peso collected is the IVA).
    """

    components: tuple[Component, ...]
    scope: Scope


@dataclass(frozen=True)
class Prelacion:
    """An ordered list of steps: the payment application order a contract states."""

    steps: tuple[PrelacionStep, ...]


DEFAULT_PRELACION = Prelacion(
    steps=(
        PrelacionStep((Component.FEE, Component.FEE_VAT), Scope.ANY),
        PrelacionStep((Component.LATE_INTEREST, Component.LATE_INTEREST_VAT), Scope.ANY),
        PrelacionStep((Component.INTEREST, Component.INTEREST_VAT), Scope.DUE),
        PrelacionStep((Component.PRINCIPAL,), Scope.PAST_DUE),
        # The current installment, when not yet due, is paid only after everything overdue.
        PrelacionStep((Component.INTEREST, Component.INTEREST_VAT), Scope.CURRENT),
        PrelacionStep((Component.PRINCIPAL,), Scope.CURRENT),
    )
)


@dataclass(frozen=True)
class AllocationLine:
    """``amount`` of a payment applied to ``component`` of installment ``installment_number``.

    ``in_advance`` marks lines for an installment not yet due on the payment date (a regular
    installment paid early): the ledger may hold them until billing.
    """

    installment_number: int
    component: Component
    amount: Decimal
    in_advance: bool = False


@dataclass(frozen=True)
class Allocation:
    """Where a payment went: ``sum(lines) + surplus == amount``, always to the centavo.

    ``surplus`` splits into ``prepayment`` (REDUCE_* modes: to principal, then call
    ``reamortize``), ``advance`` (ADVANCE: held for future installments) and ``unapplied``
    (nothing left to owe: refund or suspense).
    """

    amount: Decimal
    today: date
    overpayment: OverpaymentMode
    lines: tuple[AllocationLine, ...]
    surplus: Decimal
    prepayment: Decimal
    advance: Decimal
    installments: tuple[InstallmentState, ...]  # the state after applying ``lines``

    @property
    def applied(self) -> Decimal:
        """Amount applied to installment components."""
        return self.amount - self.surplus

    @property
    def unapplied(self) -> Decimal:
        """Surplus that is neither prepayment nor advance."""
        return self.surplus - self.prepayment - self.advance

    def total_for(self, component: Component) -> Decimal:
        """Amount applied to one component across installments."""
        return sum((line.amount for line in self.lines if line.component is component), ZERO)


def allocate_payment(
    installments: Sequence[InstallmentState],
    amount: Decimal,
    today: date,
    prelacion: Prelacion = DEFAULT_PRELACION,
    overpayment: OverpaymentMode = OverpaymentMode.ADVANCE,
) -> Allocation:
    """Apply ``amount`` received on ``today`` to ``installments`` in prelación order."""
    amount = _payment_amount(amount)
    ordered = sorted(installments, key=lambda state: (state.due_date, state.number))
    if len({state.number for state in ordered}) != len(ordered):
        raise AllocationError("installment numbers must be unique")
    current = current_installment(ordered, today)
    states = {state.number: state for state in ordered}
    paid: dict[tuple[int, Component], Decimal] = {}
    remaining = amount
    for step in prelacion.steps:
        units = _units(step.components)
        for state in ordered:
            if remaining == 0:
                break
            if not _in_scope(state, step.scope, today, current):
                continue
            for unit in units:
                state, applied = _pay_unit(states[state.number], unit, remaining)
                states[state.number] = state
                for component, value in applied:
                    key = (state.number, component)
                    paid[key] = paid.get(key, ZERO) + value
                    remaining -= value
    lines = tuple(
        AllocationLine(number, component, value, in_advance=states[number].due_date > today)
        for (number, component), value in paid.items()
    )
    future = installments_after(ordered, current)
    prepayment = advance = ZERO
    if overpayment is OverpaymentMode.ADVANCE:
        if any(states[state.number].outstanding_total > 0 for state in future):
            advance = remaining
    else:
        room = sum((states[s.number].outstanding(Component.PRINCIPAL) for s in future), ZERO)
        prepayment = min(remaining, room)
    return Allocation(
        amount=amount,
        today=today,
        overpayment=OverpaymentMode(overpayment),
        lines=lines,
        surplus=remaining,
        prepayment=prepayment,
        advance=advance,
        installments=tuple(states[state.number] for state in installments),
    )


def _payment_amount(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidAmount("a payment amount must be a finite Decimal")
    if amount < 0 or amount != amount.quantize(CENT):
        raise InvalidAmount("a payment amount must be >= 0 in whole centavos")
    return amount.quantize(CENT)


def _in_scope(
    state: InstallmentState, scope: Scope, today: date, current: InstallmentState | None
) -> bool:
    if scope is Scope.ANY:
        return True
    if scope is Scope.CURRENT:
        return current is not None and state.number == current.number
    if scope is Scope.PAST_DUE:
        return state.due_date < today
    return state.due_date <= today


def _units(components: tuple[Component, ...]) -> list[tuple[Component, ...]]:
    """Group a step's components into single components and (base, IVA) pairs."""
    units: list[tuple[Component, ...]] = []
    done: set[Component] = set()
    bases = {vat: base for base, vat in VAT_OF.items()}
    for component in components:
        if component in done:
            continue
        base = bases.get(component, component)
        vat = VAT_OF.get(base)
        if vat is not None and base in components and vat in components:
            units.append((base, vat))
            done.update((base, vat))
        else:
            units.append((component,))
            done.add(component)
    return units


def _pay_unit(
    state: InstallmentState, unit: tuple[Component, ...], available: Decimal
) -> tuple[InstallmentState, list[tuple[Component, Decimal]]]:
    if available == 0:
        return state, []
    if len(unit) == 1:
        (component,) = unit
        take = min(available, state.outstanding(component))
        if take == 0:
            return state, []
        return state.with_paid(component, take), [(component, take)]
    base, vat = unit
    base_due, vat_due = state.due[base], state.due[vat]
    base_paid, vat_paid = state.paid[base], state.paid[vat]
    take = min(available, base_due + vat_due - base_paid - vat_paid)
    if take == 0:
        return state, []
    # The base's share is a function of the cumulative amount paid on the pair (not of this
    # payment alone), so any split of the same total lands on the same centavos.
    cumulative = base_paid + vat_paid + take
    share = round_centavos(cumulative * base_due / (base_due + vat_due))
    low = max(base_paid, cumulative - vat_due)
    high = min(base_due, base_paid + take)
    base_amount = min(max(share, low), high) - base_paid
    vat_amount = take - base_amount
    applied = [(c, value) for c, value in ((base, base_amount), (vat, vat_amount)) if value > 0]
    for component, value in applied:
        state = state.with_paid(component, value)
    return state, applied
