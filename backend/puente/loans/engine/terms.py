"""Loan terms: the validated input every loan engine starts from.

The enum values are the strings stored on ``LoanProduct``/``Loan`` (``"FRENCH"``, ``"MONTHLY"``,
``"PERIODIC"``), so a row read from the database converts with ``Periodicity(row.periodicity)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cached_property

from puente.loans.engine.calendar import BusinessCalendar, days_in_month
from puente.money import CENT, ZERO, round_centavos

__all__ = [
    "AmortizationMethod",
    "DayCount",
    "LoanTerms",
    "LoanTermsError",
    "Periodicity",
]

MAX_ANNUAL_RATE = Decimal(10)  # 1,000 % a year: anything above is a typo, not a product
MAX_TERM_COUNT = 600
# A trillion pesos: far above any loan, and its centavos (and their interest over 600 periods)
# stay inside Decimal's 28 digits and a 64-bit centavos column.
MAX_PRINCIPAL = Decimal("1000000000000.00")
MIN_START_DATE = date(1900, 1, 1)
MAX_START_DATE = date(2199, 12, 31)
_MAX_FIRST_GAP = timedelta(days=366)


class LoanTermsError(ValueError):
    """Loan terms that cannot produce a schedule; ``field`` names the input to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Periodicity(StrEnum):
    """How often installments fall due; ``periods_per_year`` is the CAT's m."""

    WEEKLY = "WEEKLY"  # semanal, every 7 days, m = 52
    BIWEEKLY = "BIWEEKLY"  # catorcenal, every 14 days, m = 26
    SEMIMONTHLY = "SEMIMONTHLY"  # quincenal, the 15th and the last day of each month, m = 24
    MONTHLY = "MONTHLY"  # mensual, m = 12

    @property
    def periods_per_year(self) -> int:
        """Banxico Circular 21/2009: t = k/m with m = 52, 26, 24 or 12."""
        return _PERIODS_PER_YEAR[self]


_PERIODS_PER_YEAR = {
    Periodicity.WEEKLY: 52,
    Periodicity.BIWEEKLY: 26,
    Periodicity.SEMIMONTHLY: 24,
    Periodicity.MONTHLY: 12,
}


class AmortizationMethod(StrEnum):
    """FRENCH: level installments (pagos fijos); GERMAN: level principal (pagos decrecientes)."""

    FRENCH = "FRENCH"
    GERMAN = "GERMAN"


class DayCount(StrEnum):
    """Interest per period: rate/m, or rate × actual days / 360 or / 365 (contract must say)."""

    PERIODIC = "PERIODIC"
    ACTUAL_360 = "ACTUAL_360"
    ACTUAL_365 = "ACTUAL_365"


@dataclass(frozen=True, kw_only=True)
class LoanTerms:
    """Everything needed to build a loan schedule; validated on construction."""

    principal: Decimal
    annual_rate: Decimal  # nominal, before IVA: Decimal("0.36") is 36 % a year
    term_count: int
    start_date: date
    periodicity: Periodicity = Periodicity.MONTHLY
    method: AmortizationMethod = AmortizationMethod.FRENCH
    vat_rate: Decimal = Decimal("0.16")  # LIVA art. 15 fr. X: consumer credit interest bears 16 %
    day_count: DayCount = DayCount.PERIODIC
    vat_in_installment: bool | None = None  # None: True for FRENCH, False for GERMAN
    opening_fee_rate: Decimal = ZERO
    opening_fee_financed: bool = False  # False: withheld from the disbursement
    fee_vat_rate: Decimal | None = None  # IVA on the opening fee; None: same as vat_rate
    calendar: BusinessCalendar | None = None  # None: due dates are never moved
    first_due_date: date | None = None

    def __post_init__(self) -> None:
        principal = _decimal("principal", self.principal)
        if principal <= 0:
            raise LoanTermsError("principal", "must be greater than zero")
        if principal > MAX_PRINCIPAL:
            raise LoanTermsError("principal", f"must be at most {MAX_PRINCIPAL:,}")
        if principal != principal.quantize(CENT):
            raise LoanTermsError("principal", "must be whole centavos (two decimals at most)")
        object.__setattr__(self, "principal", principal.quantize(CENT))
        rate = _decimal("annual_rate", self.annual_rate)
        if not ZERO <= rate <= MAX_ANNUAL_RATE:
            raise LoanTermsError("annual_rate", "must be between 0 and 10 (0 % to 1,000 % a year)")
        object.__setattr__(self, "annual_rate", rate)
        _set_fraction(self, "vat_rate", self.vat_rate)
        _set_fraction(self, "opening_fee_rate", self.opening_fee_rate)
        if self.fee_vat_rate is not None:
            _set_fraction(self, "fee_vat_rate", self.fee_vat_rate)
        if type(self.term_count) is not int or not 1 <= self.term_count <= MAX_TERM_COUNT:
            raise LoanTermsError("term_count", f"must be a whole number from 1 to {MAX_TERM_COUNT}")
        for name in ("periodicity", "method", "day_count"):
            _set_enum(self, name)
        if self.vat_in_installment and self.method is AmortizationMethod.GERMAN:
            raise LoanTermsError(
                "vat_in_installment", "only FRENCH keeps a level installment; leave it unset"
            )
        if not _is_date(self.start_date):
            raise LoanTermsError("start_date", "must be a date (not a datetime)")
        if not MIN_START_DATE <= self.start_date <= MAX_START_DATE:
            # 600 months from the last allowed start still fit in the calendar (year 9999
            # would overflow while computing due dates).
            raise LoanTermsError(
                "start_date", f"must be between {MIN_START_DATE} and {MAX_START_DATE}"
            )
        if self.first_due_date is not None:
            self._check_first_due_date(self.first_due_date)
        if self.calendar is not None and not isinstance(self.calendar, BusinessCalendar):
            raise LoanTermsError("calendar", "must be a BusinessCalendar or None")
        if not self.opening_fee_financed and self.opening_fee + self.opening_fee_vat >= principal:
            raise LoanTermsError("opening_fee_rate", "a withheld fee leaves nothing to disburse")

    def _check_first_due_date(self, first: date) -> None:
        if not _is_date(first):
            raise LoanTermsError("first_due_date", "must be a date (not a datetime)")
        if not self.start_date < first <= self.start_date + _MAX_FIRST_GAP:
            raise LoanTermsError("first_due_date", "must be after start_date, within a year")
        if self.periodicity is Periodicity.SEMIMONTHLY and first.day not in (
            15,
            days_in_month(first.year, first.month),
        ):
            raise LoanTermsError("first_due_date", "quincenal dates are the 15th or month end")

    @property
    def periods_per_year(self) -> int:
        """The CAT's m for this periodicity."""
        return self.periodicity.periods_per_year

    @cached_property
    def periodic_rate(self) -> Decimal:
        """Nominal rate per period before IVA (annual_rate / m)."""
        return self.annual_rate / self.periods_per_year

    @cached_property
    def embeds_vat(self) -> bool:
        """Whether the level installment already includes IVA on interest (mexico.md §2.1)."""
        if self.vat_in_installment is None:
            return self.method is AmortizationMethod.FRENCH
        return self.vat_in_installment

    @cached_property
    def effective_fee_vat_rate(self) -> Decimal:
        """IVA rate applied to the opening fee."""
        return self.vat_rate if self.fee_vat_rate is None else self.fee_vat_rate

    @cached_property
    def opening_fee(self) -> Decimal:
        """Comisión por apertura, rounded to the centavo."""
        return round_centavos(self.principal * self.opening_fee_rate)

    @cached_property
    def opening_fee_vat(self) -> Decimal:
        """IVA on the opening fee (LIVA: fees bear IVA even when interest is exempt)."""
        return round_centavos(self.opening_fee * self.effective_fee_vat_rate)

    @cached_property
    def financed_principal(self) -> Decimal:
        """Principal the schedule amortizes: a financed fee and its IVA are added to it."""
        if self.opening_fee_financed:
            return self.principal + self.opening_fee + self.opening_fee_vat
        return self.principal

    @cached_property
    def disbursed_amount(self) -> Decimal:
        """Cash the borrower receives: a withheld fee and its IVA are deducted."""
        if self.opening_fee_financed:
            return self.principal
        return self.principal - self.opening_fee - self.opening_fee_vat


def _is_date(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _decimal(field: str, value: object) -> Decimal:
    # Floats are refused for the same reason puente.money refuses them: 0.1 is not exact.
    if isinstance(value, bool) or isinstance(value, float):
        raise LoanTermsError(field, "give a Decimal or a decimal string, not a float")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise LoanTermsError(field, f"{value!r} is not a number") from None
    else:
        raise LoanTermsError(field, f"{type(value).__name__} is not a number")
    if not result.is_finite():
        raise LoanTermsError(field, "must be a finite number")
    return result


def _set_fraction(terms: LoanTerms, field: str, value: object) -> None:
    result = _decimal(field, value)
    if not ZERO <= result <= 1:
        raise LoanTermsError(field, "must be a fraction between 0 and 1 (0.16 is 16 %)")
    object.__setattr__(terms, field, result)


def _set_enum(terms: LoanTerms, field: str) -> None:
    kind = {"periodicity": Periodicity, "method": AmortizationMethod, "day_count": DayCount}[field]
    value = getattr(terms, field)
    try:
        object.__setattr__(terms, field, kind(value))
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise LoanTermsError(field, f"{value!r} is not one of {choices}") from None
