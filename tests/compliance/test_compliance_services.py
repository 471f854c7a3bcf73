"""Onboarding, screening, suspension, monitoring and the officer's cases, on both databases."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from tests.compliance.support import BLOCKED_LIST, DOCUMENTS, FORM, PDF
from tests.support import factories

from puente.audit.models import AuditEvent
from puente.compliance import monitoring_service
from puente.compliance.cases import CaseError, dismiss_case, lift_suspension, report_case
from puente.compliance.models import (
    AmlAlert,
    AmlCase,
    CustomerSuspension,
    KycDocument,
    LoanApplication,
    WatchlistEntry,
)
from puente.compliance.monitoring_service import drain_monitoring, store_fix_rates
from puente.compliance.onboarding import ApplicationInvalid
from puente.compliance.onboarding_service import (
    OnboardingRefused,
    UploadedDocument,
    document_bytes,
    read_document,
    review_application,
    submit_application,
)
from puente.compliance.screening_service import load_watchlists
from puente.compliance.watchlist_file import WatchlistFileError
from puente.enums import LoanStatus, PaymentMethodType, ProviderName, Role
from puente.enums import PaymentStatus as S
from puente.loans.models import Loan
from puente.payments.checkout import PaymentRefused, PaymentRequest, validate_payment_request
from puente.payments.models import Payment
from puente.payments.outcomes import advance_and_notify

pytestmark = pytest.mark.anyio


async def world(runtime):
    inst = await factories.institution()
    juana = await factories.user(runtime, inst, email="juana@example.mx")
    staff, _ = await factories.enrolled_staff(runtime, inst)
    admin, _ = await factories.enrolled_staff(
        runtime, inst, email="admin@example.mx", role=Role.ADMIN
    )
    product = await factories.product(inst)
    return inst, juana, staff, admin, product


async def apply(runtime, user, product, **changes):
    return await submit_application(
        runtime, user, product_id=product.id, form={**FORM, **changes}, documents=DOCUMENTS
    )


async def test_an_application_is_stored_encrypted_graded_and_audited(db, runtime):
    inst, juana, staff, admin, product = await world(runtime)
    application = await apply(runtime, juana, product)
    assert application.status == "submitted" and application.risk_grade == "low"
    assert (
        "PEMJ900515" not in application.data_enc
        and "012180001234567899" not in application.data_enc
    )
    assert application.clabe_last4 == "7899" and application.requested_centavos == 12000_00
    documents = await KycDocument.filter(application_id=application.id).order_by("kind")
    assert [d.kind for d in documents] == ["comprobante_domicilio", "identificacion"]
    assert all(b"%PDF" not in d.content_enc.encode() for d in documents)
    assert document_bytes(runtime, documents[1]) == PDF
    event = await AuditEvent.get(action="kyc.application_submitted")
    assert "PEMJ" not in str(event.data) and event.data["risk"] == "low"


async def test_bad_input_is_refused_field_by_field_and_nothing_is_stored(db, runtime):
    inst, juana, staff, admin, product = await world(runtime)
    with pytest.raises(ApplicationInvalid) as caught:
        await submit_application(
            runtime,
            juana,
            product_id=product.id,
            form={**FORM, "curp": "PEMJ900515MJCRRN08", "clabe": "123"},
            documents={"id_document": UploadedDocument("application/pdf", b"MZ not a pdf")},
        )
    assert {"curp", "clabe", "id_document", "proof_of_address"} <= set(caught.value.errors)
    assert await LoanApplication.all().count() == 0
    assert await KycDocument.all().count() == 0
    assert not await AuditEvent.filter(action="kyc.application_submitted").exists()


async def test_documents_are_never_served_to_another_user(db, runtime):
    inst, juana, staff, admin, product = await world(runtime)
    application = await apply(runtime, juana, product)
    document = await KycDocument.filter(application_id=application.id).first()
    luis = await factories.user(runtime, inst, email="luis@example.mx")
    other_inst = await factories.institution("otra")
    outsider, _ = await factories.enrolled_staff(runtime, other_inst, email="staff@otra.mx")
    assert await read_document(juana, runtime, document.id) is not None
    assert await read_document(staff, runtime, document.id) is not None
    assert await read_document(luis, runtime, document.id) is None
    assert await read_document(outsider, runtime, document.id) is None
    assert await AuditEvent.filter(action="kyc.document_viewed", actor_id=staff.id).count() == 1


async def test_staff_approval_originates_the_loan_that_approve_loan_pays_out(db, runtime):
    inst, juana, staff, admin, product = await world(runtime)
    application = await apply(runtime, juana, product)
    approved = await review_application(runtime, staff, application.id, approve=True, note="ok")
    loan = await Loan.get(id=approved.loan_id)
    assert approved.status == "approved" and loan.status == LoanStatus.APPLICATION
    assert loan.borrower_id == juana.id and loan.principal_centavos == 12000_00
    assert loan.term_count == 12
    with pytest.raises(OnboardingRefused, match="ya fue resuelta"):
        await review_application(runtime, admin, application.id, approve=True)
    assert await Loan.all().count() == 1


async def test_a_borrower_cannot_review_and_a_high_risk_file_needs_an_admin(db, runtime):
    inst, juana, staff, admin, product = await world(runtime)
    application = await apply(
        runtime, juana, product, nationality="US", own_account="no", beneficial_owner="Pedro Pérez"
    )
    assert application.risk_grade == "high"
    with pytest.raises(OnboardingRefused) as refused:
        await review_application(runtime, juana, application.id, approve=True)
    assert refused.value.code == "APPLICATION_NOT_FOUND"
    with pytest.raises(OnboardingRefused) as refused:
        await review_application(runtime, staff, application.id, approve=True)
    assert refused.value.code == "HIGH_RISK_NEEDS_ADMIN"
    assert (await review_application(runtime, admin, application.id, approve=True)).loan_id


async def test_a_blocked_list_hit_suspends_payments_and_payouts_and_opens_a_24_hour_case(
    db, runtime
):
    inst, juana, staff, admin, product = await world(runtime)
    loan = await factories.active_loan(inst, juana)
    await apply(runtime, juana, product)
    assert not await CustomerSuspension.exists()
    counts = await load_watchlists(runtime, BLOCKED_LIST, source="uif-2026-11.csv")
    assert counts == {"bloqueadas": 1, "pep": 1}
    suspension = await CustomerSuspension.get(customer_id=juana.id)
    case = await AmlCase.get(id=suspension.case_id)
    assert case.report_kind == "24h" and case.due_at == runtime.now() + timedelta(hours=24)
    alert = await AmlAlert.get(case_id=case.id)
    assert alert.rule == "LISTA_PERSONAS_BLOQUEADAS" and alert.evidence["entry_id"] == "UIF-77"
    request = PaymentRequest(
        loan_id=loan.id,
        amount="100.00",
        method=PaymentMethodType.CARD,
        provider=ProviderName.STRIPE,
        idempotency_key="k",
        card_token="tok_visa",
    )
    with pytest.raises(PaymentRefused) as refused:
        await validate_payment_request(juana, request, runtime)
    assert refused.value.code == "CUSTOMER_SUSPENDED"
    # Loading the list again raises nothing new (one alert per hit).
    await load_watchlists(runtime, BLOCKED_LIST, source="again")
    assert await AmlAlert.filter(rule="LISTA_PERSONAS_BLOQUEADAS").count() == 1
    # The officer lifts it (a false positive) with a reason, audited; payments flow again.
    with pytest.raises(CaseError):
        await lift_suspension(staff, juana.id, "no", at=runtime.now())
    assert await lift_suspension(staff, juana.id, "Homónimo: CURP distinta", at=runtime.now())
    await validate_payment_request(juana, request, runtime)
    assert await AuditEvent.filter(action="aml.suspension_lifted").exists()


async def test_a_malformed_list_file_changes_nothing(db, runtime):
    await world(runtime)
    await load_watchlists(runtime, BLOCKED_LIST, source="ok")
    bad = BLOCKED_LIST + "bloqueadas,UIF-78,ALGUIEN,,,,15/05/1990\n"
    with pytest.raises(WatchlistFileError, match="línea 4"):
        await load_watchlists(runtime, bad, source="bad")
    assert await WatchlistEntry.all().count() == 2


async def cash_payment(runtime, loan, user, amount: str, at) -> Payment:
    payment = await Payment.create(
        institution_id=loan.institution_id,
        loan_id=loan.id,
        user_id=user.id,
        provider=ProviderName.CONEKTA,
        method=PaymentMethodType.CASH,
        amount_centavos=int(Decimal(amount) * 100),
        idempotency_key=f"cash-{amount}-{at.isoformat()}",
        request_fingerprint="x",
    )
    await advance_and_notify(runtime, payment.id, S.PAID, source="test", at=at)
    return payment


async def test_structuring_in_one_day_raises_an_alert_as_payments_land(db, runtime, clock):
    inst, juana, staff, admin, product = await world(runtime)
    loan = await factories.active_loan(inst, juana, principal="500000.00")
    await store_fix_rates({date(2026, 11, 2): Decimal("20.0000")})
    first = await cash_payment(runtime, loan, juana, "70000.00", runtime.now())
    await drain_monitoring()
    assert not await AmlAlert.exists()
    clock.now += timedelta(hours=5)
    second = await cash_payment(runtime, loan, juana, "80000.00", runtime.now())
    await drain_monitoring()
    alert = await AmlAlert.get(rule="STRUCTURING_DAY")
    assert alert.payment_ids == [first.id, second.id]
    case = await AmlCase.get(id=alert.case_id)
    assert case.report_kind == "inusual" and case.due_at == alert.created_at + timedelta(days=60)
    # The officer works it: a reason is required, then it is reported and audited.
    with pytest.raises(CaseError):
        await dismiss_case(staff, case.id, "", at=runtime.now())
    reported = await report_case(
        staff, case.id, "Fraccionamiento evidente", at=runtime.now(), report_file="x.csv"
    )
    assert reported.status == "reported" and reported.report_file == "x.csv"
    assert await AuditEvent.filter(action="aml.case_reported", actor_id=staff.id).exists()


async def test_monitoring_that_fails_never_fails_the_payment(db, runtime, monkeypatch):
    inst, juana, staff, admin, product = await world(runtime)
    loan = await factories.active_loan(inst, juana)

    async def broken(runtime, payment_ids):
        raise RuntimeError("monitoring down")

    monkeypatch.setattr(monitoring_service, "monitor_payments", broken)
    payment = await cash_payment(runtime, loan, juana, "500.00", runtime.now())
    await drain_monitoring()
    assert (await Payment.get(id=payment.id)).status == S.PAID


async def test_a_payout_is_screened_first_and_a_third_party_clabe_raises_an_alert(db, runtime):
    from tests.support.gateways import sandboxes

    from puente.payments.disbursements import approve_and_disburse
    from puente.payments.gateways import store_credentials
    from puente_sandbox.stp_keys import DEFAULT_STP_CREDENTIALS

    stp = {**DEFAULT_STP_CREDENTIALS, "webhook_allowlist": "127.0.0.1/32"}
    inst, juana, staff, admin, product = await world(runtime)
    await store_credentials(runtime, inst.id, "stp", stp)
    box = sandboxes(runtime, {"stp": stp})
    application = await apply(runtime, juana, product)
    approved = await review_application(runtime, staff, application.id, approve=True)
    # Paid out to a CLABE that is not the declared one: it goes, and the officer is told.
    other_clabe = "002010077777777771"
    sent = await approve_and_disburse(
        runtime, box.gateways, staff, approved.loan_id, clabe=other_clabe, beneficiary_name="Juana"
    )
    assert sent.clabe_last4 == "7771"
    alert = await AmlAlert.get(rule="DISBURSEMENT_THIRD_PARTY_CLABE")
    assert alert.customer_id == juana.id and "7771" not in str(alert.evidence)
    # Once the list names her, the next payout is refused before anything moves.
    second = await apply_and_approve(runtime, juana, product, staff)
    await load_watchlists(runtime, BLOCKED_LIST, source="uif")
    with pytest.raises(PaymentRefused) as refused:
        await approve_and_disburse(
            runtime, box.gateways, staff, second, clabe=FORM["clabe"], beneficiary_name="Juana"
        )
    assert refused.value.code == "CUSTOMER_SUSPENDED"
    assert (await Loan.get(id=second)).status == LoanStatus.APPLICATION


async def apply_and_approve(runtime, user, product, staff) -> int:
    application = await apply(runtime, user, product)
    return (await review_application(runtime, staff, application.id, approve=True)).loan_id


async def test_quarterly_relevant_operations_and_a_case_report_in_the_configured_layout(
    db, runtime, clock
):
    from puente.compliance.reports import file_case_report, relevant_operations_report

    inst, juana, staff, admin, product = await world(runtime)
    inst.settings = {"aml": {"relevant_report_columns": ["folio", "monto_mxn", "rfc", "pago"]}}
    await inst.save()
    await apply(runtime, juana, product)
    loan = await factories.active_loan(inst, juana, principal="900000.00")
    await store_fix_rates({date(2026, 11, 2): Decimal("20.0000")})
    big = await cash_payment(runtime, loan, juana, "150000.00", runtime.now())
    await drain_monitoring()
    clock.now += timedelta(hours=1)
    await cash_payment(runtime, loan, juana, "70000.00", runtime.now())
    await drain_monitoring()
    clock.now += timedelta(hours=1)
    small = await cash_payment(runtime, loan, juana, "80000.00", runtime.now())
    await drain_monitoring()
    report = await relevant_operations_report(runtime, inst.id, 2026, 4)
    assert report.rows == 1 and report.filename == f"relevantes-{inst.id}-2026Q4.txt"
    assert report.text.splitlines() == [
        "folio|monto_mxn|rfc|pago",
        f"REL-2026Q4-00001|150000.00|PEMJ900515AB7|{big.id}",
    ]
    assert (await relevant_operations_report(runtime, inst.id, 2026, 3)).rows == 0
    # Two payments under the threshold within 24 h add up to it: an unusual case, reported.
    alert = await AmlAlert.get(rule="STRUCTURING_DAY")
    assert small.id in alert.payment_ids
    filed = await file_case_report(runtime, staff, alert.case_id, "Fraccionamiento en 24 horas")
    header, line = filed.text.splitlines()
    assert header.split("|")[:3] == ["folio", "caso", "tipo_reporte"]
    assert "STRUCTURING_DAY" in line and "Fraccionamiento en 24 horas" in line
    case = await AmlCase.get(id=alert.case_id)
    assert case.status == "reported" and case.report_file == filed.filename


def test_a_layout_naming_an_unknown_column_is_refused():
    from puente.compliance.policy import PolicyError, policy_from_settings

    with pytest.raises(PolicyError, match="columnas desconocidas"):
        policy_from_settings({"aml": {"unusual_report_columns": ["folio", "saldo"]}})


async def test_structuring_across_customers_linked_by_a_payer_raises_one_alert(db, runtime, clock):
    inst, juana, staff, admin, product = await world(runtime)
    pedro = await factories.user(runtime, inst, email="pedro@example.mx")
    loan_juana = await factories.active_loan(inst, juana, principal="500000.00")
    loan_pedro = await factories.active_loan(inst, pedro, principal="500000.00")
    await store_fix_rates({date(2026, 11, 2): Decimal("20.0000")})
    # Juana paid one of Pedro's installments: the same payer links them.
    await cash_payment(runtime, loan_pedro, juana, "1000.00", runtime.now() - timedelta(days=5))
    first = await cash_payment(runtime, loan_juana, juana, "70000.00", runtime.now())
    await drain_monitoring()
    clock.now += timedelta(hours=5)
    second = await cash_payment(runtime, loan_pedro, pedro, "80000.00", runtime.now())
    await drain_monitoring()
    alert = await AmlAlert.get(rule="STRUCTURING_LINKED")
    assert {first.id, second.id} <= set(alert.payment_ids)
    assert alert.customer_id == pedro.id
    assert not await AmlAlert.filter(rule="STRUCTURING_DAY").exists()  # neither alone


async def test_the_officer_lifts_a_suspension_over_graphql_with_a_reason(db, runtime):
    from tests.support.http import app_client, graphql

    from puente.accounts.service import AuthService
    from puente.graphql.types import encode_global_id

    inst, juana, staff, admin, product = await world(runtime)
    await apply(runtime, juana, product)
    await load_watchlists(runtime, BLOCKED_LIST, source="uif")
    assert await CustomerSuspension.filter(customer_id=juana.id, lifted_at__isnull=True).exists()
    lift = """mutation($c: ID!, $r: String!) { liftSuspension(customerId: $c, reason: $r) {
      __typename ... on SuspensionLifted { lifted } ... on ComplianceError { code } } }"""
    customer = encode_global_id("User", juana.id)
    import pyotp

    auth = AuthService(runtime)
    tokens = await auth.login(
        "caja@example.mx",
        "contrasena-segura-1",
        pyotp.TOTP("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").at(runtime.now()),
    )
    juana_tokens = await auth.login("juana@example.mx", "contrasena-segura-1", None)
    async with app_client(runtime) as client:
        by_borrower = await graphql(
            client, lift, {"c": customer, "r": "no soy yo, es homónimo"}, juana_tokens.access_token
        )
        short = await graphql(client, lift, {"c": customer, "r": "no"}, tokens.access_token)
        done = await graphql(
            client, lift, {"c": customer, "r": "Homónimo: CURP distinta"}, tokens.access_token
        )
    assert by_borrower["data"]["liftSuspension"]["code"] == "CASE_NOT_FOUND"
    assert short["data"]["liftSuspension"]["code"] == "REASON_REQUIRED"
    assert done["data"]["liftSuspension"] == {"__typename": "SuspensionLifted", "lifted": True}
    suspension = await CustomerSuspension.get(customer_id=juana.id)
    assert suspension.lift_reason == "Homónimo: CURP distinta"
    assert suspension.lifted_by_id == staff.id
    assert await AuditEvent.filter(action="aml.suspension_lifted").exists()


async def test_payments_announced_together_are_monitored_together_each_on_its_own_facts(
    db, runtime, clock, monkeypatch
):
    from puente.payments.observers import announce_transitions, holding_announcements

    inst, juana, staff, admin, product = await world(runtime)
    await store_fix_rates({date(2026, 11, 2): Decimal("20.0000")})
    people = [juana] + [
        await factories.user(runtime, inst, email=f"p{k}@example.mx") for k in range(2)
    ]
    loans = [await factories.active_loan(inst, who, principal="500000.00") for who in people]
    batches: list[list[int]] = []
    real = monitoring_service.monitor_payments

    async def spy(runtime, payment_ids):
        batches.append(list(payment_ids))
        return await real(runtime, payment_ids)

    monkeypatch.setattr(monitoring_service, "monitor_payments", spy)
    made: dict[int, list[int]] = {}
    with holding_announcements() as held:
        # Two borrowers split 150,000 in cash over one day; the third pays 500 once.
        for loan, who, amounts in zip(
            loans,
            people,
            (("70000.00", "80000.00"), ("500.00",), ("90000.00", "60000.00")),
            strict=True,
        ):
            for amount in amounts:
                clock.now += timedelta(minutes=30)
                paid = await cash_payment(runtime, loan, who, amount, runtime.now())
                made.setdefault(loan.id, []).append(paid.id)
        assert batches == [] and len(held) == 5  # nothing monitored while held
        announce_transitions(held)
    await drain_monitoring()
    assert batches == [[i for ids in made.values() for i in ids]]  # one batch, all five
    alerts = {a.customer_id: a for a in await AmlAlert.filter(rule="STRUCTURING_DAY")}
    assert set(alerts) == {people[0].id, people[2].id}
    assert alerts[people[0].id].payment_ids == made[loans[0].id]
    assert alerts[people[2].id].payment_ids == made[loans[2].id]
