"""Portal sessions: MFA enrolment on every page, CSRF tied to the session, password change,
and the live stream ending with its session (issue 9, #2, #6, #9)."""

from __future__ import annotations

import asyncio

import pytest
from tests.portal.test_payment_pages import StreamClient
from tests.support import factories
from tests.support.http import app_client
from tests.support.portal_pay import csrf_of, login, pay_world

from puente.accounts.service import AuthService
from puente.enums import PaymentMethodType, ProviderName, Role
from puente.payments.checkout import PaymentRequest, create_payment

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"
NEW_PASSWORD = "nueva-contrasena-9"


async def test_every_page_sends_unenrolled_staff_to_enrolment(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=runtime.today())
    await factories.user(runtime, inst, email="caja@example.mx", role=Role.STAFF)
    async with app_client(runtime) as client:
        await login(client, "caja@example.mx")
        pages = [
            "/",
            f"/prestamos/{loan.id}",
            f"/prestamos/{loan.id}/pagar",
            "/pagos",
            "/seguridad/contrasena",
        ]
        answers = {page: await client.get(page) for page in pages}
        stream = await client.get(f"/prestamos/{loan.id}/eventos")
    assert {page: (r.status_code, r.headers.get("location")) for page, r in answers.items()} == {
        page: (303, "/seguridad/mfa") for page in pages
    }
    assert stream.status_code == 403


async def test_a_csrf_token_from_another_session_is_refused(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    await factories.user(runtime, inst, email="beto@example.mx")
    async with app_client(runtime) as victim, app_client(runtime) as attacker:
        await login(victim, "ana@example.mx")
        await login(attacker, "beto@example.mx")
        page = await attacker.get("/")
        token, nonce = csrf_of(page.text), attacker.cookies["puente_csrf"]
        # The attacker plants their own CSRF cookie and token in the victim's browser.
        victim.cookies.set("puente_csrf", nonce)
        forged = await victim.post("/logout", data={"csrf_token": token})
        still_in = await victim.get("/")
        own = await victim.post("/logout", data={"csrf_token": csrf_of(still_in.text)})
    assert forged.status_code == 403
    assert still_in.status_code == 200
    assert own.status_code == 303


async def test_the_password_page_changes_it_and_ends_every_other_session(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    api = await AuthService(runtime).login("ana@example.mx", PASSWORD)
    async with app_client(runtime) as client, app_client(runtime) as other_browser:
        await login(client)
        await login(other_browser)
        page = await client.get("/seguridad/contrasena")
        assert page.status_code == 200 and "Cambiar contraseña" in page.text
        form = {"csrf_token": csrf_of(page.text), "actual": PASSWORD, "nueva": NEW_PASSWORD}
        mismatch = await client.post(
            "/seguridad/contrasena", data={**form, "confirmacion": "otra-cosa-123"}
        )
        changed = await client.post(
            "/seguridad/contrasena", data={**form, "confirmacion": NEW_PASSWORD}
        )
        here = await client.get(changed.headers["location"])
        there = await other_browser.get("/")
    assert mismatch.status_code == 400 and "no coinciden" in mismatch.text
    assert changed.status_code == 303
    assert here.status_code == 200 and "Tu contraseña se cambió" in here.text
    assert there.status_code == 303 and there.headers["location"] == "/login"
    assert await AuthService(runtime).authenticate(api.access_token) is None


async def test_the_live_stream_ends_when_its_session_is_revoked(db, runtime):
    runtime.settings = runtime.settings.with_overrides(session_recheck_seconds=0.1)
    world = await pay_world(runtime)
    spei = PaymentRequest(
        loan_id=world.loan.id,
        amount="100.00",
        method=PaymentMethodType.SPEI,
        provider=ProviderName.STRIPE,
        idempotency_key="sse-1",
    )
    payment = await create_payment(runtime, world.box.gateways, world.ana, spei)
    async with world.client, world.sandbox:
        await login(world.client)
        cookie = world.client.cookies["puente_session"]
    app = world.client._transport.app
    stream = StreamClient(app, f"/prestamos/{world.loan.id}/eventos", f"pago={payment.id}", cookie)
    await stream.until("event: saldo")
    await AuthService(runtime).logout(cookie)  # e.g. "cerrar sesión" in another tab
    await asyncio.wait_for(stream.task, 5)  # the server ended the stream by itself
    assert not runtime.bus._subscribers
