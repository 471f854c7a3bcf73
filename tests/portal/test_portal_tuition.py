"""Tuition reads in school words, and every paid payment says how it was applied."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from tests.support import factories
from tests.support.portal_pay import login, pay_world, sandbox_runtime

from puente.enums import InstitutionKind, PaymentMethodType, ProviderName, Role
from puente.enums import PaymentStatus as S
from puente.loans.application import apply_payment
from puente.loans.state import load_loan_views
from puente.money import format_mxn, to_centavos
from puente.payments.checkout import PaymentRequest, create_payment
from puente.tuition.engine import TuitionPlan, monthly_due_dates
from puente.tuition.service import enrol_in_plan

pytestmark = pytest.mark.anyio
TODAY = date(2026, 11, 27)  # the test clock, in Mexico City
LOAN_WORDS = (
    "Capital",
    "Interés",
    "CAT",
    "Comisiones",
    "Monto del crédito",
    "Acreditado",
    "tu crédito",
)


@pytest.fixture
def runtime(database_url, clock):
    return sandbox_runtime(database_url, clock)


async def tuition_world(runtime):
    school = await factories.institution("colegio", InstitutionKind.SCHOOL)
    luis = await factories.user(runtime, school, email="luis@example.mx", role=Role.GUARDIAN)
    sofia = await factories.user(runtime, school, email="sofia@example.mx", role=Role.STUDENT)
    sofia.full_name = "Sofía Prueba"
    await sofia.save(update_fields=["full_name"])
    product = await factories.product(
        school, name="Colegiaturas primaria", kind="tuition", annual_rate=Decimal("0"), vat_rate=0
    )
    plan = TuitionPlan(
        student_id=str(sofia.id),
        payer_id=str(luis.id),
        cycle="2026-2027",
        enrolment_fee=Decimal("3500.00"),
        enrolment_due_date=date(2026, 8, 10),
        monthly_amount=Decimal("4200.00"),
        due_dates=monthly_due_dates(date(2026, 9, 10), 10),
        scholarship_rate=Decimal("0.10"),
        early_discount_rate=Decimal("0.05"),
        early_discount_day=5,
        surcharge_amount=Decimal("250.00"),
        surcharge_grace_days=5,
    )
    loan = await enrol_in_plan(plan, product=product, payer_id=luis.id, student_id=sofia.id)
    return loan


def visible_text(html: str) -> str:
    """What a reader sees: the main content, tags and attributes stripped."""
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r"<[^>]+>", " ", main.split(">", 1)[1])


async def test_the_tuition_page_speaks_school_words_and_offers_today_first(db, runtime):
    loan = await tuition_world(runtime)
    (view,) = await load_loan_views([loan], TODAY)
    async with factories_client(runtime) as client:
        await login(client, "luis@example.mx")
        page = (await client.get(f"/prestamos/{loan.id}")).text
        dashboard = (await client.get("/")).text
    text = visible_text(page)
    assert "Sofía Prueba" in text and "Colegiatura de noviembre" in text
    assert "Inscripción" in text and "Beca" in text and "Descuento por pronto pago" in text
    assert "Recargo" in text
    for word in LOAN_WORDS:
        assert word not in text, word
    assert "CAT" not in page.split("<footer", 1)[1]
    # The amount due today comes first, before any table.
    due = f'data-testid="next-payment">{format_mxn(view.next_payment_due)}<'
    assert due in page and page.index(due) < page.index("<table")
    assert 'data-testid="tuition-calendar"' in page and "Noviembre: vencido" in page
    assert (
        "Colegiaturas de Sofía Prueba" in dashboard and 'data-testid="card-pay-link"' in dashboard
    )


async def test_a_tuition_receipt_names_the_colegiatura_and_the_student(db, runtime):
    loan = await tuition_world(runtime)
    (view,) = await load_loan_views([loan], TODAY)
    amount = view.next_payment_due
    payment = await factories.payment(
        loan,
        key="colegiatura-1",
        amount_centavos=to_centavos(amount),
        status=S.PAID,
        method=PaymentMethodType.CARD,
    )
    await apply_payment(
        loan,
        amount,
        received_on=TODAY,
        provider=ProviderName.STRIPE,
        payment_id=payment.id,
        idempotency_key="colegiatura-1",
    )
    async with factories_client(runtime) as client:
        await login(client, "luis@example.mx")
        page = (await client.get(f"/pagos/{payment.id}/comprobante")).text
    text = visible_text(page)
    assert "Alumno" in text and "Sofía Prueba" in text
    assert "Colegiatura" in text and "Cómo se aplicó tu pago" in text
    for word in LOAN_WORDS:
        assert word not in text, word
    assert "CAT" not in page.split("<footer", 1)[1]


async def test_the_payment_page_and_receipt_show_the_application_and_the_new_balance(db, runtime):
    world = await pay_world(runtime)
    paid = PaymentRequest(
        loan_id=world.loan.id,
        amount=Decimal("1240.35"),
        method=PaymentMethodType.CARD,
        provider=ProviderName.STRIPE,
        idempotency_key="aplicado-1",
        card_token="tok_visa",
    )
    payment = await create_payment(runtime, world.box.gateways, world.ana, paid)
    assert payment.status == S.PAID
    (view,) = await load_loan_views([world.loan], runtime.today())
    first = view.installments[0]
    async with world.client, world.sandbox:
        await login(world.client)
        status = (await world.client.get(f"/pagos/{payment.id}")).text
        receipt = (await world.client.get(f"/pagos/{payment.id}/comprobante")).text
    for page in (status, receipt):
        row = page.split('data-testid="applied-1"')[1].split("</tr>")[0]
        for amount in (first.interest, first.vat, first.principal, Decimal("1240.35")):
            assert format_mxn(amount) in row
    # The new balance: on the receipt with the application, on the payment page live below it.
    assert f'data-testid="balance-after">{format_mxn(view.balance.total)}<' in receipt
    assert f'data-testid="live-balance">{format_mxn(view.balance.total)}<' in status


def factories_client(runtime):
    from tests.support.http import app_client

    return app_client(runtime)


async def test_the_tuition_pay_form_offers_colegiaturas_not_loan_terms(db, runtime):
    loan = await tuition_world(runtime)
    async with factories_client(runtime) as client:
        await login(client, "luis@example.mx")
        page = (await client.get(f"/prestamos/{loan.id}/pagar")).text
    text = visible_text(page)
    assert "A pagar hoy" in text and "(inscripción, vence el 10 de agosto de 2026)" in text
    assert "Todo el ciclo hoy" in text
    for word in (*LOAN_WORDS, "intereses", "Reducir el plazo", "Liquidar"):
        assert word not in text, word
