"""The portal shows money the way GraphQL says it, net of advances, with plain words."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from tests.support import factories
from tests.support.http import app_client, graphql

from puente.enums import ProviderName
from puente.loans.application import apply_payment
from puente.loans.engine import OverpaymentMode
from puente.loans.jobs import run_daily
from puente.loans.origination import set_overpayment_mode
from puente.loans.state import InstallmentStatus, load_loan_views
from puente.money import format_mxn

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"
TODAY = date(2026, 11, 27)  # the test clock, in Mexico City
START = date(2026, 11, 2)  # installment 1 falls due on 2 December: still ahead
LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
  ... on AuthTokens { accessToken } } }"""
LOANS = """{ viewer { loans(first: 10) { edges { node { id
  balance { total { amount } principal { amount } overdue { amount } advance { amount } }
  nextInstallment { number outstanding { amount } }
  nextPaymentDue { amount } } } } } }"""


async def login(client, email: str = "ana@example.mx") -> None:
    page = await client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = await client.post(
        "/login", data={"csrf_token": csrf, "email": email, "password": PASSWORD}
    )
    assert response.status_code == 303


async def loan_with_advance(runtime, extra: str = "500.00"):
    """Installment 1 paid early with ``extra`` more kept as saldo a favor."""
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=START)
    await set_overpayment_mode(loan, OverpaymentMode.ADVANCE, actor_id=ana.id)
    (view,) = await load_loan_views([loan], TODAY)
    first = view.next_installment
    await apply_payment(
        loan,
        first.outstanding + Decimal(extra),
        received_on=TODAY,
        provider=ProviderName.STRIPE,
        idempotency_key="adelanto-1",
    )
    return loan


def amounts(html: str, name: str) -> list[str]:
    return re.findall(rf'data-testid="{name}"[^>]*>([^<]+)<', html)


async def test_next_payment_is_net_of_the_advance_already_paid(db, runtime):
    loan = await loan_with_advance(runtime)
    (view,) = await load_loan_views([loan], TODAY)
    assert view.balance.advance == Decimal("500.00")
    second = view.next_installment
    assert second.number == 2
    assert view.next_payment_due == second.outstanding - Decimal("500.00")
    async with app_client(runtime) as client:
        await login(client)
        dashboard = (await client.get("/")).text
        pay = (await client.get(f"/prestamos/{loan.id}/pagar")).text
    expected = format_mxn(second.outstanding - Decimal("500.00"))
    assert amounts(dashboard, "next-payment") == [expected]
    assert amounts(pay, "next-amount") == [expected]


async def test_paying_the_next_payment_shown_settles_that_installment(db, runtime):
    loan = await loan_with_advance(runtime)
    (view,) = await load_loan_views([loan], TODAY)
    await apply_payment(
        loan,
        view.next_payment_due,
        received_on=TODAY,
        provider=ProviderName.STRIPE,
        idempotency_key="proximo-2",
    )
    (after,) = await load_loan_views([loan], TODAY)
    assert after.next_payment_due == 0  # nothing more to pay for installment 2
    second = after.next_installment
    await run_daily(second.due_date)  # the advances pay it the day it falls due
    (on_due,) = await load_loan_views([loan], second.due_date)
    paid = next(i for i in on_due.installments if i.number == 2)
    assert paid.status is InstallmentStatus.PAID
    assert on_due.balance.advance == 0


async def test_every_amount_on_the_dashboard_and_loan_page_equals_graphql(db, runtime):
    loan = await loan_with_advance(runtime)
    async with app_client(runtime) as client:
        await login(client)
        token = (await graphql(client, LOGIN, {"e": "ana@example.mx", "p": PASSWORD}))["data"][
            "login"
        ]["accessToken"]
        node = (await graphql(client, LOANS, token=token))["data"]["viewer"]["loans"]["edges"][0][
            "node"
        ]
        dashboard = (await client.get("/")).text
        page = (await client.get(f"/prestamos/{loan.id}")).text

    def shown(amount: str) -> str:
        return format_mxn(Decimal(amount))

    balance = node["balance"]
    for html in (dashboard, page):
        assert amounts(html, "balance") == [shown(balance["total"]["amount"])]
        assert amounts(html, "next-payment") == [shown(node["nextPaymentDue"]["amount"])]
    assert amounts(page, "principal") == [shown(balance["principal"]["amount"])]
    assert amounts(page, "advance") == [shown(balance["advance"]["amount"])]
    installments = {row["number"]: row for row in [node["nextInstallment"]]}
    assert installments[2]["outstanding"]["amount"] != node["nextPaymentDue"]["amount"]


async def test_the_loan_page_explains_payoff_today_versus_principal(db, runtime):
    loan = await loan_with_advance(runtime)
    async with app_client(runtime) as client:
        await login(client)
        page = (await client.get(f"/prestamos/{loan.id}")).text
    assert "Saldo para liquidar hoy" in page
    assert "Capital pendiente" in page
    assert 'data-testid="balance-explained"' in page


async def test_a_phone_sees_what_is_left_to_pay_first_and_paid_installments_folded(db, runtime):
    loan = await loan_with_advance(runtime)
    async with app_client(runtime) as client:
        await login(client)
        page = (await client.get(f"/prestamos/{loan.id}")).text
    pending, folded = page.split('data-testid="paid-installments"')
    assert "<details" in pending[-40:]  # paid ones wait behind a <summary>
    assert "Pagos hechos (1)" in folded and 'class="row-paid"' in folded
    assert 'class="row-paid"' not in pending
    assert 'data-testid="overdue-now"' not in page  # nothing is late


async def test_a_late_loan_says_how_much_is_overdue_before_anything_else(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 6, 15))
    (view,) = await load_loan_views([loan], TODAY)
    async with app_client(runtime) as client:
        await login(client)
        page = (await client.get(f"/prestamos/{loan.id}")).text
    notice = page.split('data-testid="overdue-now">')[1].split("</p>")[0]
    assert format_mxn(view.balance.overdue) in notice
    assert page.index('data-testid="overdue-now"') < page.index("<table")
