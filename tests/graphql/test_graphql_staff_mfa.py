"""Staff must enrol MFA before any staff door opens (issue 9, #2)."""

from __future__ import annotations

import pyotp
import pytest
from starlette.testclient import TestClient
from strawberry.permission import PermissionExtension
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes
from tests.support.http import app_client, graphql

from puente.enums import PaymentMethodType, ProviderName, Role
from puente.graphql.permissions import AllowAnyone, HasSession, IsAuthenticated, MayEnrolMfa
from puente.graphql.schema import schema
from puente.graphql.types import encode_global_id
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment
from puente.security.tokens import issue_access_token

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"
CLABE = "012180001234567899"

LOGIN = """mutation($e: String!, $p: String!, $o: String) {
  login(email: $e, password: $p, otp: $o) { __typename
  ... on AuthTokens { accessToken refreshToken scope } ... on AuthError { code } } }"""
START = """mutation { startMfaEnrolment { __typename
  ... on MfaEnrolmentStarted { secret otpauthUri qrCodeSvg } ... on AuthError { code } } }"""
CONFIRM = """mutation($c: String!) { confirmMfaEnrolment(code: $c) { __typename
  ... on AuthTokens { accessToken refreshToken scope } ... on AuthError { code } } }"""

LOAN_APPLICATION = {
    "productId": "1",
    **{
        name: "x"
        for name in (
            "givenNames paternalSurname birthDate birthState nationality occupation street "
            "exteriorNumber colonia postalCode municipio state phone email curp rfc clabe "
            "proofOfAddressDate"
        ).split()
    },
    "monthlyIncome": "1000.00",
    "requestedAmount": "1000.00",
    "termCount": 12,
    "ownAccount": True,
    "idDocument": {"contentType": "application/pdf", "base64": ""},
    "proofOfAddress": {"contentType": "application/pdf", "base64": ""},
}

# Fields anyone may call, and the ones an enrolment-scoped token exists for.
PUBLIC = {"simulateLoan", "login", "refreshToken", "requestPasswordReset", "resetPassword"}
ENROLMENT = {"startMfaEnrolment", "confirmMfaEnrolment", "logout"}
SUBSCRIPTIONS = {"paymentStatus", "loanUpdated", "institutionEvents"}


def staff_documents(ids: dict[str, str]) -> dict[str, tuple[str, dict]]:
    """One document per staff-reachable root field, with arguments that would work."""
    return {
        "viewer": ("{ viewer { user { email } } }", {}),
        "node": ("query($id: ID!) { node(id: $id) { id } }", {"id": ids["loan"]}),
        "createPayment": (
            """mutation($i: CreatePaymentInput!) { createPayment(input: $i) { __typename
            ... on PaymentError { code } } }""",
            {
                "i": {
                    "loanId": ids["loan"],
                    "amount": "100.00",
                    "method": "SPEI",
                    "provider": "STRIPE",
                    "idempotencyKey": "staff-mfa-1",
                }
            },
        ),
        "refundPayment": (
            """mutation($id: ID!) { refundPayment(paymentId: $id) { __typename
            ... on PaymentError { code } } }""",
            {"id": ids["payment"]},
        ),
        "disburseLoan": (
            """mutation($id: ID!, $c: String!) { disburseLoan(loanId: $id, clabe: $c,
            beneficiaryName: "Ana Prueba") { __typename ... on PaymentError { code } } }""",
            {"id": ids["approved"], "c": CLABE},
        ),
        "approveLoan": (
            """mutation($id: ID!, $c: String!) { approveLoan(loanId: $id, clabe: $c,
            beneficiaryName: "Ana Prueba") { __typename ... on PaymentError { code } } }""",
            {"id": ids["approved"], "c": CLABE},
        ),
        "amlAlerts": ("{ amlAlerts { totalCount } }", {}),
        "reviewLoanApplication": (
            """mutation { reviewLoanApplication(applicationId: "1", approve: true) {
            __typename ... on ComplianceError { code } } }""",
            {},
        ),
        "dismissAmlCase": (
            """mutation { dismissAmlCase(caseId: "1", reason: "sin sustento suficiente") {
            __typename ... on ComplianceError { code } } }""",
            {},
        ),
        "reportAmlCase": (
            """mutation { reportAmlCase(caseId: "1", reason: "sin sustento suficiente") {
            __typename ... on ComplianceError { code } } }""",
            {},
        ),
        "liftSuspension": (
            """mutation { liftSuspension(customerId: "1", reason: "homónimo, CURP distinta") {
            __typename ... on ComplianceError { code } } }""",
            {},
        ),
        "cancelInvoice": (
            """mutation { cancelInvoice(uuid: "0B8E3C9A-1D2E-4F50-8A6B-7C8D9E0F1A2B",
            motivo: "02") { __typename ... on InvoicingError { code } } }""",
            {},
        ),
        "submitLoanApplication": (
            """mutation($i: LoanApplicationInput!) { submitLoanApplication(input: $i) {
            __typename ... on ComplianceError { code } } }""",
            {"i": LOAN_APPLICATION},
        ),
        "reconciliationExceptions": (
            "{ reconciliationExceptions { totalCount } }",
            {},
        ),
        "statementLines": ("{ statementLines { totalCount } }", {}),
        "resolveStatementLine": (
            """mutation($i: ResolveStatementLineInput!) { resolveStatementLine(input: $i) {
            __typename ... on PaymentError { code } } }""",
            {"i": {"lineId": ids["loan"], "resolution": "RETURNED", "note": "x"}},
        ),
        "savePaymentMethod": (
            """mutation { savePaymentMethod(input: {provider: STRIPE, cardToken: "tok_visa"}) {
            __typename ... on PaymentError { code } } }""",
            {},
        ),
        "deletePaymentMethod": (
            """mutation($id: ID!) { deletePaymentMethod(id: $id) {
            __typename ... on PaymentError { code } } }""",
            {"id": ids["payment"]},
        ),
        "setDefaultPaymentMethod": (
            """mutation($id: ID!) { setDefaultPaymentMethod(id: $id) {
            __typename ... on PaymentError { code } } }""",
            {"id": ids["payment"]},
        ),
        "setDomiciliacion": (
            """mutation($i: DomiciliacionInput!) { setDomiciliacion(input: $i) {
            __typename ... on PaymentError { code } } }""",
            {"i": {"loanId": ids["loan"], "paymentMethodId": ids["payment"], "enabled": True}},
        ),
        "changePassword": (
            """mutation { changePassword(currentPassword: "contrasena-segura-1",
            newPassword: "otra-contrasena-2") { __typename ... on AuthError { code } } }""",
            {},
        ),
    }


def root_fields() -> dict[str, set[str]]:
    gql = schema._schema
    return {
        kind: set(root.fields)
        for kind, root in (
            ("query", gql.query_type),
            ("mutation", gql.mutation_type),
            ("subscription", gql.subscription_type),
        )
    }


def permissions_of(kind: str, field: str) -> list[type]:
    """The permission classes a root field declares (``graphql/permissions.py``)."""
    root = {"query": schema._schema.query_type, "mutation": schema._schema.mutation_type}.get(
        kind, schema._schema.subscription_type
    )
    definition = root.fields[field].extensions["strawberry-definition"]
    return [
        type(permission)
        for extension in definition.extensions
        if isinstance(extension, PermissionExtension)
        for permission in extension.permissions
    ]


def test_every_root_field_says_who_may_call_it():
    """The door each field opens is its permission class, never a check in the resolver:
    public fields allow anyone, the enrolment doors a session that may enrol, logout any
    session, and every other field (the staff doors below) only ``authorized_user``."""
    declared = {
        field: permissions_of(kind, field)
        for kind, fields in root_fields().items()
        for field in fields
    }
    expected = {
        field: [
            AllowAnyone
            if field in PUBLIC
            else HasSession
            if field == "logout"
            else MayEnrolMfa
            if field in ENROLMENT
            else IsAuthenticated
        ]
        for field in declared
    }
    assert declared == expected
    assert {f for f, p in declared.items() if p == [IsAuthenticated]} == (
        set(staff_documents(dict.fromkeys(("loan", "approved", "payment"), ""))) | SUBSCRIPTIONS
    )


def refused(field: str, data: dict) -> bool:
    """No data for the field, or an error value instead of the result."""
    value = (data.get("data") or {}).get(field)
    if value is None:
        return True
    errors = {"PaymentError", "AuthError", "ComplianceError", "InvoicingError"}
    return value.get("__typename") in errors and value.get("code") in {
        "UNAUTHENTICATED",
        "MFA_ENROLMENT_REQUIRED",
    }


async def staff_world(runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    await factories.user(runtime, inst, email="caja@example.mx", role=Role.STAFF)
    loan = await factories.active_loan(inst, ana, start=runtime.today())
    approved = await factories.approved_loan(inst, ana)
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    payment = await Payment.create(
        institution_id=inst.id,
        loan_id=loan.id,
        user_id=ana.id,
        provider=ProviderName.STRIPE,
        method=PaymentMethodType.CARD,
        amount_centavos=100_00,
        idempotency_key="ana-1",
        request_fingerprint="x",
        status="paid",
        provider_reference="pi_x",
    )
    return {
        "loan": encode_global_id("Loan", loan.id),
        "approved": encode_global_id("Loan", approved.id),
        "payment": encode_global_id("Payment", payment.id),
    }


async def test_unenrolled_staff_get_a_token_that_opens_no_staff_door(db, runtime):
    ids = await staff_world(runtime)
    documents = staff_documents(ids)
    fields = root_fields()
    reachable = (fields["query"] | fields["mutation"]) - PUBLIC - ENROLMENT
    assert reachable == set(documents), "every new root field needs a document here"
    box = sandboxes(runtime)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        login = await graphql(client, LOGIN, {"e": "caja@example.mx", "p": PASSWORD})
        tokens = login["data"]["login"]
        assert tokens["__typename"] == "AuthTokens" and tokens["scope"] == "MFA_ENROLMENT"
        answers = {
            field: await graphql(client, document, variables, token=tokens["accessToken"])
            for field, (document, variables) in documents.items()
        }
    assert {field for field, data in answers.items() if not refused(field, data)} == set()
    assert await Payment.filter(status="paid").count() == 1  # nothing was refunded


async def test_a_full_scope_token_for_unenrolled_staff_opens_nothing_either(db, runtime):
    """A token minted before enrolment was enforced, or by a bug, still meets the same check."""
    ids = await staff_world(runtime)
    from puente.accounts.models import User

    caja = await User.get(email="caja@example.mx")
    token = issue_access_token(
        runtime.settings.secret_key,
        caja.id,
        caja.institution_id,
        "staff",
        600,
        runtime.now(),
        scope="full",
        session_version=caja.session_version,
        family_id="legacy",
    )
    document, variables = staff_documents(ids)["refundPayment"]
    box = sandboxes(runtime)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        data = await graphql(client, document, variables, token=token)
        viewer = await graphql(client, "{ viewer { user { email } } }", token=token)
    assert refused("refundPayment", data) and viewer["data"]["viewer"] is None


async def test_enrolment_over_graphql_then_full_tokens_and_the_old_token_is_dead(
    db, runtime, clock
):
    await staff_world(runtime)
    async with app_client(runtime) as client:
        login = await graphql(client, LOGIN, {"e": "caja@example.mx", "p": PASSWORD})
        enrolment_token = login["data"]["login"]["accessToken"]
        started = (await graphql(client, START, token=enrolment_token))["data"]
        enrolment = started["startMfaEnrolment"]
        assert enrolment["__typename"] == "MfaEnrolmentStarted"
        assert enrolment["otpauthUri"].startswith("otpauth://totp/")
        assert enrolment["qrCodeSvg"].startswith("data:image/svg+xml")
        code = pyotp.TOTP(enrolment["secret"]).at(clock.now)
        wrong = await graphql(
            client,
            CONFIRM,
            {"c": "000000" if code != "000000" else "111111"},
            token=enrolment_token,
        )
        assert wrong["data"]["confirmMfaEnrolment"]["__typename"] == "AuthError"
        confirmed = await graphql(client, CONFIRM, {"c": code}, token=enrolment_token)
        full = confirmed["data"]["confirmMfaEnrolment"]
        assert full["__typename"] == "AuthTokens" and full["scope"] == "FULL"
        viewer = "{ viewer { user { email } } }"
        as_full = await graphql(client, viewer, token=full["accessToken"])
        as_old = await graphql(client, viewer, token=enrolment_token)
        again = await graphql(client, START, token=enrolment_token)
    assert as_full["data"]["viewer"]["user"]["email"] == "caja@example.mx"
    assert as_old["data"]["viewer"] is None
    assert again["data"]["startMfaEnrolment"]["__typename"] == "AuthError"


async def test_enrolled_staff_log_in_with_a_code_and_may_refund(db, runtime, clock):
    ids = await staff_world(runtime)
    inst_id = (await Payment.first()).institution_id
    from puente.institutions.models import Institution

    _, secret = await factories.enrolled_staff(
        runtime, await Institution.get(id=inst_id), email="admin@example.mx", role=Role.ADMIN
    )
    box = sandboxes(runtime)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        without = await graphql(client, LOGIN, {"e": "admin@example.mx", "p": PASSWORD})
        code = pyotp.TOTP(secret).at(clock.now)
        login = await graphql(client, LOGIN, {"e": "admin@example.mx", "p": PASSWORD, "o": code})
        tokens = login["data"]["login"]
        document, variables = staff_documents(ids)["viewer"]
        viewer = await graphql(client, document, variables, token=tokens["accessToken"])
    assert without["data"]["login"]["code"] == "OTP_REQUIRED"
    assert tokens["scope"] == "FULL"
    assert viewer["data"]["viewer"]["user"]["email"] == "admin@example.mx"


def test_subscriptions_refuse_an_enrolment_token_and_no_token_alike(database_url, runtime):
    """Both subscriptions are ``IsAuthenticated``: the stream ends with UNAUTHENTICATED
    before it sends anything, for an enrolment-scoped token as for no token at all."""
    import asyncio

    from tests.conftest import _init
    from tortoise import Tortoise

    from puente.accounts.service import AuthService
    from puente.app import create_app

    async def seed() -> tuple[dict[str, str], str]:
        await _init(database_url)
        try:
            ids = await staff_world(runtime)
            tokens = await AuthService(runtime).login("caja@example.mx", PASSWORD)
            return ids, tokens.access_token
        finally:
            await Tortoise.close_connections()

    ids, enrolment_token = asyncio.run(seed())
    documents = {
        "paymentStatus": ("paymentStatus(paymentId: $id)", ids["payment"]),
        "loanUpdated": ("loanUpdated(loanId: $id)", ids["loan"]),
        "institutionEvents": ("institutionEvents", None),
    }
    assert set(documents) == root_fields()["subscription"]
    answers = []
    app = create_app(runtime, run_workers=False)
    for authorization in ({"authorization": f"Bearer {enrolment_token}"}, {}):
        with (
            TestClient(app) as client,
            client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
        ):
            ws.send_json({"type": "connection_init", "payload": authorization})
            assert ws.receive_json()["type"] == "connection_ack"
            for field, (call, node_id) in documents.items():
                query = (
                    f"subscription($id: ID!) {{ {call} {{ __typename }} }}"
                    if node_id
                    else f"subscription {{ {call} {{ __typename }} }}"
                )
                variables = {"id": node_id} if node_id else {}
                ws.send_json(
                    {
                        "id": field,
                        "type": "subscribe",
                        "payload": {"query": query, "variables": variables},
                    }
                )
                answers.append((ws.receive_json(), ws.receive_json()))
    assert len(answers) == 2 * len(documents)
    for error, complete in answers:
        assert error["type"] == "next" and error["payload"]["data"] is None
        assert error["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert complete == {"id": error["id"], "type": "complete"}
