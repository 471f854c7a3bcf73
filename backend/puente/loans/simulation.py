"""The public loan simulator: schedule, totals and CAT for hypothetical terms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from puente.loans.engine import (
    MEXICO_BANKS,
    CatError,
    LoanTerms,
    LoanTermsError,
    Schedule,
    build_schedule,
    cat_for_schedule,
)

__all__ = ["Simulation", "simulate_loan"]

MAX_SIMULATED_PRINCIPAL = Decimal("100000000")  # a public endpoint: keep requests bounded


@dataclass(frozen=True, slots=True)
class Simulation:
    schedule: Schedule
    cat: Decimal


def simulate_loan(
    *,
    principal: Decimal,
    annual_rate: Decimal,
    term_count: int,
    periodicity: str,
    method: str = "FRENCH",
    vat_rate: Decimal = Decimal("0.16"),
    opening_fee_rate: Decimal = Decimal("0"),
    day_count: str = "PERIODIC",
    start_date: date,
) -> Simulation:
    """Raises ``LoanTermsError`` (with ``field``) for terms that cannot give a sound schedule
    (never another exception: this is a public door)."""
    terms = LoanTerms(
        principal=principal,
        annual_rate=annual_rate,
        term_count=term_count,
        start_date=start_date,
        periodicity=periodicity,
        method=method,
        vat_rate=vat_rate,
        day_count=day_count,
        opening_fee_rate=opening_fee_rate,
        calendar=MEXICO_BANKS,
    )
    # Checked after LoanTerms has refused NaN and junk: comparing a NaN raises.
    if terms.principal > MAX_SIMULATED_PRINCIPAL:
        raise LoanTermsError("principal", "must be at most 100,000,000.00 MXN")
    if terms.opening_fee_rate >= 1:
        raise LoanTermsError("opening_fee_rate", "must be between 0 and 1 (0.03 = 3 %)")
    schedule = build_schedule(terms)
    try:
        cat = cat_for_schedule(schedule)
    except CatError:
        raise LoanTermsError(
            "annual_rate", "these terms have no CAT (Banxico Circular 21/2009)"
        ) from None
    return Simulation(schedule, cat)
