"""Demo data: the contract's logins, real loans built by the services, one truth for both doors."""

from __future__ import annotations

import re

import pytest
from tests.support.http import app_client, graphql
from tortoise.functions import Sum

from puente.accounts.models import User
from puente.demo import DEMO_LOGINS, load_demo_data
from puente.enums import LoanStatus
from puente.ledger.models import Posting
from puente.loans.models import Loan

pytestmark = pytest.mark.anyio

BALANCE = """{ viewer { loans { edges { node { status balance { total { amount } }
  nextInstallment { dueDate status } installments { status } } } } } }"""


async def test_demo_data_has_the_contract_logins_and_is_idempotent(db, runtime):
    assert await load_demo_data(runtime) is True
    assert await load_demo_data(runtime) is False
    emails = set(await User.all().values_list("email", flat=True))
    assert {login[0] for login in DEMO_LOGINS} <= emails
    rows = (
        await Posting.all()
        .annotate(total=Sum("amount_centavos"))
        .group_by("entry__institution_id")
        .values("total")
    )
    assert rows and all(row["total"] == 0 for row in rows)  # the books balance


async def test_ana_sees_the_same_balance_in_graphql_and_the_portal(db, runtime):
    await load_demo_data(runtime)
    ana_loan = await Loan.get(borrower__email="ana@demo.puente.mx")
    assert ana_loan.status == LoanStatus.ACTIVE
    async with app_client(runtime) as client:
        login = await graphql(
            client,
            'mutation { login(email: "ana@demo.puente.mx", password: "ana-demo-2026") '
            "{ ... on AuthTokens { accessToken } } }",
        )
        token = login["data"]["login"]["accessToken"]
        data = await graphql(client, BALANCE, token=token)
        page = await client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        await client.post(
            "/login",
            data={"csrf_token": csrf, "email": "ana@demo.puente.mx", "password": "ana-demo-2026"},
        )
        dashboard = await client.get("/")
    node = data["data"]["viewer"]["loans"]["edges"][0]["node"]
    statuses = [i["status"] for i in node["installments"]]
    assert statuses[:4] == ["PAID"] * 4 and "PAID" not in statuses[4:]  # several paid
    assert node["nextInstallment"]["status"] == "PENDING"  # one due
    amount = node["balance"]["total"]["amount"]
    pesos, cents = amount.split(".")
    shown = f"${int(pesos):,}.{cents} MXN"
    assert f'data-testid="balance">{shown}<' in dashboard.text


async def test_luis_sees_the_tuition_of_his_daughter(db, runtime):
    await load_demo_data(runtime)
    async with app_client(runtime) as client:
        login = await graphql(
            client,
            'mutation { login(email: "luis@demo.puente.mx", password: "luis-demo-2026") '
            "{ ... on AuthTokens { accessToken } } }",
        )
        token = login["data"]["login"]["accessToken"]
        data = await graphql(client, BALANCE, token=token)
    edges = data["data"]["viewer"]["loans"]["edges"]
    assert len(edges) == 1
    statuses = [i["status"] for i in edges[0]["node"]["installments"]]
    assert len(statuses) == 11 and statuses[0] == "PAID" and statuses[-1] == "PENDING"


async def test_ana_sees_why_her_card_was_declined(db, runtime):
    await load_demo_data(runtime)
    query = """{ viewer { payments(filter: {status: [FAILED]}) { totalCount
      edges { node { failureCode failureMessage loan { kind displayName } } } } } }"""
    async with app_client(runtime) as client:
        login = await graphql(
            client,
            'mutation { login(email: "ana@demo.puente.mx", password: "ana-demo-2026") '
            "{ ... on AuthTokens { accessToken } } }",
        )
        data = await graphql(client, query, token=login["data"]["login"]["accessToken"])
    payments = data["data"]["viewer"]["payments"]
    assert payments["totalCount"] == 1
    declined = payments["edges"][0]["node"]
    assert declined["failureCode"] == "insufficient_funds"
    assert "fondos suficientes" in declined["failureMessage"]
    assert declined["loan"]["kind"] == "PERSONAL"
    assert declined["loan"]["displayName"] == "Préstamo personal de $30,000.00 MXN"
