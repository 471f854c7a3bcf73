"""GraphQL doors onto compliance: apply, review, and the officer's alert queue."""

from __future__ import annotations

import base64

import pyotp
import pytest
from tests.compliance.support import FORM, PDF, PNG
from tests.support import factories
from tests.support.http import app_client, graphql

from puente.compliance.cases import raise_alert
from puente.compliance.models import AmlAlert, LoanApplication
from puente.compliance.policy import DEFAULT_POLICY
from puente.compliance.rules import AlertDraft, ReportKind

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"

LOGIN = """mutation($e: String!, $p: String!, $o: String) { login(email: $e, password: $p,
  otp: $o) { __typename ... on AuthTokens { accessToken } ... on AuthError { code } } }"""
SUBMIT = """mutation($i: LoanApplicationInput!) { submitLoanApplication(input: $i) { __typename
  ... on LoanApplicationSaved { application { id status riskGrade loanId
    requestedAmount { amount } } }
  ... on ComplianceError { code message fields { field message } } } }"""
REVIEW = """mutation($id: ID!) { reviewLoanApplication(applicationId: $id, approve: true) {
  __typename ... on LoanApplicationSaved { application { status loanId } }
  ... on ComplianceError { code } } }"""
ALERTS = """query($first: Int, $after: String) { amlAlerts(first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { node { rule reportKind summary case { reportKind status overdue dueAt } } } } }"""


def application_input(product_id: int, **changes) -> dict:
    names = {
        "given_names": "givenNames",
        "paternal_surname": "paternalSurname",
        "maternal_surname": "maternalSurname",
        "birth_date": "birthDate",
        "birth_state": "birthState",
        "exterior_number": "exteriorNumber",
        "interior_number": "interiorNumber",
        "postal_code": "postalCode",
        "monthly_income": "monthlyIncome",
        "requested_amount": "requestedAmount",
        "proof_of_address_date": "proofOfAddressDate",
        "beneficial_owner": "beneficialOwner",
    }
    data = {names.get(k, k): v for k, v in FORM.items() if k not in ("own_account", "term_count")}
    data.update(
        productId=str(product_id),
        ownAccount=True,
        termCount=12,
        idDocument={"contentType": "application/pdf", "base64": base64.b64encode(PDF).decode()},
        proofOfAddress={"contentType": "image/png", "base64": base64.b64encode(PNG).decode()},
    )
    data.update(changes)
    return data


async def login(client, email: str, otp: str | None = None) -> str:
    data = await graphql(client, LOGIN, {"e": email, "p": PASSWORD, "o": otp})
    assert data["data"]["login"]["__typename"] == "AuthTokens", data
    return data["data"]["login"]["accessToken"]


async def test_a_borrower_applies_and_staff_approve_over_graphql(db, runtime, clock):
    inst = await factories.institution()
    await factories.user(runtime, inst, email="juana@example.mx")
    _, secret = await factories.enrolled_staff(runtime, inst)
    product = await factories.product(inst)
    async with app_client(runtime) as client:
        juana = await login(client, "juana@example.mx")
        bad = await graphql(
            client,
            SUBMIT,
            {"i": application_input(product.id, curp="PEMJ900515MJCRRN08", rfc="X")},
            token=juana,
        )
        good = await graphql(client, SUBMIT, {"i": application_input(product.id)}, token=juana)
        staff = await login(client, "caja@example.mx", pyotp.TOTP(secret).at(clock.now))
        as_borrower = await graphql(client, REVIEW, {"id": "0"}, token=juana)
        application_id = good["data"]["submitLoanApplication"]["application"]["id"]
        approved = await graphql(client, REVIEW, {"id": application_id}, token=staff)
    refused = bad["data"]["submitLoanApplication"]
    assert refused["code"] == "INVALID_APPLICATION"
    assert {f["field"] for f in refused["fields"]} == {"curp", "rfc"}
    assert all("PEMJ" not in f["message"] for f in refused["fields"])
    saved = good["data"]["submitLoanApplication"]["application"]
    assert saved["status"] == "submitted" and saved["riskGrade"] == "low"
    assert saved["requestedAmount"] == {"amount": "12000.00"}
    assert as_borrower["data"]["reviewLoanApplication"]["code"] == "APPLICATION_NOT_FOUND"
    result = approved["data"]["reviewLoanApplication"]["application"]
    assert result["status"] == "approved" and result["loanId"]
    assert await LoanApplication.all().count() == 1


async def test_the_alert_queue_is_for_staff_of_the_institution_only(db, runtime, clock):
    inst = await factories.institution()
    juana = await factories.user(runtime, inst, email="juana@example.mx")
    _, secret = await factories.enrolled_staff(runtime, inst)
    other = await factories.institution("otra")
    _, other_secret = await factories.enrolled_staff(runtime, other, email="caja@otra.mx")
    for number in range(3):
        await raise_alert(
            AlertDraft("STRUCTURING_DAY", ReportKind.UNUSUAL, f"alerta {number}"),
            institution_id=inst.id,
            customer_id=juana.id,
            dedupe_key=str(number),
            at=runtime.now(),
            policy=DEFAULT_POLICY,
        )
    async with app_client(runtime) as client:
        staff = await login(client, "caja@example.mx", pyotp.TOTP(secret).at(clock.now))
        page = await graphql(client, ALERTS, {"first": 2}, token=staff)
        cursor = page["data"]["amlAlerts"]["pageInfo"]["endCursor"]
        rest = await graphql(client, ALERTS, {"first": 2, "after": cursor}, token=staff)
        borrower = await graphql(client, ALERTS, {}, token=await login(client, "juana@example.mx"))
        outsider = await login(client, "caja@otra.mx", pyotp.TOTP(other_secret).at(clock.now))
        theirs = await graphql(client, ALERTS, {}, token=outsider)
    alerts = page["data"]["amlAlerts"]
    assert alerts["totalCount"] == 3 and alerts["pageInfo"]["hasNextPage"]
    assert [e["node"]["summary"] for e in alerts["edges"]] == ["alerta 2", "alerta 1"]
    assert [e["node"]["summary"] for e in rest["data"]["amlAlerts"]["edges"]] == ["alerta 0"]
    case = alerts["edges"][0]["node"]["case"]
    assert case == {**case, "reportKind": "inusual", "status": "open", "overdue": False}
    assert borrower["data"] is None and borrower["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert theirs["data"]["amlAlerts"]["totalCount"] == 0
    assert await AmlAlert.all().count() == 3
