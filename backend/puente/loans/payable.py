"""May this loan be paid, and how much at most today: the one rule every door asks.

Checkout (GraphQL ``createPayment``, the portal's pay form and hosted card form), the STP
abono callback (``confirmar`` or ``devolver``), the STP transfer instructions and the
portal's amount offers all call :func:`payable_amount`; nothing else decides it.

- A loan takes payments while it runs: active, defaulted (cobranza) or restructured
  (it runs on its new schedule). Not before disbursement, not once paid off or written off.
- The most that may be paid today is the payoff today (``payoff_quote``): what leaves the
  loan owing nothing, interest only for the days elapsed (mexico.md §2.1). More than that
  is refused before any money moves; money that arrives anyway (an SPEI abono, a payment
  completed after another one landed) is applied up to it and the rest goes to suspense.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient

from puente.enums import LoanStatus
from puente.loans.models import Loan
from puente.loans.payoff import payoff_quote
from puente.loans.terms import OPEN_STATUSES
from puente.money import ZERO, format_mxn

__all__ = ["PAYABLE_STATUSES", "Payable", "may_take_payments", "payable_amount"]

# The statuses in which a loan takes payments: exactly the running ones.
PAYABLE_STATUSES = OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class Payable:
    """``maximum`` may be paid today when ``may_pay``; otherwise ``code``/``message`` say why."""

    may_pay: bool
    maximum: Decimal
    code: str = ""
    message: str = ""  # Spanish, safe to show to the payer

    def refusal_for(self, amount: Decimal) -> tuple[str, str] | None:
        """Why ``amount`` may not be paid today (code, Spanish message), or None."""
        if not self.may_pay:
            return self.code, self.message
        if amount > self.maximum:
            return (
                "AMOUNT_ABOVE_PAYOFF",
                f"El monto excede lo que liquida tu crédito hoy ({format_mxn(self.maximum)}).",
            )
        return None


def may_take_payments(status: LoanStatus | str) -> bool:
    """True while a loan in ``status`` takes payments (pure)."""
    return LoanStatus(status) in PAYABLE_STATUSES


async def payable_amount(loan: Loan, today: date, conn: BaseDBAsyncClient | None = None) -> Payable:
    """Whether ``loan`` may be paid on ``today`` and the most that may be paid (its payoff)."""
    if not may_take_payments(loan.status):
        return Payable(False, ZERO, "LOAN_NOT_PAYABLE", "Este crédito no admite pagos.")
    quote = await payoff_quote(loan, today, conn)
    if quote.total <= 0:
        return Payable(False, ZERO, "NOTHING_TO_PAY", "Este crédito no tiene saldo por pagar.")
    return Payable(True, quote.total)
