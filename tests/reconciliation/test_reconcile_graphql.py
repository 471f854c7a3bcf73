"""Staff work the exceptions queue over GraphQL; borrowers see none of it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyotp
import pytest
from tests.reconciliation.samples import movement, write
from tests.support import factories
from tests.support.books import books_total, institution_balance
from tests.support.http import app_client, graphql

from puente.enums import LedgerAccountType as T
from puente.graphql.types import encode_global_id
from puente.reconciliation.service import import_and_reconcile

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("monitoring_drained")]

LOGIN = """mutation($e: String!, $o: String) { login(email: $e,
  password: "contrasena-segura-1", otp: $o) { ... on AuthTokens { accessToken } } }"""
QUEUE = """query($first: Int, $after: String) { reconciliationExceptions(first: $first,
  after: $after) { totalCount pageInfo { hasNextPage endCursor }
  edges { node { id amount { amount } status exception { reason status } } } } }"""
LINES = """query($f: StatementLineFilter) { statementLines(filter: $f) { totalCount
  edges { node { amount { amount } status valueDate } } } }"""
RESOLVE = """mutation($i: ResolveStatementLineInput!) { resolveStatementLine(input: $i) {
  __typename ... on StatementLineResolved { line { status exception { status resolution } } }
  ... on PaymentError { code message } } }"""


async def test_staff_page_through_the_queue_and_apply_a_line_to_a_loan(db, runtime, tmp_path):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    _, secret = await factories.enrolled_staff(runtime, inst)
    moves = [movement(f"{100 + i}.00", bank_reference=f"B{i}") for i in range(3)]
    await import_and_reconcile(
        runtime,
        inst.id,
        write(tmp_path / "s.xml", "camt053:02", moves),
        "camt053",
        at=datetime(2026, 11, 27, tzinfo=UTC),
    )
    async with app_client(runtime, run_workers=False) as client:
        staff = await graphql(
            client, LOGIN, {"e": "caja@example.mx", "o": pyotp.TOTP(secret).at(runtime.now())}
        )
        token = staff["data"]["login"]["accessToken"]
        borrower = (await graphql(client, LOGIN, {"e": "ana@example.mx"}))["data"]["login"]
        first = await graphql(client, QUEUE, {"first": 2}, token=token)
        page = first["data"]["reconciliationExceptions"]
        rest = await graphql(
            client, QUEUE, {"first": 2, "after": page["pageInfo"]["endCursor"]}, token=token
        )
        refused = await graphql(client, QUEUE, {}, token=borrower["accessToken"])
        line_id = page["edges"][0]["node"]["id"]
        done = await graphql(
            client,
            RESOLVE,
            {
                "i": {
                    "lineId": line_id,
                    "resolution": "APPLIED_TO_LOAN",
                    "note": "es de Ana",
                    "loanId": encode_global_id("Loan", loan.id),
                }
            },
            token=token,
        )
        again = await graphql(
            client,
            RESOLVE,
            {"i": {"lineId": line_id, "resolution": "RETURNED", "note": "otra vez"}},
            token=token,
        )
        as_borrower = await graphql(
            client,
            RESOLVE,
            {"i": {"lineId": line_id, "resolution": "RETURNED", "note": "x"}},
            token=borrower["accessToken"],
        )
        after = await graphql(client, QUEUE, {}, token=token)
        resolved = await graphql(client, LINES, {"f": {"status": ["RESOLVED"]}}, token=token)
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"]
    assert [e["node"]["amount"]["amount"] for e in page["edges"]] == ["100.00", "101.00"]
    assert [
        e["node"]["amount"]["amount"] for e in rest["data"]["reconciliationExceptions"]["edges"]
    ] == ["102.00"]
    assert page["edges"][0]["node"]["exception"] == {"reason": "UNMATCHED", "status": "open"}
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert done["data"]["resolveStatementLine"]["line"] == {
        "status": "RESOLVED",
        "exception": {"status": "resolved", "resolution": "APPLIED_TO_LOAN"},
    }
    assert again["data"]["resolveStatementLine"]["code"] == "RESOLUTION_REFUSED"
    assert as_borrower["data"]["resolveStatementLine"]["code"] == "FORBIDDEN"
    assert after["data"]["reconciliationExceptions"]["totalCount"] == 2
    assert resolved["data"]["statementLines"]["totalCount"] == 1
    assert await institution_balance(inst.id, T.SUSPENSE) == -(101_00 + 102_00)
    assert await books_total() == 0
