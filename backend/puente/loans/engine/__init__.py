"""Pure loan engines: calendar, schedule, CAT, allocation (prelación), prepayment, delinquency.

Values in, values out: no database, no HTTP, no clock (dates are arguments). Money is
``Decimal`` rounded to the centavo half-up (``puente.money``).

Typical use by a service::

    terms = LoanTerms(principal=Decimal("12000"), annual_rate=Decimal("0.36"), term_count=12,
                      start_date=date(2026, 1, 15), calendar=MEXICO_BANKS)
    schedule = build_schedule(terms)
    cat = cat_for_schedule(schedule)                  # Decimal("...") percent, one decimal
    states = installments_from_schedule(schedule)
    states = add_charges(states, accrue(states, today, policy, accrued_through=last).charges)
    allocation = allocate_payment(states, amount, today, overpayment=OverpaymentMode.REDUCE_TERM)
    if allocation.prepayment:
        states = reamortize(terms, allocation.installments, allocation.prepayment,
                            OverpaymentMode.REDUCE_TERM, today).installments
"""

from __future__ import annotations

from puente.loans.engine.allocation import (
    DEFAULT_PRELACION,
    Allocation,
    AllocationError,
    AllocationLine,
    OverpaymentMode,
    Prelacion,
    PrelacionStep,
    Scope,
    allocate_payment,
)
from puente.loans.engine.calendar import (
    MEXICO_BANKS,
    BusinessCalendar,
    add_months,
    easter_sunday,
    mexican_bank_holidays,
)
from puente.loans.engine.cat import (
    CashFlow,
    CatError,
    annual_rate_from_flows,
    cat_for_schedule,
    cat_from_flows,
)
from puente.loans.engine.delinquency import (
    Accrual,
    DelinquencyBucket,
    MoratoriumBase,
    MoratoriumPolicy,
    accrue,
    accrue_days,
    accrue_range,
    bucket_for_days,
    days_past_due,
    delinquency_bucket,
    grace_end,
)
from puente.loans.engine.installments import (
    VAT_OF,
    Charge,
    Component,
    InstallmentState,
    add_charges,
    current_installment,
    installment_from_row,
    installments_after,
    installments_from_schedule,
)
from puente.loans.engine.prepayment import (
    PAYOFF_PRELACION,
    Payoff,
    Reamortization,
    payoff_amount,
    reamortize,
)
from puente.loans.engine.schedule import Schedule, ScheduleRow, build_schedule, level_amount
from puente.loans.engine.terms import (
    AmortizationMethod,
    DayCount,
    LoanTerms,
    LoanTermsError,
    Periodicity,
)

__all__ = [
    "DEFAULT_PRELACION",
    "MEXICO_BANKS",
    "PAYOFF_PRELACION",
    "VAT_OF",
    "Accrual",
    "Allocation",
    "AllocationError",
    "AllocationLine",
    "AmortizationMethod",
    "BusinessCalendar",
    "CashFlow",
    "CatError",
    "Charge",
    "Component",
    "DayCount",
    "DelinquencyBucket",
    "InstallmentState",
    "LoanTerms",
    "LoanTermsError",
    "MoratoriumBase",
    "MoratoriumPolicy",
    "OverpaymentMode",
    "Payoff",
    "Periodicity",
    "Prelacion",
    "PrelacionStep",
    "Reamortization",
    "Schedule",
    "ScheduleRow",
    "Scope",
    "accrue",
    "accrue_days",
    "accrue_range",
    "add_charges",
    "add_months",
    "allocate_payment",
    "annual_rate_from_flows",
    "bucket_for_days",
    "build_schedule",
    "cat_for_schedule",
    "cat_from_flows",
    "current_installment",
    "days_past_due",
    "delinquency_bucket",
    "easter_sunday",
    "grace_end",
    "installment_from_row",
    "installments_after",
    "installments_from_schedule",
    "level_amount",
    "mexican_bank_holidays",
    "payoff_amount",
    "reamortize",
]
