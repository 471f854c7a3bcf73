"""GraphQL door: login, viewer with ledger balances, limits, masking, public simulator."""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path

import pyotp
import pytest
from tests.support import factories
from tests.support.http import app_client, graphql

from puente.graphql.schema import schema

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"
ROOT = Path(__file__).resolve().parents[2]

LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
  __typename ... on AuthTokens { accessToken refreshToken expiresIn }
  ... on AuthError { code message } } }"""
LOGIN_OTP = """mutation($e: String!, $p: String!, $o: String) {
  login(email: $e, password: $p, otp: $o) { ... on AuthTokens { accessToken } } }"""
VIEWER = """{ viewer { user { email } loans(first: 5) { totalCount edges { node {
  id status cat balance { total { amount currency } principal { amount } daysPastDue }
  nextInstallment { number total { amount } status } installments { number status } } } } } }"""


def test_schema_file_matches_export():
    assert (ROOT / "schema.graphql").read_text() == schema.as_str() + "\n"


async def _login(client) -> str:
    data = await graphql(client, LOGIN, {"e": "ana@example.mx", "p": PASSWORD})
    tokens = data["data"]["login"]
    assert tokens["__typename"] == "AuthTokens"
    return tokens["accessToken"]


async def test_viewer_is_null_without_a_token(db, runtime):
    async with app_client(runtime) as client:
        data = await graphql(client, "{ viewer { user { email } } }")
    assert data == {"data": {"viewer": None}}


async def test_viewer_loans_show_ledger_balances(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    await factories.active_loan(inst, ana, principal="12000.00", start=runtime.today())
    async with app_client(runtime) as client:
        token = await _login(client)
        data = await graphql(client, VIEWER, token=token)
    loans = data["data"]["viewer"]["loans"]
    assert loans["totalCount"] == 1
    node = loans["edges"][0]["node"]
    assert node["status"] == "ACTIVE"
    assert node["balance"]["total"] == {"amount": "12000.00", "currency": "MXN"}
    assert node["nextInstallment"]["total"]["amount"] == "1240.35"  # mexico.md §2.1
    assert len(node["installments"]) == 12


async def test_wrong_password_is_an_auth_error_value(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    async with app_client(runtime) as client:
        data = await graphql(client, LOGIN, {"e": "ana@example.mx", "p": "nope-nope-nope"})
    assert data["data"]["login"]["__typename"] == "AuthError"
    assert data["data"]["login"]["code"] == "INVALID_CREDENTIALS"


async def test_someone_elses_loan_is_not_reachable_by_node_id(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)  # ana, who logs in below
    other = await factories.user(runtime, inst, email="otro@example.mx")
    loan = await factories.active_loan(inst, other)
    from puente.graphql.types import encode_global_id

    async with app_client(runtime) as client:
        token = await _login(client)
        data = await graphql(
            client,
            "query($id: ID!) { node(id: $id) { id } }",
            {"id": encode_global_id("Loan", loan.id)},
            token=token,
        )
    assert data == {"data": {"node": None}}


PAYMENTS = (
    "{ viewer { payments(first: 10) { totalCount edges { node { id amount { amount } } } } } }"
)


async def test_viewer_payments_are_the_payments_of_the_viewers_loans_whoever_paid(db, runtime):
    """The same rule as the portal's history: a cashier's payment on Ana's loan is hers to see,
    a payment on someone else's loan is not."""
    from puente.enums import PaymentMethodType, ProviderName, Role
    from puente.graphql.types import encode_global_id
    from puente.payments.settled_elsewhere import record_settled_payment

    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    beto = await factories.user(runtime, inst, email="beto@example.mx")
    caja = await factories.user(runtime, inst, email="caja@example.mx", role=Role.STAFF)
    mine = await factories.active_loan(inst, ana, start=runtime.today())
    theirs = await factories.active_loan(inst, beto, start=runtime.today())
    settled = []
    for loan, key in ((mine, "caja-ana"), (theirs, "caja-beto")):
        payment = await record_settled_payment(
            loan,
            Decimal("100.00"),
            provider=ProviderName.STRIPE,
            method=PaymentMethodType.CASH,
            idempotency_key=key,
            received_at=runtime.now(),
            user_id=caja.id,
        )
        settled.append(payment)
    async with app_client(runtime) as client:
        data = await graphql(client, PAYMENTS, token=await _login(client))
    payments = data["data"]["viewer"]["payments"]
    assert payments["totalCount"] == 1
    assert [edge["node"]["id"] for edge in payments["edges"]] == [
        encode_global_id("Payment", settled[0].id)
    ]


async def test_ids_and_cursors_beyond_32_bits_are_nobodys(db, runtime):
    """PostgreSQL refuses such a bound; the API answers "not found", never an error."""
    from puente.graphql.types import encode_global_id

    inst = await factories.institution()
    await factories.user(runtime, inst)
    huge = 2**40
    cursor = base64.urlsafe_b64encode(f"cursor:{huge}".encode()).decode()
    async with app_client(runtime) as client:
        token = await _login(client)
        node = await graphql(
            client,
            "query($id: ID!) { node(id: $id) { id } }",
            {"id": encode_global_id("Loan", huge)},
            token=token,
        )
        page = await graphql(
            client,
            "query($a: String) { viewer { payments(after: $a) { totalCount } } }",
            {"a": cursor},
            token=token,
        )
    assert node == {"data": {"node": None}}
    assert page["errors"][0]["extensions"]["code"] == "BAD_CURSOR"


async def test_depth_and_alias_limits_refuse_abusive_queries(db, runtime):
    fine = "{ viewer { loans { edges { node { id } } } } }"
    deep = "{ viewer { loans { edges { node { installments { total { amount } } } } } } }"
    aliases = "{ " + " ".join(f"a{i}: viewer {{ user {{ email }} }}" for i in range(20)) + " }"
    from puente.graphql.schema import build_schema
    from puente.graphql.view import PuenteGraphQL

    shallow = PuenteGraphQL(build_schema(max_depth=5), runtime)
    async with app_client(runtime) as client:
        refused = await graphql(client, aliases)
    import httpx
    from starlette.applications import Starlette
    from starlette.routing import Route

    small = Starlette(routes=[Route("/graphql", shallow, methods=["POST"])])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=small), base_url="http://t"
    ) as client:
        ok = await graphql(client, fine)
        too_deep = await graphql(client, deep)
    assert "errors" not in ok
    assert "exceeds maximum operation depth" in too_deep["errors"][0]["message"]
    assert "aliases" in refused["errors"][0]["message"]


async def test_unexpected_errors_are_masked(db, runtime, monkeypatch):
    from puente.accounts.service import AuthService

    async def explode(self, *args, **kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(AuthService, "login", explode)
    async with app_client(runtime) as client:
        data = await graphql(client, LOGIN, {"e": "a@b.mx", "p": "x"})
    assert data["errors"][0]["message"] == "Unexpected error."
    assert "hunter2" not in str(data)


SIMULATE = """query($i: LoanSimulationInput!) { simulateLoan(input: $i) {
  installmentAmount { amount } totalInterest { amount } cat schedule { number } } }"""


@pytest.mark.parametrize(
    ("inputs", "payment", "cat"),
    [
        (
            {
                "principal": "10000",
                "annualRate": "0.60",
                "termCount": 12,
                "periodicity": "MONTHLY",
                "vatRate": "0",
            },
            "1128.25",
            "79.6",
        ),
        (
            {
                "principal": "10000",
                "annualRate": "0.60",
                "termCount": 12,
                "periodicity": "MONTHLY",
                "vatRate": "0",
                "openingFeeRate": "0.03",
            },
            "1128.25",
            "91.1",
        ),
        (
            {
                "principal": "5000",
                "annualRate": "1.04",
                "termCount": 16,
                "periodicity": "WEEKLY",
                "vatRate": "0",
            },
            "368.25",
            "180.0",
        ),
        (
            {
                "principal": "20000",
                "annualRate": "0.48",
                "termCount": 24,
                "periodicity": "SEMIMONTHLY",
                "vatRate": "0",
            },
            "1057.42",
            "60.8",
        ),
    ],
)
async def test_simulate_loan_reproduces_mexico_worked_examples(db, runtime, inputs, payment, cat):
    async with app_client(runtime) as client:
        data = await graphql(client, SIMULATE, {"i": {**inputs, "startDate": "2026-01-15"}})
    result = data["data"]["simulateLoan"]
    assert result["installmentAmount"]["amount"] == payment
    assert Decimal(result["cat"]) == Decimal(cat)
    assert len(result["schedule"]) == inputs["termCount"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("principal", "0"), ("principal", "-5"), ("termCount", 0), ("annualRate", "50")],
)
async def test_simulate_loan_refuses_bad_input_clearly(db, runtime, field, value):
    good = {"principal": "1000", "annualRate": "0.3", "termCount": 6, "periodicity": "MONTHLY"}
    async with app_client(runtime) as client:
        data = await graphql(client, SIMULATE, {"i": {**good, field: value}})
    assert data["data"] is None
    error = data["errors"][0]
    assert error["extensions"]["code"] == "INVALID_LOAN_TERMS"
    assert error["message"] != "Unexpected error."


async def test_staff_see_their_institutions_loans_and_borrowers_only_their_own(db, runtime):
    inst = await factories.institution()
    other_inst = await factories.institution(slug="otra")
    ana = await factories.user(runtime, inst)
    beto = await factories.user(runtime, inst, email="beto@example.mx")
    _, secret = await factories.enrolled_staff(runtime, inst)
    await factories.active_loan(inst, ana, start=runtime.today())
    await factories.active_loan(inst, beto, start=runtime.today())
    outsider = await factories.user(runtime, other_inst, email="fuera@example.mx")
    await factories.active_loan(other_inst, outsider, start=runtime.today())
    query = "{ viewer { loans { totalCount } } }"
    async with app_client(runtime) as client:
        counts = {}
        for email, otp in (("ana@example.mx", None), ("caja@example.mx", secret)):
            code = pyotp.TOTP(otp).at(runtime.now()) if otp else None
            login = await graphql(client, LOGIN_OTP, {"e": email, "p": PASSWORD, "o": code})
            token = login["data"]["login"]["accessToken"]
            counts[email] = (await graphql(client, query, token=token))["data"]["viewer"]["loans"][
                "totalCount"
            ]
    assert counts == {"ana@example.mx": 1, "caja@example.mx": 2}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"startDate": "9999-12-01"}, "startDate"),
        ({"annualRate": "1e999999999"}, "annualRate"),
        ({"annualRate": "1e-30", "termCount": 0}, "termCount"),
        # 204 installments of 0.00 / 519 interest-only rows before (issue 8, item 9).
        ({"principal": "100000", "annualRate": "2", "termCount": 520}, "termCount"),
        ({"principal": "10000", "annualRate": "2", "termCount": 520}, "termCount"),
    ],
)
async def test_simulate_loan_names_the_field_of_impossible_terms(db, runtime, changes, field):
    good = {"principal": "1000", "annualRate": "0.3", "termCount": 6, "periodicity": "WEEKLY"}
    async with app_client(runtime) as client:
        data = await graphql(client, SIMULATE, {"i": {**good, **changes}})
    assert data["data"] is None
    error = data["errors"][0]
    assert error["extensions"] == {"code": "INVALID_LOAN_TERMS", "field": field}
    assert error["message"] != "Unexpected error."


@pytest.mark.parametrize(
    "changes",
    [
        {"principal": "abc"},
        {"principal": "NaN"},
        {"principal": "-Infinity"},
        {"principal": 12.5},
        {"principal": True},
        {"vatRate": ""},
        {"startDate": "2026-02-30"},
        {"startDate": "mañana"},
        {"startDate": 20260101},
        {"periodicity": "YEARLY"},
        {"dayCount": "ACTUAL_366"},
        {"termCount": 2**40},
    ],
)
async def test_simulate_loan_refuses_bad_scalars_as_validation_errors(db, runtime, changes):
    good = {"principal": "1000", "annualRate": "0.3", "termCount": 6, "periodicity": "MONTHLY"}
    async with app_client(runtime) as client:
        data = await graphql(client, SIMULATE, {"i": {**good, **changes}})
    assert data.get("data") is None
    (error,) = data["errors"]
    assert error["message"] != "Unexpected error."
    assert "Variable '$i'" in error["message"]  # refused while reading the input, clearly


async def test_a_vanishing_rate_simulates_as_zero_interest(db, runtime):
    inputs = {"principal": "1200", "annualRate": "1e-30", "termCount": 12, "periodicity": "MONTHLY"}
    async with app_client(runtime) as client:
        data = await graphql(client, SIMULATE, {"i": inputs})
    result = data["data"]["simulateLoan"]
    assert result["installmentAmount"]["amount"] == "100.00"
    assert result["totalInterest"]["amount"] == "0.00"
