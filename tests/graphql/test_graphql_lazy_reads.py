"""A loan reached any way answers the same, whether its row came joined to a page or was
read on its own, and whether its view was loaded by its page or by the loan itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.support import factories
from tests.support.http import app_client, graphql

from puente.accounts.service import AuthService
from puente.enums import PaymentStatus
from puente.graphql.types import encode_global_id

pytestmark = pytest.mark.anyio

LOAN_FIELDS = """id kind displayName institutionName product { name kind }
  balance { total { amount } principal { amount } daysPastDue }
  nextInstallment { number total { amount } outstanding { amount } }
  nextPaymentDue { amount } installments { number status }"""


async def _ana(runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loans = [await factories.active_loan(inst, ana, start=runtime.today()) for _ in range(2)]
    for n, loan in enumerate(loans):
        await factories.payment(loan, key=f"ok-{n}", status=PaymentStatus.PAID)
    tokens = await AuthService(runtime).login("ana@example.mx", "contrasena-segura-1")
    return loans, tokens.access_token  # type: ignore[union-attr]


async def test_a_payments_loan_answers_as_the_loan_page_does(db, runtime):
    loans, token = await _ana(runtime)
    today = runtime.today()
    page = f"{{ viewer {{ loans {{ edges {{ node {{ {LOAN_FIELDS} }} }} }} }} }}"
    # Joined to the payments page (no date filter), and read on its own (a date filter's
    # pay_date cannot share a statement with the join): both the page's answer.
    joined = f"{{ viewer {{ payments {{ edges {{ node {{ loan {{ {LOAN_FIELDS} }} }} }} }} }} }}"
    dated = (
        f'{{ viewer {{ payments(filter: {{from: "{today - timedelta(days=1)}"}}) '
        f"{{ totalCount edges {{ node {{ loan {{ {LOAN_FIELDS} }} }} }} }} }} }}"
    )
    async with app_client(runtime) as client:
        by_page = await graphql(client, page, token=token)
        by_join = await graphql(client, joined, token=token)
        by_date = await graphql(client, dated, token=token)
        one = await graphql(
            client,
            f'{{ node(id: "{encode_global_id("Loan", loans[0].id)}") '
            f"{{ ... on Loan {{ {LOAN_FIELDS} }} }} }}",
            token=token,
        )
    for answer in (by_page, by_join, by_date, one):
        assert "errors" not in answer, answer
    shown = {e["node"]["id"]: e["node"] for e in by_page["data"]["viewer"]["loans"]["edges"]}
    assert len(shown) == 2 and all(
        n["balance"]["total"]["amount"] != "0.00" for n in shown.values()
    )
    for answer in (by_join, by_date):
        payments = answer["data"]["viewer"]["payments"]["edges"]
        assert len(payments) == 2
        assert {e["node"]["loan"]["id"] for e in payments} == set(shown)
        for edge in payments:
            assert edge["node"]["loan"] == shown[edge["node"]["loan"]["id"]]
    assert by_date["data"]["viewer"]["payments"]["totalCount"] == 2
    assert one["data"]["node"] == shown[encode_global_id("Loan", loans[0].id)]


async def test_a_loan_payment_count_is_every_payment_of_the_loan(db, runtime):
    loans, token = await _ana(runtime)
    for n in range(3):
        await factories.payment(loans[0], key=f"more-{n}", status=PaymentStatus.FAILED)
    query = """{ viewer { loans { edges { node {
      payments(first: 2) { totalCount edges { cursor } } } } } } }"""
    async with app_client(runtime) as client:
        answer = await graphql(client, query, token=token)
    edges = answer["data"]["viewer"]["loans"]["edges"]
    counts = [
        (e["node"]["payments"]["totalCount"], len(e["node"]["payments"]["edges"])) for e in edges
    ]
    assert counts == [(4, 2), (1, 1)]
