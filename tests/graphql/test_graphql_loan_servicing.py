"""GraphQL: a loan's payoff amount and delinquency bucket, from the same services."""

from __future__ import annotations

from datetime import date

import pytest
from tests.support import factories
from tests.support.http import app_client, graphql

from puente.loans.payoff import payoff_quote

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"
LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
  ... on AuthTokens { accessToken } } }"""
LOANS = """query($asOf: Date) { viewer { loans { edges { node {
  balance { bucket daysPastDue }
  today: payoff { amount currency }
  then: payoff(asOf: $asOf) { amount }
} } } } }"""


async def test_payoff_and_bucket_match_the_services(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 6, 15))
    as_of = date(2026, 7, 1)
    async with app_client(runtime) as client:
        login = await graphql(client, LOGIN, {"e": "ana@example.mx", "p": PASSWORD})
        token = login["data"]["login"]["accessToken"]
        data = await graphql(client, LOANS, {"asOf": as_of.isoformat()}, token=token)
    node = data["data"]["viewer"]["loans"]["edges"][0]["node"]
    assert node["balance"] == {"bucket": "DPD_90_PLUS", "daysPastDue": 135}
    today = await payoff_quote(loan, date(2026, 11, 27))
    then = await payoff_quote(loan, as_of)
    assert node["today"] == {"amount": str(today.total), "currency": "MXN"}
    assert node["then"] == {"amount": str(then.total)}
    # Before the first due date: interest only for the days elapsed, no moratorium yet.
    assert then.total < today.total
