"""Relay paging, the staff's institution scope, loans and payments an app can render
(issue 12, GraphQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyotp
import pytest
from tests.support import factories
from tests.support.http import app_client, graphql

from puente.accounts.service import AuthService
from puente.enums import PaymentMethodType, PaymentStatus, ProviderName, Role
from puente.graphql.paging import cursor
from puente.graphql.types import encode_global_id
from puente.payments.settled_elsewhere import record_settled_payment
from puente.providers.circuit import DEFAULT_BREAKERS, CircuitPolicy
from puente.providers.metrics import DEFAULT_METRICS
from puente.webhooks.models import ProviderEvent

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"


async def login(runtime, clock, email: str, secret: str | None = None) -> str:
    otp = pyotp.TOTP(secret).at(clock.now) if secret else None
    tokens = await AuthService(runtime).login(email, PASSWORD, otp)
    return tokens.access_token  # type: ignore[union-attr]


async def world(runtime, clock):
    """Two lenders: ``financiera`` (Ana, three loans, staff and admin) and ``otra`` (staff)."""
    inst = await factories.institution()
    other = await factories.institution("otra")
    ana = await factories.user(runtime, inst)
    loans = [
        await factories.active_loan(
            inst, ana, principal=f"{1000 * (n + 1)}.00", start=date(2026, 11, 2)
        )
        for n in range(3)
    ]
    _, secret = await factories.enrolled_staff(runtime, inst)
    _, other_secret = await factories.enrolled_staff(runtime, other, email="caja@otra.mx")
    tokens = {
        "ana": await login(runtime, clock, "ana@example.mx"),
        "staff": await login(runtime, clock, "caja@example.mx", secret),
        "other": await login(runtime, clock, "caja@otra.mx", other_secret),
    }
    return inst, other, ana, loans, tokens


LOANS = """query($f: Int, $a: String, $l: Int, $b: String) { viewer { user { email }
  loans(first: $f, after: $a, last: $l, before: $b) { totalCount
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""


async def test_loans_page_forwards_and_backwards_with_stable_cursors(db, runtime, clock):
    _, _, _, loans, tokens = await world(runtime, clock)
    ids = [encode_global_id("Loan", loan.id) for loan in loans]
    async with app_client(runtime) as client:
        first = await graphql(client, LOANS, {"f": 2}, token=tokens["ana"])
        page = first["data"]["viewer"]["loans"]
        second = await graphql(
            client, LOANS, {"f": 2, "a": page["pageInfo"]["endCursor"]}, token=tokens["ana"]
        )
        last = await graphql(client, LOANS, {"l": 2}, token=tokens["ana"])
        before = await graphql(
            client,
            LOANS,
            {"l": 2, "b": last["data"]["viewer"]["loans"]["pageInfo"]["startCursor"]},
            token=tokens["ana"],
        )
    assert [e["node"]["id"] for e in page["edges"]] == ids[:2]
    assert page["totalCount"] == 3
    assert page["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": cursor(loans[0].id),
        "endCursor": cursor(loans[1].id),
    }
    rest = second["data"]["viewer"]["loans"]
    assert [e["node"]["id"] for e in rest["edges"]] == ids[2:]
    # Counted with the page when there is no cursor, by its own statement behind one:
    # the same total either way, from either end.
    assert rest["totalCount"] == 3
    assert last["data"]["viewer"]["loans"]["totalCount"] == 3
    assert before["data"]["viewer"]["loans"]["totalCount"] == 3
    assert rest["pageInfo"]["hasNextPage"] is False and rest["pageInfo"]["hasPreviousPage"]
    tail = last["data"]["viewer"]["loans"]
    assert [e["node"]["id"] for e in tail["edges"]] == ids[1:]
    assert tail["pageInfo"]["hasPreviousPage"] is True
    head = before["data"]["viewer"]["loans"]
    assert [e["node"]["id"] for e in head["edges"]] == ids[:1]
    assert head["pageInfo"]["hasNextPage"] is True and not head["pageInfo"]["hasPreviousPage"]


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"f": -1}, "BAD_PAGE_SIZE", "first"),
        ({"l": 0}, "BAD_PAGE_SIZE", "last"),
        ({"f": 1, "l": 1}, "BAD_PAGE_ARGUMENTS", "last"),
        ({"a": "no-es-un-cursor"}, "BAD_CURSOR", "after"),
        ({"b": "bm8tY3Vyc29y"}, "BAD_CURSOR", "before"),
    ],
)
async def test_bad_paging_arguments_fail_that_field_in_spanish_and_keep_the_viewer(
    db, runtime, clock, variables, code, field
):
    _, _, _, _, tokens = await world(runtime, clock)
    async with app_client(runtime) as client:
        answer = await graphql(client, LOANS, variables, token=tokens["ana"])
    (error,) = answer["errors"]
    assert error["extensions"] == {"code": code, "field": field}
    assert error["path"] == ["viewer", "loans"]
    assert any(word in error["message"] for word in ("debe", "Usa", "cursor"))
    viewer = answer["data"]["viewer"]
    assert viewer["user"]["email"] == "ana@example.mx"  # the viewer stands
    assert viewer["loans"]["edges"] == [] and viewer["loans"]["totalCount"] == 0


INSTITUTION = """query($s: String, $st: [LoanStatus!], $pf: PaymentFilter) { viewer { institution {
  id name
  loans(filter: {search: $s, status: $st}) { totalCount edges { node { id kind displayName } } }
  payments(filter: $pf) { totalCount edges { node { id status loan { id } } } }
  reconciliationExceptions { totalCount }
  amlAlerts { totalCount }
  webhookEvents(status: [DEAD]) { totalCount edges { node { eventType status } } }
} } }"""


async def _paid(loan, key: str, amount: str, at: datetime):
    return await record_settled_payment(
        loan,
        Decimal(amount),
        provider=ProviderName.CONEKTA,
        method=PaymentMethodType.SPEI,
        idempotency_key=key,
        received_at=at,
        user_id=loan.borrower_id,
    )


async def test_staff_see_their_institution_and_nobody_else_does(db, runtime, clock):
    inst, other, ana, loans, tokens = await world(runtime, clock)
    at = datetime(2026, 11, 20, 18, tzinfo=UTC)
    await _paid(loans[0], "p-1", "100.00", at)
    await factories.payment(loans[1], key="p-2", status=PaymentStatus.FAILED)
    await ProviderEvent.create(
        provider=ProviderName.STRIPE,
        event_id="evt_dead",
        event_type="payment_intent.succeeded",
        institution_id=inst.id,
        raw_body="x",
        status="dead",
    )
    await ProviderEvent.create(
        provider=ProviderName.STRIPE,
        event_id="evt_other",
        event_type="payment_intent.succeeded",
        institution_id=other.id,
        raw_body="x",
        status="dead",
    )
    variables = {"pf": {"status": ["PAID"], "provider": "CONEKTA"}}
    node = "query($id: ID!) { node(id: $id) { id ... on Institution { name } } }"
    own_id = encode_global_id("Institution", inst.id)
    async with app_client(runtime) as client:
        staff = await graphql(client, INSTITUTION, variables, token=tokens["staff"])
        searched = await graphql(
            client, INSTITUTION, {"s": "nadie", "st": ["ACTIVE"]}, token=tokens["staff"]
        )
        borrower = await graphql(client, INSTITUTION, variables, token=tokens["ana"])
        stranger = await graphql(client, INSTITUTION, variables, token=tokens["other"])
        own_node = await graphql(client, node, {"id": own_id}, token=tokens["staff"])
        stranger_node = await graphql(client, node, {"id": own_id}, token=tokens["other"])
        ana_node = await graphql(client, node, {"id": own_id}, token=tokens["ana"])
    assert "errors" not in staff, staff
    seen = staff["data"]["viewer"]["institution"]
    assert seen["name"] == "Financiera" and seen["id"] == own_id
    assert seen["loans"]["totalCount"] == 3
    assert {e["node"]["kind"] for e in seen["loans"]["edges"]} == {"PERSONAL"}
    assert seen["payments"]["totalCount"] == 1  # the failed Stripe one is filtered out
    assert seen["payments"]["edges"][0]["node"]["loan"]["id"] == encode_global_id(
        "Loan", loans[0].id
    )
    assert seen["webhookEvents"]["totalCount"] == 1  # not the other institution's
    assert seen["reconciliationExceptions"]["totalCount"] == 0
    assert searched["data"]["viewer"]["institution"]["loans"]["totalCount"] == 0
    assert borrower["data"]["viewer"]["institution"] is None
    other_view = stranger["data"]["viewer"]["institution"]
    assert other_view["name"] == "Otra" and other_view["loans"]["totalCount"] == 0
    assert other_view["webhookEvents"]["totalCount"] == 1
    assert own_node["data"]["node"] == {"id": own_id, "name": "Financiera"}
    assert stranger_node["data"]["node"] is None and ana_node["data"]["node"] is None


APP_LOAN = """query($id: ID!) { node(id: $id) { ... on Loan {
  kind displayName institutionName product { name kind } institution { name }
  payments(first: 1) { totalCount edges { node { amount { amount } } } pageInfo { hasNextPage } }
  tuition { student }
} } }"""


async def test_a_personal_loan_renders_with_its_payments(db, runtime, clock):
    _, _, _, loans, tokens = await world(runtime, clock)
    at = datetime(2026, 11, 20, 18, tzinfo=UTC)
    await _paid(loans[0], "p-1", "100.00", at)
    await _paid(loans[0], "p-2", "50.00", at + timedelta(hours=1))
    variables = {"id": encode_global_id("Loan", loans[0].id)}
    async with app_client(runtime) as client:
        ana = (await graphql(client, APP_LOAN, variables, token=tokens["ana"]))["data"]["node"]
        staff = (await graphql(client, APP_LOAN, variables, token=tokens["staff"]))["data"]["node"]
    assert ana["kind"] == "PERSONAL"
    assert ana["displayName"] == "Préstamo personal de $1,000.00 MXN"
    assert ana["product"] == {"name": "Préstamo personal", "kind": "PERSONAL"}
    assert ana["tuition"] is None and ana["institution"] is None
    assert ana["institutionName"] == "Financiera"
    assert staff["institution"] == {"name": "Financiera"}
    payments = ana["payments"]
    assert payments["totalCount"] == 2 and payments["pageInfo"]["hasNextPage"] is True
    assert payments["edges"][0]["node"]["amount"]["amount"] == "50.00"  # newest first


PAYMENT = """query($id: ID!) { node(id: $id) { ... on Payment {
  status failureCode failureMessage refundedAmount { amount } loan { id }
  appliedTo { installmentNumber component amount { amount } } bankFacts { claveRastreo }
} } }"""


async def test_a_payment_explains_itself(db, runtime, clock):
    _, _, _, loans, tokens = await world(runtime, clock)
    paid = await _paid(loans[0], "p-1", "100.00", datetime(2026, 11, 20, 18, tzinfo=UTC))
    failed = await factories.payment(
        loans[0], key="p-2", status=PaymentStatus.FAILED, failure_code="insufficient_funds"
    )
    async with app_client(runtime) as client:
        applied = await graphql(
            client, PAYMENT, {"id": encode_global_id("Payment", paid.id)}, token=tokens["ana"]
        )
        refused = await graphql(
            client, PAYMENT, {"id": encode_global_id("Payment", failed.id)}, token=tokens["ana"]
        )
    one = applied["data"]["node"]
    assert one["failureCode"] is None and one["failureMessage"] is None
    assert one["refundedAmount"] == {"amount": "0.00"}
    assert one["loan"] == {"id": encode_global_id("Loan", loans[0].id)}
    parts = one["appliedTo"]
    assert parts and sum(Decimal(p["amount"]["amount"]) for p in parts) == Decimal("100.00")
    assert {p["installmentNumber"] for p in parts} == {1}
    assert one["bankFacts"] is None  # not reconciled yet
    two = refused["data"]["node"]
    assert two["failureCode"] == "insufficient_funds"
    assert "fondos suficientes" in two["failureMessage"]
    assert two["appliedTo"] == []


async def test_viewer_payments_filter_by_loan_and_dates(db, runtime, clock):
    _, _, _, loans, tokens = await world(runtime, clock)
    await _paid(loans[0], "p-1", "100.00", datetime(2026, 11, 20, 18, tzinfo=UTC))
    await _paid(loans[1], "p-2", "100.00", datetime(2026, 11, 25, 18, tzinfo=UTC))
    query = """query($f: PaymentFilter) { viewer { payments(filter: $f) { totalCount } } }"""
    loan_id = encode_global_id("Loan", loans[1].id)
    async with app_client(runtime) as client:
        by_loan = await graphql(client, query, {"f": {"loanId": loan_id}}, token=tokens["ana"])
        by_day = await graphql(
            client, query, {"f": {"from": "2026-11-21", "to": "2026-11-30"}}, token=tokens["ana"]
        )
        backwards = await graphql(
            client, query, {"f": {"from": "2026-11-30", "to": "2026-11-01"}}, token=tokens["ana"]
        )
    assert by_loan["data"]["viewer"]["payments"]["totalCount"] == 1
    assert by_day["data"]["viewer"]["payments"]["totalCount"] == 1
    assert backwards["errors"][0]["extensions"] == {"code": "BAD_FILTER", "field": "from"}
    assert backwards["data"]["viewer"]["payments"]["totalCount"] == 0


async def test_staff_search_payments_by_reference_or_payer(db, runtime, clock):
    _, _, _, loans, tokens = await world(runtime, clock)
    await factories.payment(loans[0], key="r-1", provider_reference="pi_buscado")
    await factories.payment(loans[1], key="r-2", provider_reference="pi_otro")
    query = """query($s: String) { viewer { institution {
      payments(filter: {search: $s}) { totalCount } } } }"""
    async with app_client(runtime) as client:
        counts = [
            (await graphql(client, query, {"s": term}, token=tokens["staff"]))["data"]["viewer"][
                "institution"
            ]["payments"]["totalCount"]
            for term in ("buscado", "ana prueba", "nadie")
        ]
    assert counts == [1, 2, 0]


async def test_provider_health_reads_the_breaker_and_the_metrics(db, runtime, clock):
    inst, _, _, _, tokens = await world(runtime, clock)
    DEFAULT_BREAKERS.clear()
    DEFAULT_METRICS.reset()
    try:
        breaker = DEFAULT_BREAKERS.get(
            "stripe:financiera:stripe", CircuitPolicy(failure_threshold=1)
        )
        breaker.record_failure()
        DEFAULT_METRICS.observe("stripe", 0.08, "ok")
        DEFAULT_METRICS.observe("stripe", 0.3, "provider_unavailable")
        await ProviderEvent.create(
            provider=ProviderName.STRIPE,
            event_id="evt_1",
            event_type="payment_intent.succeeded",
            institution_id=inst.id,
            raw_body="x",
        )
        query = """{ viewer { institution { providerHealth {
          provider state errorRate p95LatencyMs lastWebhookAt } } } }"""
        async with app_client(runtime) as client:
            staff = await graphql(client, query, token=tokens["staff"])
            other = await graphql(client, query, token=tokens["other"])
    finally:
        DEFAULT_BREAKERS.clear()
        DEFAULT_METRICS.reset()
    (stripe,) = staff["data"]["viewer"]["institution"]["providerHealth"]
    assert stripe["provider"] == "STRIPE" and stripe["state"] == "OPEN"
    assert Decimal(stripe["errorRate"]) == Decimal("0.5")
    assert stripe["p95LatencyMs"] == 500 and stripe["lastWebhookAt"] is not None
    assert other["data"]["viewer"]["institution"]["providerHealth"] == []


async def test_a_tuition_account_shows_todays_price(db, runtime, clock):
    from puente.accounts.users import create_user
    from puente.enums import InstitutionKind
    from puente.loans.models import LoanProduct
    from puente.tuition.engine import TuitionPlan, monthly_due_dates
    from puente.tuition.service import enrol_in_plan

    school = await factories.institution("colegio", InstitutionKind.SCHOOL)
    luis = await factories.user(runtime, school, email="luis@example.mx", role=Role.GUARDIAN)
    sofia = await create_user(
        runtime,
        institution_id=school.id,
        email="sofia@example.mx",
        password=PASSWORD,
        full_name="Sofía Hernández",
        role=Role.STUDENT,
    )
    product = await LoanProduct.create(
        institution_id=school.id, name="Colegiaturas", kind="tuition", annual_rate=0, vat_rate=0
    )
    today = runtime.today()
    first_due = date(today.year, today.month, 1) + timedelta(days=40)
    plan = TuitionPlan(
        student_id=str(sofia.id),
        payer_id=str(luis.id),
        cycle="2026-2027",
        enrolment_fee=Decimal("0"),
        enrolment_due_date=today - timedelta(days=1),
        monthly_amount=Decimal("4200.00"),
        due_dates=monthly_due_dates(first_due.replace(day=10), 3),
        scholarship_rate=Decimal("0.10"),
        early_discount_rate=Decimal("0.05"),
        early_discount_day=5,
    )
    loan = await enrol_in_plan(plan, product=product, payer_id=luis.id, student_id=sofia.id)
    token = await login(runtime, clock, "luis@example.mx")
    query = """query($id: ID!) { node(id: $id) { ... on Loan { kind displayName
      tuition { student school cycle concept amountDueToday { amount } listPrice { amount }
        scholarship { amount } earlyPaymentDiscount { amount } surcharge { amount } } } } }"""
    async with app_client(runtime) as client:
        answer = await graphql(
            client, query, {"id": encode_global_id("Loan", loan.id)}, token=token
        )
    node = answer["data"]["node"]
    assert node["kind"] == "TUITION"
    assert node["displayName"] == "Colegiaturas de Sofía Hernández 2026-2027"
    tuition = node["tuition"]
    assert tuition["student"] == "Sofía Hernández" and tuition["school"] == "Colegio"
    assert tuition["concept"] == "Colegiatura 1 de 3"
    assert tuition["listPrice"]["amount"] == "4200.00"
    assert tuition["scholarship"]["amount"] == "420.00"
    # Paid today, well before the 5th of its month: pronto pago of 5 % after the beca.
    assert tuition["earlyPaymentDiscount"]["amount"] == "189.00"
    assert tuition["surcharge"]["amount"] == "0.00"
    assert tuition["amountDueToday"]["amount"] == "3591.00"


async def test_a_payout_with_no_bank_account_is_refused_in_spanish_and_records_nothing(
    db, runtime, clock
):
    from puente.payments.models import Disbursement

    inst, _, ana, _, tokens = await world(runtime, clock)
    approved = await factories.approved_loan(inst, ana)
    query = """mutation($id: ID!) { approveLoan(loanId: $id, clabe: "012180001234567899",
      beneficiaryName: "Ana Prueba") { ... on PaymentError { code message } } }"""
    async with app_client(runtime, run_workers=False) as client:
        answer = await graphql(
            client, query, {"id": encode_global_id("Loan", approved.id)}, token=tokens["staff"]
        )
    refused = answer["data"]["approveLoan"]
    assert refused["code"] == "PROVIDER_NOT_AVAILABLE"
    assert "cuenta de dispersión" in refused["message"]
    assert await Disbursement.all().count() == 0


async def test_a_loan_tells_its_history_in_the_borrowers_words(db, runtime, clock):
    _, _, _, loans, tokens = await world(runtime, clock)
    paid = await _paid(loans[0], "p-1", "100.00", datetime(2026, 11, 20, 18, tzinfo=UTC))
    query = """query($id: ID!) { node(id: $id) { ... on Loan { activity {
      date kind description amount { amount } installmentNumber paymentId } } } }"""
    async with app_client(runtime) as client:
        answer = await graphql(
            client, query, {"id": encode_global_id("Loan", loans[0].id)}, token=tokens["ana"]
        )
    rows = answer["data"]["node"]["activity"]
    assert rows[0]["kind"] == "DISBURSEMENT" and rows[0]["description"] == "Depósito del crédito"
    assert rows[0]["amount"]["amount"] == "1000.00"
    (payment,) = [row for row in rows if row["kind"] == "PAYMENT"]
    assert payment["amount"]["amount"] == "100.00"
    assert payment["paymentId"] == encode_global_id("Payment", paid.id)
    assert payment["description"].startswith("Pago recibido, aplicado a: ")
    assert "$" in payment["description"] and "MXN" in payment["description"]
    assert payment["installmentNumber"] == 1


async def test_roles_and_circuit_states_are_enums(db, runtime, clock):
    _, _, _, _, tokens = await world(runtime, clock)
    query = """{ viewer { user { role userRole } institution { providerHealth { circuit } } } }"""
    async with app_client(runtime) as client:
        ana = await graphql(client, query, token=tokens["ana"])
        staff = await graphql(client, query, token=tokens["staff"])
    assert ana["data"]["viewer"]["user"] == {"role": "borrower", "userRole": "BORROWER"}
    assert staff["data"]["viewer"]["user"] == {"role": "staff", "userRole": "STAFF"}


async def test_staff_filter_loans_by_delinquency_bucket(db, runtime, clock):
    _, _, _, loans, tokens = await world(runtime, clock)
    query = """query($b: DelinquencyBucket) { viewer { institution {
      loans(filter: {bucket: $b}) { totalCount } } } }"""
    async with app_client(runtime) as client:
        current = await graphql(client, query, {"b": "CURRENT"}, token=tokens["staff"])
        late = await graphql(client, query, {"b": "DPD_90_PLUS"}, token=tokens["staff"])
        clock.now += timedelta(days=150)  # nothing paid: the first installment is 90+ days late
        staff = await login(runtime, clock, "caja@example.mx", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
        later = await graphql(client, query, {"b": "DPD_90_PLUS"}, token=staff)
    count = lambda answer: answer["data"]["viewer"]["institution"]["loans"]["totalCount"]  # noqa: E731
    assert (count(current), count(late)) == (len(loans), 0)
    assert count(later) == len(loans)
