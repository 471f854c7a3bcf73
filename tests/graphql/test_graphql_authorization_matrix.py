"""Who sees what: every root query, node type, mutation and subscription × borrower / parent
/ staff of this institution / staff of another / admin / anonymous (issue 12).

The rows are read off the schema: a new root field, node type or subscription without a row
here fails ``test_the_matrix_covers_the_whole_schema``. A cell says whether the door opened
for that person (``Y``) or answered as to a stranger (``-``: null, an UNAUTHENTICATED or
FORBIDDEN error, or the "not found" a service answers to hide what exists). A door that
opened may still refuse the request on its merits (a wrong password, nothing to refund):
that is the service's business, not this matrix's.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pyotp
import pytest
from tests.graphql.test_graphql_staff_mfa import LOAN_APPLICATION
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes
from tests.support.http import app_client, graphql, subscription_context

from graphql import GraphQLObjectType
from puente.accounts.service import AuthService
from puente.enums import PaymentMethodType, PaymentStatus, ProviderName, Role
from puente.graphql.schema import build_schema, schema
from puente.graphql.types import encode_global_id
from puente.payments.change_notices import notify_institution
from puente.payments.gateways import store_credentials
from puente.webhooks.models import ProviderEvent

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"
PERSONAS = ("borrower", "parent", "staff", "other_staff", "admin", "anonymous")
EMAILS = {
    "borrower": "ana@example.mx",
    "parent": "luis@example.mx",
    "staff": "caja@example.mx",
    "other_staff": "caja@otra.mx",
    "admin": "admin@example.mx",
}
# Codes that mean "not for you" (or "no such thing", which is how services hide things).
REFUSALS = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "LOAN_NOT_FOUND",
    "PAYMENT_NOT_FOUND",
    "PAYMENT_METHOD_NOT_FOUND",
    "MFA_ENROLMENT_REQUIRED",
    "MFA_ENROLMENT_NOT_AVAILABLE",
    "APPLICATION_NOT_FOUND",
    "CASE_NOT_FOUND",
    "CUSTOMER_NOT_FOUND",
    "INVOICE_NOT_FOUND",
}


def cells(allowed: str) -> dict[str, bool]:
    """``"borrower admin"`` → who may; everyone else may not."""
    names = set(allowed.split())
    assert names <= set(PERSONAS), names - set(PERSONAS)
    return {persona: persona in names for persona in PERSONAS}


EVERYONE = " ".join(PERSONAS)
SIGNED_IN = "borrower parent staff other_staff admin"
OWNERS = "borrower staff admin"  # Ana's loan and payment: Ana and her lender's people
STAFF = "staff other_staff admin"  # staff doors (each sees its own institution's data)
THIS_LENDER = "staff admin"

PAY = "__typename ... on PaymentError { code }"
COMPLIANCE = "__typename ... on ComplianceError { code }"
AUTH = "__typename ... on AuthError { code }"

# Root queries and mutations: (document, variables from the world, who gets through).
ROOT = {
    "viewer": ("{ viewer { user { email } } }", {}, SIGNED_IN),
    "node": ("query($id: ID!) { node(id: $id) { id } }", {"id": "loan"}, OWNERS),
    "simulateLoan": (
        """{ simulateLoan(input: {principal: "1000", annualRate: "0.36", termCount: 3,
        periodicity: MONTHLY}) { cat } }""",
        {},
        EVERYONE,
    ),
    "amlAlerts": ("{ amlAlerts { totalCount } }", {}, STAFF),
    "reconciliationExceptions": ("{ reconciliationExceptions { totalCount } }", {}, STAFF),
    "statementLines": ("{ statementLines { totalCount } }", {}, STAFF),
    "login": (
        f"""mutation {{ login(email: "nadie@example.mx", password: "x") {{ {AUTH} }} }}""",
        {},
        EVERYONE,
    ),
    "refreshToken": (
        f"""mutation {{ refreshToken(refreshToken: "x") {{ {AUTH} }} }}""",
        {},
        EVERYONE,
    ),
    "createPayment": (
        f"""mutation($i: CreatePaymentInput!) {{ createPayment(input: $i) {{ {PAY} }} }}""",
        {"i": "payment_input"},
        OWNERS,
    ),
    "savePaymentMethod": (
        f"""mutation {{ savePaymentMethod(input: {{provider: STRIPE, cardToken: "tok_visa"}})
        {{ {PAY} }} }}""",
        {},
        "borrower parent",  # who pays keeps cards; staff have nothing to pay
    ),
    "setDomiciliacion": (
        f"""mutation($l: ID!, $m: ID!) {{ setDomiciliacion(input: {{loanId: $l,
        paymentMethodId: $m, enabled: false}}) {{ {PAY} }} }}""",
        {"l": "loan", "m": "payment_method"},
        "borrower",  # Ana's own loan
    ),
    "setDefaultPaymentMethod": (
        f"""mutation($id: ID!) {{ setDefaultPaymentMethod(id: $id) {{ {PAY} }} }}""",
        {"id": "payment_method"},
        "borrower",  # Ana's own card
    ),
    "deletePaymentMethod": (
        f"""mutation($id: ID!) {{ deletePaymentMethod(id: $id) {{ {PAY} }} }}""",
        {"id": "payment_method"},
        "borrower",  # Ana's own card
    ),
    "refundPayment": (
        f"""mutation($id: ID!) {{ refundPayment(paymentId: $id, amount: "1.00") {{ {PAY} }} }}""",
        {"id": "payment"},
        THIS_LENDER,
    ),
    "disburseLoan": (
        f"""mutation($id: ID!) {{ disburseLoan(loanId: $id, clabe: "012180001234567899",
        beneficiaryName: "Ana Prueba") {{ {PAY} }} }}""",
        {"id": "approved"},
        THIS_LENDER,
    ),
    "approveLoan": (
        f"""mutation($id: ID!) {{ approveLoan(loanId: $id, clabe: "012180001234567899",
        beneficiaryName: "Ana Prueba") {{ {PAY} }} }}""",
        {"id": "approved"},
        THIS_LENDER,
    ),
    "submitLoanApplication": (
        f"""mutation($i: LoanApplicationInput!) {{ submitLoanApplication(input: $i) {{
        {COMPLIANCE} }} }}""",
        {"i": "application"},
        "borrower",  # a borrower applies; a parent pays tuition, staff review
    ),
    "reviewLoanApplication": (
        f"""mutation($id: ID!) {{ reviewLoanApplication(applicationId: $id, approve: false) {{
        {COMPLIANCE} }} }}""",
        {"id": "application_id"},
        THIS_LENDER,
    ),
    "dismissAmlCase": (
        f"""mutation($id: ID!) {{ dismissAmlCase(caseId: $id, reason: "sin sustento suficiente")
        {{ {COMPLIANCE} }} }}""",
        {"id": "case_to_dismiss"},
        THIS_LENDER,
    ),
    "reportAmlCase": (
        f"""mutation($id: ID!) {{ reportAmlCase(caseId: $id, reason: "sin sustento suficiente")
        {{ {COMPLIANCE} }} }}""",
        {"id": "case_to_report"},
        THIS_LENDER,
    ),
    "liftSuspension": (
        f"""mutation($id: ID!) {{ liftSuspension(customerId: $id,
        reason: "coincidencia descartada por el oficial") {{ {COMPLIANCE} }} }}""",
        {"id": "ana_user"},
        THIS_LENDER,
    ),
    # The door opens for the lender's staff: motivo 01 without a substitute is then refused
    # on its merits (SUBSTITUTE_REQUIRED); everyone else is told the CFDI does not exist.
    "cancelInvoice": (
        """mutation($u: String!) { cancelInvoice(uuid: $u, motivo: "01") {
        __typename ... on InvoicingError { code } } }""",
        {"u": "invoice_uuid"},
        THIS_LENDER,
    ),
    "resolveStatementLine": (
        f"""mutation($id: ID!) {{ resolveStatementLine(input: {{lineId: $id,
        resolution: RETURNED, note: "devuelto"}}) {{ {PAY} }} }}""",
        {"id": "line"},
        THIS_LENDER,
    ),
    # Borrowers and parents may turn on TOTP; enrolled staff have it already (the enrolment
    # door for staff who owe it is test_graphql_staff_mfa's).
    "startMfaEnrolment": (
        f"mutation {{ startMfaEnrolment {{ {AUTH} }} }}",
        {},
        "borrower parent",
    ),
    "confirmMfaEnrolment": (
        f"""mutation {{ confirmMfaEnrolment(code: "000000") {{ {AUTH} }} }}""",
        {},
        "borrower parent",
    ),
    "changePassword": (
        f"""mutation {{ changePassword(currentPassword: "no-es-la-mia-1",
        newPassword: "otra-contrasena-2") {{ {AUTH} }} }}""",
        {},
        SIGNED_IN,
    ),
    "logout": ("mutation { logout }", {}, SIGNED_IN),
    # Public by nature: asking never says whether the address exists; a bad link is refused
    # on its merits (INVALID_RESET_LINK), so the door is open to everyone.
    "requestPasswordReset": (
        """mutation { requestPasswordReset(email: "nadie@example.mx") }""",
        {},
        EVERYONE,
    ),
    "resetPassword": (
        f"""mutation {{ resetPassword(token: "x", newPassword: "otra-contrasena-2") {{ {AUTH} }}
        }}""",
        {},
        EVERYONE,
    ),
}

# Fields under viewer whose answer depends on who asks (beyond "signed in").
VIEWER = {
    "viewer.institution": ("{ viewer { institution { id } } }", THIS_LENDER + " other_staff"),
}

# node(id) of each Node type: whose object, and who may fetch it.
NODES = {
    "Loan": ("loan", OWNERS),
    "Payment": ("payment", OWNERS),
    "User": ("ana_user", "borrower"),
    "Institution": ("institution", THIS_LENDER),
    "PaymentMethod": ("payment_method", ""),  # listed under viewer.paymentMethods only
    "WebhookEvent": ("webhook_event", ""),  # listed under institution.webhookEvents only
}

SUBSCRIPTIONS = {
    "paymentStatus": (
        "subscription($id: ID!) { paymentStatus(paymentId: $id) { id } }",
        "payment",
        OWNERS,
    ),
    "loanUpdated": ("subscription($id: ID!) { loanUpdated(loanId: $id) { id } }", "loan", OWNERS),
    "institutionEvents": ("subscription { institutionEvents { kind } }", None, THIS_LENDER),
}


def test_the_matrix_covers_the_whole_schema():
    gql = schema._schema
    roots = set(gql.query_type.fields) | set(gql.mutation_type.fields)
    assert roots == set(ROOT), "every root field needs a row in ROOT"
    assert set(gql.subscription_type.fields) == set(SUBSCRIPTIONS)
    nodes = {
        name
        for name, kind in gql.type_map.items()
        if isinstance(kind, GraphQLObjectType) and any(i.name == "Node" for i in kind.interfaces)
    }
    assert nodes == set(NODES), "every Node type needs a row in NODES"


class World:
    """Two lenders; Ana (borrower) and Luis (a parent) at the first, with its staff and admin;
    a cashier at the second."""

    def __init__(self, runtime, clock, tmp) -> None:
        self.runtime = runtime
        self.clock = clock
        self.tmp = tmp
        self.secrets: dict[str, str] = {}
        self.ids: dict[str, object] = {}

    async def build(self) -> None:
        runtime = self.runtime
        inst = await factories.institution()
        other = await factories.institution("otra")
        ana = await factories.user(runtime, inst)
        luis = await factories.user(runtime, inst, email=EMAILS["parent"], role=Role.GUARDIAN)
        loan = await factories.active_loan(inst, ana, start=runtime.today())
        await factories.active_loan(inst, luis, start=runtime.today())
        approved = await factories.approved_loan(inst, ana)
        payment = await factories.payment(
            loan,
            key="paid-1",
            status=PaymentStatus.PAID,
            provider_reference="pi_x",
            method=PaymentMethodType.CARD,
        )
        await store_credentials(runtime, inst.id, "stripe", STRIPE)
        for persona, institution, role in (
            ("staff", inst, Role.STAFF),
            ("other_staff", other, Role.STAFF),
            ("admin", inst, Role.ADMIN),
        ):
            _, self.secrets[persona] = await factories.enrolled_staff(
                runtime, institution, email=EMAILS[persona], role=role
            )
        from puente.payments.models import PaymentMethod

        method = await PaymentMethod.create(
            institution_id=inst.id,
            user_id=ana.id,
            provider=ProviderName.STRIPE,
            method=PaymentMethodType.CARD,
        )
        event = await ProviderEvent.create(
            provider=ProviderName.STRIPE,
            event_id="evt_1",
            event_type="x",
            institution_id=inst.id,
            raw_body="x",
        )
        from datetime import timedelta as days

        from puente.compliance.models import AmlCase, LoanApplication
        from puente.compliance.screening_service import APPLICATION_CONTEXT

        application = await LoanApplication.create(
            institution_id=inst.id,
            user_id=ana.id,
            product_id=loan.product_id,
            full_name="Ana Prueba",
            data_enc=runtime.cipher.encrypt(
                json.dumps({"rfc": "PUAA800101AAA", "curp": "PUAA800101MDFRNN09"}),
                context=APPLICATION_CONTEXT,
            ),
            curp_index="x",
            rfc_index="x",
            clabe_index="x",
            clabe_last4="7899",
            requested_centavos=100000,
            term_count=12,
            monthly_income_centavos=1000000,
            risk_grade="LOW",
        )
        cases = [
            await AmlCase.create(
                institution_id=inst.id,
                customer_id=ana.id,
                report_kind="inusual",
                opened_at=runtime.now(),
                due_at=runtime.now() + days(days=30),
            )
            for _ in range(2)
        ]
        from datetime import UTC, datetime

        from tests.reconciliation.samples import movement, write

        from puente.reconciliation.models import StatementLine
        from puente.reconciliation.service import import_and_reconcile

        await import_and_reconcile(
            runtime,
            inst.id,
            write(self.tmp / "s.xml", "camt053:02", [movement("100.00", bank_reference="B1")]),
            "camt053",
            at=datetime(2026, 11, 27, tzinfo=UTC),
        )
        line = await StatementLine.get(institution_id=inst.id)
        from puente.invoicing.models import Invoice, InvoiceKind, InvoiceStatus

        invoice = await Invoice.create(
            institution_id=inst.id,
            payment_id=payment.id,
            key=f"payment:{payment.id}",
            kind=InvoiceKind.INGRESO,
            status=InvoiceStatus.STAMPED,
            folio="1",
            uuid="0B8E3C9A-1D2E-4F50-8A6B-7C8D9E0F1A2B",
        )
        self.institution_id = inst.id
        self.ids = {
            "loan": encode_global_id("Loan", loan.id),
            "approved": encode_global_id("Loan", approved.id),
            "payment": encode_global_id("Payment", payment.id),
            "ana_user": encode_global_id("User", ana.id),
            "institution": encode_global_id("Institution", inst.id),
            "payment_method": encode_global_id("PaymentMethod", method.id),
            "webhook_event": encode_global_id("WebhookEvent", event.id),
            "application": LOAN_APPLICATION,
            "line": encode_global_id("StatementLine", line.id),
            "application_id": encode_global_id("LoanApplication", application.id),
            "case_to_dismiss": encode_global_id("AmlCase", cases[0].id),
            "case_to_report": encode_global_id("AmlCase", cases[1].id),
            "invoice_uuid": str(invoice.uuid),
        }
        self.ids["payment_input"] = {
            "loanId": self.ids["loan"],
            "amount": "100.00",
            "method": "SPEI",
            "provider": "STRIPE",
            "idempotencyKey": "matrix",
        }

    async def token(self, persona: str) -> str | None:
        """A fresh session (each staff login a new TOTP step: a code is good once)."""
        if persona == "anonymous":
            return None
        self.clock.now += timedelta(seconds=31)
        secret = self.secrets.get(persona)
        otp = pyotp.TOTP(secret).at(self.clock.now) if secret else None
        tokens = await AuthService(self.runtime).login(EMAILS[persona], PASSWORD, otp)
        return tokens.access_token  # type: ignore[union-attr]

    def variables(self, template: dict) -> dict:
        return {name: self.ids.get(value, value) for name, value in template.items()}


def got_through(answer: dict, field: str) -> bool:
    """The door opened: data for the field, and not an error value saying "not for you"."""
    value = (answer.get("data") or {}).get(field)
    codes = {(e.get("extensions") or {}).get("code") for e in answer.get("errors") or []}
    if value is None or value is False or codes & REFUSALS:
        return False
    if isinstance(value, dict) and value.get("code") in REFUSALS:
        return False
    return True


async def test_who_gets_through_each_root_field_and_node(db, runtime, clock, tmp_path):
    world = World(runtime, clock, tmp_path)
    await world.build()
    tokens = {persona: await world.token(persona) for persona in PERSONAS}
    box = sandboxes(runtime)
    seen: dict[str, dict[str, bool]] = {}
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        for field, (document, variables, _) in ROOT.items():
            row = {}
            for persona in PERSONAS:
                # A session a row may end (logout, a password change) is the row's own.
                token = (
                    await world.token(persona)
                    if field in ("logout", "changePassword")
                    else tokens[persona]
                )
                answer = await graphql(client, document, world.variables(variables), token=token)
                row[persona] = got_through(answer, field)
            seen[field] = row
        for path, (document, _) in VIEWER.items():
            row = {}
            for persona in PERSONAS:
                answer = await graphql(client, document, token=tokens[persona])
                viewer = (answer.get("data") or {}).get("viewer") or {}
                row[persona] = viewer.get("institution") is not None
            seen[path] = row
        node = "query($id: ID!) { node(id: $id) { id } }"
        for type_name, (key, _) in NODES.items():
            row = {}
            for persona in PERSONAS:
                answer = await graphql(client, node, {"id": world.ids[key]}, token=tokens[persona])
                row[persona] = got_through(answer, "node")
            seen[f"node:{type_name}"] = row
    expected = {field: cells(who) for field, (_, _, who) in ROOT.items()}
    expected |= {path: cells(who) for path, (_, who) in VIEWER.items()}
    expected |= {f"node:{name}": cells(who) for name, (_, who) in NODES.items()}
    wrong = {
        field: {p: seen[field][p] for p in PERSONAS if seen[field][p] != expected[field][p]}
        for field in expected
        if seen[field] != expected[field]
    }
    assert wrong == {}, f"who got through differs from the matrix: {wrong}"


async def _subscribed(world: World, document: str, variables: dict, token: str | None) -> bool:
    """True when the stream delivers data: its first state, or (a feed with no first state)
    an event published on the first lender's channel once it listens."""
    stream = await build_schema().subscribe(
        document, variables, subscription_context(world.runtime, token)
    )
    pending = asyncio.ensure_future(anext(stream))
    try:
        await asyncio.sleep(0.3)
        if not pending.done():
            await notify_institution(
                world.runtime.bus, world.institution_id, "payment.paid", world.runtime.now()
            )
        try:
            result = await asyncio.wait_for(pending, 2)
        except TimeoutError:
            return False
        return result.errors is None and result.data is not None
    finally:
        if not pending.done():
            pending.cancel()
        await stream.aclose()


async def test_who_may_subscribe(db, runtime, clock, tmp_path):
    world = World(runtime, clock, tmp_path)
    await world.build()
    tokens = {persona: await world.token(persona) for persona in PERSONAS}
    seen = {}
    for field, (document, key, _) in SUBSCRIPTIONS.items():
        variables = {"id": world.ids[key]} if key else {}
        seen[field] = {
            persona: await _subscribed(world, document, variables, tokens[persona])
            for persona in PERSONAS
        }
    expected = {field: cells(who) for field, (_, _, who) in SUBSCRIPTIONS.items()}
    assert seen == expected
