"""A loan's frozen terms as the engine sees them, and which statuses are still running.

Pure (no database): the read model, the contract loader and the lifecycle all use it.
"""

from __future__ import annotations

from decimal import Decimal

from puente.enums import LoanStatus
from puente.loans.engine import (
    MEXICO_BANKS,
    AmortizationMethod,
    DayCount,
    LoanTerms,
    Periodicity,
)
from puente.loans.engine.schedule import Period, contractual_periods
from puente.loans.models import Loan
from puente.money import ZERO, from_centavos

__all__ = ["OPEN_STATUSES", "contract_periods", "loan_terms"]

# Loans that still run: they accrue, take payments and have a payoff.
OPEN_STATUSES = frozenset({LoanStatus.ACTIVE, LoanStatus.DEFAULTED, LoanStatus.RESTRUCTURED})


def loan_terms(
    loan: Loan, opening_fee_rate: Decimal = ZERO, *, term_count: int | None = None
) -> LoanTerms:
    """The engine's view of a loan's frozen terms (``term_count`` to extend the calendar)."""
    return LoanTerms(
        principal=from_centavos(loan.principal_centavos),
        annual_rate=Decimal(loan.annual_rate),
        term_count=term_count or loan.term_count,
        start_date=loan.start_date,
        periodicity=Periodicity(loan.periodicity),
        method=AmortizationMethod(loan.method),
        vat_rate=Decimal(loan.vat_rate),
        day_count=DayCount(loan.day_count),
        opening_fee_rate=opening_fee_rate,
        calendar=MEXICO_BANKS,
    )


def contract_periods(loan: Loan, count: int) -> dict[int, Period]:
    """Contractual interest periods 1..count (tuition accounts have none)."""
    if loan.principal_centavos <= 0 or count < 1:
        return {}
    terms = loan_terms(loan, term_count=max(count, 1))
    return {period.number: period for period in contractual_periods(terms)}
