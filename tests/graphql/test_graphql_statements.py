"""The dashboard query costs the same statements for 1, 10 or 50 loans (DataLoaders)."""

from __future__ import annotations

import pytest
from tests.support import factories
from tests.support.http import app_client, graphql
from tests.support.statements import count_statements

from puente.accounts.service import AuthService
from puente.enums import PaymentStatus

pytestmark = pytest.mark.anyio

DASHBOARD = """{ viewer { user { email role }
  loans(first: 50) { totalCount pageInfo { hasNextPage endCursor } edges { node {
    id kind displayName institutionName status product { name kind }
    activity { kind description amount { amount } }
    tuition { student amountDueToday { amount } }
    balance { total { amount } daysPastDue }
    nextInstallment { number dueDate total { amount } }
    installments { number status total { amount } }
    payments(first: 5) { totalCount edges { node {
      id status amount { amount } failureMessage refundedAmount { amount }
      appliedTo { installmentNumber amount { amount } } bankFacts { claveRastreo } } } }
  } } }
  payments(first: 20) { totalCount edges { node { id loan { id displayName } } } }
} }"""


# What an app's home screen shows (bench/graphql.py measures it against a raw endpoint):
# the loans with their balance and next payment, the latest payments with their loan.
APP_HOME = """{ viewer { user { id email fullName }
  loans(first: 50) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
    id status displayName institutionName principal { amount currency }
    balance { total { amount } daysPastDue bucket }
    nextInstallment { number dueDate total { amount } status }
    nextPaymentDue { amount } } } }
  payments(first: 10) { edges { node {
    id status amount { amount } failureMessage loan { id displayName } } } }
} }"""


async def _borrower_with(runtime, loans: int) -> str:
    """A borrower of their own lender with ``loans`` loans, each paid once and failed once."""
    inst = await factories.institution(f"financiera-{loans}")
    email = f"ana{loans}@example.mx"
    ana = await factories.user(runtime, inst, email=email)
    for n in range(loans):
        loan = await factories.active_loan(inst, ana, start=runtime.today())
        await factories.payment(loan, key=f"ok-{n}", status=PaymentStatus.PAID)
        await factories.payment(
            loan, key=f"no-{n}", status=PaymentStatus.FAILED, failure_code="card_declined"
        )
    tokens = await AuthService(runtime).login(email, "contrasena-segura-1")
    return tokens.access_token  # type: ignore[union-attr]


async def test_dashboard_statements_do_not_grow_with_loans(db, runtime):
    sizes = (1, 10, 50)
    tokens = {size: await _borrower_with(runtime, size) for size in sizes}
    counted, home = {}, {}
    async with app_client(runtime) as client:
        for size, token in tokens.items():
            warm = await graphql(client, APP_HOME, token=token)
            assert "errors" not in warm, warm
            with count_statements() as log:
                assert await graphql(client, APP_HOME, token=token) == warm
            home[size] = len(log)
            # The first request warms the parser and validation caches; the session is
            # checked again (one statement) on every request, the measured one included.
            warm = await graphql(client, DASHBOARD, token=token)
            assert "errors" not in warm, warm
            assert len(warm["data"]["viewer"]["loans"]["edges"]) == size
            with count_statements() as log:
                answer = await graphql(client, DASHBOARD, token=token)
            assert answer == warm
            counted[size] = len(log)
    assert counted[1] > 5  # the counter counts
    assert counted[10] == counted[1] and counted[50] == counted[1], counted
    # The session, the loan page (product, institution and count joined), the loans'
    # installments and ledger totals, the payment page (each payment's loan joined).
    assert home[1] <= 6 and home[10] == home[1] and home[50] == home[1], home
