"""Portal: login with CSRF, dashboard balances as Mexicans read them, headers, MFA enrolment."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from tests.support import factories
from tests.support.http import app_client

from puente.enums import Role

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"
ROOT = Path(__file__).resolve().parents[2]


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def login(client, email: str = "ana@example.mx", password: str = PASSWORD):
    page = await client.get("/login")
    return await client.post(
        "/login", data={"csrf_token": csrf_of(page.text), "email": email, "password": password}
    )


async def test_login_page_is_spanish_and_sends_security_headers(db, runtime):
    async with app_client(runtime) as client:
        page = await client.get("/login")
    assert page.status_code == 200
    assert '<html lang="es-MX">' in page.text and "Iniciar sesión" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text  # no inline script anywhere


async def test_login_without_csrf_token_is_refused(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    async with app_client(runtime) as client:
        await client.get("/login")
        response = await client.post(
            "/login", data={"email": "ana@example.mx", "password": PASSWORD}
        )
    assert response.status_code == 403
    assert "puente_session" not in response.cookies


async def test_dashboard_shows_balance_and_next_due_date(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    # Disbursed today: no interest has accrued yet, the first installment is a month away.
    await factories.active_loan(inst, ana, principal="12000.00", start=runtime.today())
    async with app_client(runtime) as client:
        response = await login(client)
        assert response.status_code == 303 and response.headers["location"] == "/"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        page = await client.get("/")
        loan_page = await client.get("/prestamos/1")
    assert page.status_code == 200
    assert '<dd class="money" data-testid="balance">$12,000.00 MXN</dd>' in page.text
    assert 'data-testid="next-due">28 de diciembre de 2026<' in page.text  # 27th is a Sunday
    assert loan_page.status_code == 200 and "$1,240.35 MXN" in loan_page.text


async def test_wrong_password_shows_a_spanish_error(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    async with app_client(runtime) as client:
        response = await login(client, password="incorrecta-123")
    assert response.status_code == 400
    assert "Correo o contraseña incorrectos." in response.text


async def test_logout_ends_the_session(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    async with app_client(runtime) as client:
        await login(client)
        page = await client.get("/")
        response = await client.post("/logout", data={"csrf_token": csrf_of(page.text)})
        assert response.status_code == 303
        after = await client.get("/")
    assert after.status_code == 303 and after.headers["location"] == "/login"


async def test_staff_see_mfa_enrolment_on_first_login(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst, email="caja@example.mx", role=Role.STAFF)
    async with app_client(runtime) as client:
        response = await login(client, email="caja@example.mx")
        assert response.headers["location"] == "/seguridad/mfa"
        dashboard = await client.get("/")
        enrol = await client.get("/seguridad/mfa")
    assert dashboard.headers["location"] == "/seguridad/mfa"
    assert enrol.status_code == 200 and 'src="data:image/svg+xml;charset=utf-8,' in enrol.text


async def test_another_borrowers_loan_page_is_not_found(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    other = await factories.user(runtime, inst, email="otro@example.mx")
    loan = await factories.active_loan(inst, other)
    async with app_client(runtime) as client:
        await login(client)
        page = await client.get(f"/prestamos/{loan.id}")
    assert page.status_code == 404


def test_vendored_htmx_matches_its_recorded_hash():
    vendor = ROOT / "frontend/static/vendor"
    readme = (vendor / "README.md").read_text()
    for name in ("htmx-2.0.11.min.js", "htmx-ext-sse-2.2.4.min.js"):
        digest = hashlib.sha256((vendor / name).read_bytes()).hexdigest()
        assert f"`{name}`" in readme and digest in readme


async def test_paying_ahead_of_the_due_date_lowers_the_balance_by_what_was_paid(db, runtime):
    from decimal import Decimal

    from puente.enums import ProviderName
    from puente.loans.application import apply_payment
    from puente.loans.state import load_loan_views

    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    start = runtime.today().replace(day=2)
    loan = await factories.active_loan(inst, ana, principal="12000.00", start=start)
    (before,) = await load_loan_views([loan], runtime.today())
    await apply_payment(
        loan,
        Decimal("100.00"),
        received_on=runtime.today(),
        provider=ProviderName.STRIPE,
        idempotency_key="early-100",
    )
    (after,) = await load_loan_views([loan], runtime.today())
    # Interest earned so far is owed (never charged in advance), so the balance is the
    # payoff: 12,000 plus 25 days of interest and IVA, and paying 100 takes exactly 100 off.
    assert before.balance.total > Decimal("12000.00")
    assert after.balance.total == before.balance.total - Decimal("100.00")
