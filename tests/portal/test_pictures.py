"""The loan pictures say in words what they draw, from the read model's own figures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from puente.loans.engine import DelinquencyBucket
from puente.loans.state import InstallmentStatus, InstallmentView, LoanBalanceView, LoanView
from puente.portal.pictures import balance_chart, loan_progress, progress_figure, tuition_calendar

ZERO = Decimal("0")


def installment(number: int, month: int, status: InstallmentStatus, paid: str) -> InstallmentView:
    total = Decimal("1000.00")
    return InstallmentView(
        number=number,
        due_date=date(2026, month, 10),
        principal=Decimal("800.00"),
        interest=Decimal("172.41"),
        vat=Decimal("27.59"),
        charges=ZERO,
        total=total,
        paid=Decimal(paid),
        outstanding=total - Decimal(paid),
        status=status,
    )


def view_of(*rows: InstallmentView) -> LoanView:
    balance = LoanBalanceView(
        total=ZERO, principal=ZERO, interest=ZERO, vat=ZERO, late_interest=ZERO, fees=ZERO,
        advance=ZERO, overdue=ZERO, days_past_due=0, bucket=DelinquencyBucket.CURRENT,
    )  # fmt: skip
    return LoanView(loan=None, installments=rows, balance=balance, states=())  # type: ignore[arg-type]


ROWS = (
    installment(1, 8, InstallmentStatus.PAID, "1000.00"),
    installment(2, 9, InstallmentStatus.PARTIAL, "250.00"),
    installment(3, 10, InstallmentStatus.OVERDUE, "0"),
    installment(4, 11, InstallmentStatus.PENDING, "0"),
)


def test_progress_is_paid_versus_what_is_still_owed():
    progress = loan_progress(view_of(*ROWS))
    assert progress.paid == Decimal("1250.00") and progress.remaining == Decimal("2750.00")
    assert progress.percent == 31  # rounded down: never "100 %" before the last centavo
    figure = str(progress_figure(view_of(*ROWS)))
    assert 'role="img"' in figure and "aria-labelledby" in figure
    assert "Has pagado $1,250.00 MXN de $4,000.00 MXN de tu crédito (31 %)" in figure
    assert 'width="31"' in figure


def test_the_balance_chart_marks_payments_made_and_says_so():
    chart = str(balance_chart(view_of(*ROWS), date(2026, 7, 10)))
    assert chart.count("<circle") == 4
    assert chart.count('fill="#17683a" stroke') == 1  # one installment paid: one filled dot
    assert "$3,200.00 MXN el 10 de julio de 2026" in chart and "(1 de 4)" in chart


def test_the_school_year_calendar_names_each_month_and_its_state():
    calendar = str(tuition_calendar(view_of(*ROWS)))
    for words in ("Agosto: pagado", "Septiembre: pago parcial", "Octubre: vencido"):
        assert words in calendar
    assert "Noviembre: por pagar" in calendar and calendar.count("<rect") == 4
