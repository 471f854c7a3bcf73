"""The staff console's doors: who gets in, the confirmation step, and the actions' effects."""

from __future__ import annotations

import re
from datetime import date

import pyotp
import pytest
from starlette.routing import Route
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes
from tests.support.http import app_client
from tests.support.portal_pay import PASSWORD, csrf_of, hidden_fields

from puente.audit.models import AuditEvent
from puente.enums import PaymentMethodType, ProviderName, Role
from puente.enums import PaymentStatus as S
from puente.enums import ProviderEventStatus as E
from puente.payments.checkout import PaymentRequest, create_payment
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment
from puente.portal.routes import portal_routes
from puente.webhooks.models import ProviderEvent

pytestmark = pytest.mark.anyio


def console_paths(runtime, loan_id: int) -> list[tuple[str, str]]:
    """Every /consola route (method, a concrete path) from the route table itself."""
    found = []
    for route in portal_routes(runtime):
        if isinstance(route, Route) and route.path.startswith("/consola"):
            path = re.sub(r"\{\w+:int\}", str(loan_id), route.path)
            found += [(m, path) for m in sorted((route.methods or set()) - {"HEAD"})]
    return found


async def sign_in(client, runtime, email: str, secret: str | None = None) -> None:
    page = await client.get("/login")
    data = {"csrf_token": csrf_of(page.text), "email": email, "password": PASSWORD}
    if secret:
        data["otp"] = pyotp.TOTP(secret).at(runtime.now())
    answer = await client.post("/login", data=data)
    assert answer.status_code == 303, answer.text


async def world(runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    caja, secret = await factories.enrolled_staff(runtime, inst)
    return inst, ana, loan, caja, secret


def test_the_console_has_every_page_the_issue_asks_for(runtime):
    paths = {p for _, p in console_paths(runtime, 1)}
    assert {"/consola", "/consola/eventos", "/consola/colas", "/consola/salud"} <= paths
    assert {"/consola/buscar", "/consola/graficas", "/consola/creditos/1"} <= paths


async def test_staff_without_mfa_see_only_the_enrolment_page_on_every_console_route(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    await factories.user(runtime, inst, email="nuevo@example.mx", role=Role.STAFF)
    async with app_client(runtime) as client:
        await sign_in(client, runtime, "nuevo@example.mx")
        page = await client.get("/consola")
        token = csrf_of((await client.get("/seguridad/mfa")).text)
        answers = {
            (m, p): await client.request(m, p, data={"csrf_token": token})
            for m, p in console_paths(runtime, loan.id)
        }
    assert page.headers["location"] == "/seguridad/mfa"
    assert answers.pop(("GET", "/consola/eventos")).status_code == 403  # a stream: no redirect
    assert {k: (r.status_code, r.headers.get("location")) for k, r in answers.items()} == {
        k: (303, "/seguridad/mfa") for k in answers
    }
    assert await Payment.all().count() == 0


async def test_a_borrower_finds_no_console(db, runtime):
    _, _, loan, _, _ = await world(runtime)
    async with app_client(runtime) as client:
        await sign_in(client, runtime, "ana@example.mx")
        answers = {
            p: (await client.get(p)).status_code
            for m, p in console_paths(runtime, loan.id)
            if m == "GET"
        }
    assert set(answers.values()) == {404}


async def test_a_cashier_opens_every_console_page(db, runtime):
    _, _, loan, _, secret = await world(runtime)
    async with app_client(runtime) as client:
        await sign_in(client, runtime, "caja@example.mx", secret)
        pages = [
            "/consola",
            "/consola/colas",
            "/consola/salud",
            "/consola/graficas",
            "/consola/buscar?q=Ana",
            f"/consola/creditos/{loan.id}",
        ]
        answers = {p: await client.get(p) for p in pages}
    assert {p: r.status_code for p, r in answers.items()} == dict.fromkeys(pages, 200)
    assert "Ana Prueba" in answers["/consola/buscar?q=Ana"].text
    assert answers["/consola/graficas"].text.count("<svg") == 4
    # A cashier is offered the cash form, not the administrator's write-off or restructure.
    loan_page = answers[f"/consola/creditos/{loan.id}"].text
    assert "/efectivo" in loan_page and "/reestructurar" not in loan_page


async def test_admin_only_actions_are_not_found_for_a_cashier_and_change_nothing(db, runtime):
    _, _, loan, _, secret = await world(runtime)
    async with app_client(runtime) as client:
        await sign_in(client, runtime, "caja@example.mx", secret)
        token = csrf_of((await client.get(f"/consola/creditos/{loan.id}")).text)
        answers = [
            await client.post(
                f"/consola/creditos/{loan.id}/{action}",
                data={
                    "csrf_token": token,
                    "confirmado": "1",
                    "motivo": "x",
                    "pagos": "6",
                    "clabe": "002010077777777771",
                    "beneficiario": "Ana",
                },
            )
            for action in ("castigar", "reestructurar", "dispersar")
        ]
    assert [a.status_code for a in answers] == [404, 404, 404]
    await loan.refresh_from_db()
    assert loan.status.value == "active"


async def test_cash_at_the_branch_is_confirmed_then_paid_through_the_funnel_once(db, runtime):
    _, _, loan, caja, secret = await world(runtime)
    async with app_client(runtime) as client:
        await sign_in(client, runtime, "caja@example.mx", secret)
        page = await client.get(f"/consola/creditos/{loan.id}")
        form = {k: v for k, v in hidden_fields(page.text).items() if k in ("csrf_token", "clave")}
        confirm = await client.post(
            f"/consola/creditos/{loan.id}/efectivo", data={**form, "monto": "500"}
        )
        assert await Payment.all().count() == 0  # shown, not done
        fields = hidden_fields(confirm.text)
        done = await client.post(f"/consola/creditos/{loan.id}/efectivo", data=fields)
        again = await client.post(f"/consola/creditos/{loan.id}/efectivo", data=fields)
        bad = await client.post(
            f"/consola/creditos/{loan.id}/efectivo", data={**form, "monto": "-3"}
        )
        forged = await client.post(
            f"/consola/creditos/{loan.id}/efectivo", data={**fields, "csrf_token": "x"}
        )
    assert "$500.00" in confirm.text and 'name="confirmado" value="1"' in confirm.text
    assert done.status_code == 303 and again.status_code == 303
    (payment,) = await Payment.all()
    assert payment.status is S.PAID and payment.amount_centavos == 50000
    assert payment.method is PaymentMethodType.CASH
    assert await AuditEvent.filter(action="payment.cash_recorded", actor_id=caja.id).count() == 1
    assert bad.status_code == 400 and "Monto inválido" in bad.text
    assert forged.status_code == 403


async def test_a_cashier_refunds_part_of_a_card_payment_after_confirming(db, runtime):
    inst, ana, loan, caja, secret = await world(runtime)
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    box = sandboxes(runtime)
    paid = await create_payment(
        runtime,
        box.gateways,
        ana,
        PaymentRequest(
            loan_id=loan.id,
            amount="1000.00",
            method=PaymentMethodType.CARD,
            provider=ProviderName.STRIPE,
            idempotency_key="k-1",
            card_token="tok_visa",
        ),
    )
    async with app_client(runtime, gateways=box.gateways) as client:
        await sign_in(client, runtime, "caja@example.mx", secret)
        page = await client.get(f"/consola/creditos/{loan.id}")
        token = csrf_of(page.text)
        url = f"/consola/pagos/{paid.id}/reembolso"
        too_much = await client.post(
            url, data={"csrf_token": token, "monto": "2000", "credito": loan.id}
        )
        confirm = await client.post(
            url, data={"csrf_token": token, "monto": "250", "credito": loan.id}
        )
        done = await client.post(url, data=hidden_fields(confirm.text))
    assert too_much.status_code == 400 and "a lo más" in too_much.text
    assert "Reembolso parcial" in confirm.text and "$250.00" in confirm.text
    assert done.status_code == 303 and done.headers["location"].endswith("hecho=reembolso")
    await paid.refresh_from_db()
    assert paid.status is S.PARTIALLY_REFUNDED and paid.refunded_centavos == 25000
    assert await AuditEvent.filter(action="payment.refund_requested", actor_id=caja.id).count() == 1


async def test_replaying_a_dead_event_of_another_institution_is_not_found(db, runtime):
    _, _, loan, _, secret = await world(runtime)
    other = await factories.institution("otra")
    event = await ProviderEvent.create(
        provider="stripe",
        event_id="evt_1",
        event_type="x",
        institution_id=other.id,
        raw_body="{}",
        status=E.DEAD,
    )
    async with app_client(runtime) as client:
        await sign_in(client, runtime, "caja@example.mx", secret)
        token = csrf_of((await client.get("/consola/colas")).text)
        answer = await client.post(
            f"/consola/webhooks/{event.id}/reintentar", data={"csrf_token": token}
        )
    assert answer.status_code == 400 and "no existe" in answer.text
    await event.refresh_from_db()
    assert event.status is E.DEAD


async def test_staff_of_another_institution_find_no_loan_of_ours(db, runtime):
    _, _, loan, _, _ = await world(runtime)
    other = await factories.institution("otra")
    await factories.enrolled_staff(runtime, other, email="caja@otra.mx")
    async with app_client(runtime) as client:
        await sign_in(client, runtime, "caja@otra.mx", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
        page = await client.get(f"/consola/creditos/{loan.id}")
        found = await client.get("/consola/buscar", params={"q": "Ana"})
    assert page.status_code == 404
    assert "Ana Prueba" not in found.text
