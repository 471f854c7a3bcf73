"""The loan page shows what settles the loan today, the delinquency status, and tuition
prices as of today (discount or recargo)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from tests.support import factories
from tests.support.http import app_client

from puente.enums import InstitutionKind, Role
from puente.loans.payoff import payoff_quote
from puente.money import format_mxn
from puente.tuition.engine import TuitionPlan, monthly_due_dates
from puente.tuition.service import enrol_in_plan

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"
TODAY = date(2026, 11, 27)  # the test clock, in Mexico City


async def login(client, email: str) -> None:
    page = await client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = await client.post(
        "/login", data={"csrf_token": csrf, "email": email, "password": PASSWORD}
    )
    assert response.status_code == 303


async def test_the_loan_page_shows_payoff_today_and_how_late_it_is(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 6, 15))
    quote = await payoff_quote(loan, TODAY)
    async with app_client(runtime) as client:
        await login(client, "ana@example.mx")
        page = await client.get(f"/prestamos/{loan.id}")
    assert page.status_code == 200
    assert f'data-testid="payoff">{format_mxn(quote.total)}<' in page.text
    assert 'data-bucket="DPD_90_PLUS">Atraso de 90 días o más' in page.text


async def test_the_tuition_page_prices_each_open_colegiatura_for_today(db, runtime):
    school = await factories.institution("colegio", InstitutionKind.SCHOOL)
    luis = await factories.user(runtime, school, email="luis@example.mx", role=Role.GUARDIAN)
    sofia = await factories.user(runtime, school, email="sofia@example.mx", role=Role.STUDENT)
    product = await factories.product(
        school, name="Colegiaturas", kind="tuition", annual_rate=Decimal("0"), vat_rate=0
    )
    plan = TuitionPlan(
        student_id=str(sofia.id),
        payer_id=str(luis.id),
        cycle="2026-2027",
        enrolment_fee=Decimal("3500.00"),
        enrolment_due_date=date(2026, 8, 10),
        monthly_amount=Decimal("4200.00"),
        due_dates=monthly_due_dates(date(2026, 9, 10), 10),
        scholarship_rate=Decimal("0.10"),
        early_discount_rate=Decimal("0.05"),
        early_discount_day=5,
        surcharge_amount=Decimal("250.00"),
        surcharge_grace_days=5,
    )
    loan = await enrol_in_plan(plan, product=product, payer_id=luis.id, student_id=sofia.id)
    async with app_client(runtime) as client:
        await login(client, "luis@example.mx")
        page = await client.get(f"/prestamos/{loan.id}")
    html = page.text
    assert "Si pagas hoy" in html
    # November (due the 10th) is past its grace: 3,780 + 250 recargo.
    assert 'data-testid="surcharge-3">$250.00 MXN<' in html
    assert 'data-testid="due-today-3">$4,030.00 MXN<' in html
    # December can still be paid by the 5th: 5 % off 3,780.
    assert 'data-testid="discount-4">$189.00 MXN<' in html
    assert 'data-testid="due-today-4">$3,591.00 MXN<' in html
