"""Installment states: the contract's rows plus what the ledger says was charged and paid.

The one translation from stored rows and folded postings to the engine's
``InstallmentState``, used by the contract (``loans.contract``), and through it by the
payoff, the payment and the read model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from puente.loans.activity import InstallmentActivity
from puente.loans.engine import Component, InstallmentState
from puente.loans.engine.schedule import Period
from puente.loans.models import Installment
from puente.money import ZERO, from_centavos, round_centavos

__all__ = ["contract_fee_vat", "installment_states"]


def contract_fee_vat(row: Installment, vat_rate: Decimal) -> Decimal:
    """IVA on an installment's contractual fee (a colegiatura at a school without RVOE):
    computed once from the rounded fee (mexico.md §2.2). Billing posts it, states owe it."""
    return round_centavos(from_centavos(row.fee_centavos) * vat_rate)


def _contract_due(row: Installment, fee_vat_rate: Decimal) -> dict[Component, Decimal]:
    return {
        Component.PRINCIPAL: from_centavos(row.principal_centavos),
        Component.INTEREST: from_centavos(row.interest_centavos),
        Component.INTEREST_VAT: from_centavos(row.vat_centavos),
        Component.FEE: from_centavos(row.fee_centavos),
        Component.FEE_VAT: contract_fee_vat(row, fee_vat_rate),
    }


def installment_states(
    rows: Sequence[Installment],
    activity: Mapping[int, InstallmentActivity],
    periods: Mapping[int, Period] | None = None,
    fee_vat_rate: Decimal = ZERO,
) -> tuple[InstallmentState, ...]:
    """Engine states: the contract plus extra charges, and what payments covered.

    Written-off amounts count as covered (nothing is receivable in the books any more).
    ``periods`` adds the contractual interest dates a payoff or re-amortization needs;
    ``fee_vat_rate`` is the loan's IVA rate, owed on contractual fees.
    """
    states = []
    for row in rows:
        due = _contract_due(row, fee_vat_rate)
        bucket = activity.get(row.number) or InstallmentActivity()
        for name, centavos in bucket.charged.items():
            component = Component(name)
            due[component] = due.get(component, ZERO) + from_centavos(centavos)
        paid: dict[Component, Decimal] = {}
        for source in (bucket.paid, bucket.written_off):
            for name, centavos in source.items():
                component = Component(name)
                paid[component] = paid.get(component, ZERO) + from_centavos(centavos)
        period = (periods or {}).get(row.number)
        states.append(
            InstallmentState(
                row.number,
                row.due_date,
                due,
                paid,
                period_start=period.start if period else None,
                period_end=period.end if period else None,
            )
        )
    return tuple(states)
