"""A cashier runs the console in a real browser, against a real `puente demo` server.

Carmen (caja@demo.puente.mx) enrols her authenticator on first access and logs in again with
a TOTP code; Ana pays by card in another browser while Carmen's live feed is open, and the
payment appears there without a reload (SSE from the institution's channel). Carmen refunds
part of it (with the confirmation step), replays the demo's dead-lettered webhook event, and
resolves the demo's reconciliation exception. Screenshots go to test-artifacts/console/.

Drives Debian's Chromium (/usr/bin/chromium); skipped without it unless PUENTE_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest
from tests.e2e.test_pay_in_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WAIT_MS,
    _need_browser,
    _pay_by_card,
)
from tests.e2e.test_portal_walkthrough import ARTIFACTS as WALK_ARTIFACTS
from tests.e2e.test_portal_walkthrough import Walk

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
CAJA = ("caja@demo.puente.mx", "caja-demo-2026")


@pytest.fixture(autouse=True)
def _browser_available() -> None:
    _need_browser()


# Every console page is also checked like the borrower's pages: no sideways scrolling and no
# serious or critical axe-core finding (``test_portal_walkthrough.Walk``).
WALK = Walk("caja", 1280)


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    WALK.check(page, f"consola-{name}")


def _fresh_code(secret: str) -> str:
    """A code of a TOTP step not used yet (each step is accepted once: replay guard)."""
    totp = pyotp.TOTP(secret)
    step = int(time.time()) // 30
    while int(time.time()) // 30 == step:
        time.sleep(0.5)
    return totp.now()


def test_a_cashier_sees_a_payment_arrive_refunds_it_replays_and_resolves(demo_server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    WALK_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    WALK.problems.clear()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            caja = browser.new_context(locale="es-MX", viewport={"width": 1280, "height": 900})
            caja.set_default_timeout(WAIT_MS)
            page = caja.new_page()
            _sign_in_with_totp(page, demo_server)

            page.goto(f"{demo_server}/consola")
            expect(page.locator('[data-testid="feed"]')).to_be_visible()
            seen = set(
                page.locator(".feed-item[data-payment]").evaluate_all(
                    "items => items.map(i => i.dataset.payment)"
                )
            )
            page.evaluate("window.sinRecargar = true")
            _shot(page, "1-feed")

            ana = browser.new_context(locale="es-MX", viewport={"width": 420, "height": 900})
            ana.set_default_timeout(WAIT_MS)
            _pay_by_card(ana.new_page(), demo_server)  # the borrower's own walk, as tested there

            page.wait_for_function(
                "seen => [...document.querySelectorAll('.feed-item[data-payment]')]"
                ".some(i => !seen.includes(i.dataset.payment) && i.textContent.includes('Pagado'))",
                arg=sorted(seen),
            )
            assert page.evaluate("window.sinRecargar === true"), "the feed page reloaded"
            payment_id = page.evaluate(
                "seen => [...document.querySelectorAll('.feed-item[data-payment]')]"
                ".find(i => !seen.includes(i.dataset.payment)).dataset.payment",
                sorted(seen),
            )
            arrived = page.locator(f".feed-item[data-payment='{payment_id}']")
            expect(arrived).to_contain_text("Tarjeta")
            _shot(page, "2-payment-arrived")

            _refund_part(page, payment_id)
            _replay_dead_event(page, demo_server)
            _resolve_exception(page)
            for name, path in (("9-charts", "/consola/graficas"), ("10-health", "/consola/salud")):
                page.goto(f"{demo_server}{path}")
                expect(page.locator("h1")).to_be_visible()
                _shot(page, name)
        finally:
            browser.close()
    assert not WALK.problems, "\n".join(WALK.problems)


def _sign_in_with_totp(page, base: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/login")
    page.fill('input[name="email"]', CAJA[0])
    page.fill('input[name="password"]', CAJA[1])
    page.click('button[type="submit"]')
    # First access: staff enrol an authenticator before anything else, the console included.
    page.wait_for_url(re.compile(r"/seguridad/mfa$"))
    page.goto(f"{base}/consola")
    page.wait_for_url(re.compile(r"/seguridad/mfa$"))
    secret = page.locator("code.secret").inner_text().strip()
    _shot(page, "0-enrol")
    page.fill('input[name="code"]', pyotp.TOTP(secret).now())
    page.click('form[action="/seguridad/mfa"] button[type="submit"]')
    page.wait_for_url(re.compile(r"/$"))
    # Log out and in again: password, then the authenticator's code.
    page.click("button.link")
    page.wait_for_url(re.compile(r"/login$"))
    page.fill('input[name="email"]', CAJA[0])
    page.fill('input[name="password"]', CAJA[1])
    page.click('button[type="submit"]')
    expect(page.locator('input[name="otp"]')).to_be_visible()
    page.fill('input[name="password"]', CAJA[1])
    page.fill('input[name="otp"]', _fresh_code(secret))
    page.click('button[type="submit"]')
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator('[data-testid="console-link"]')).to_be_visible()


def _refund_part(page, payment_id: str) -> None:
    from playwright.sync_api import expect

    page.locator(f".feed-item[data-payment='{payment_id}'] a").first.click()
    page.wait_for_url(re.compile(r"/consola/creditos/\d+$"))
    row = page.locator(f'[data-testid="payment-{payment_id}"]')
    row.locator('input[name="monto"]').fill("100.00")
    row.locator('button[type="submit"]').click()
    expect(page.locator('[data-testid="confirm"]')).to_contain_text("$100.00")
    _shot(page, "3-refund-confirm")
    page.click('[data-testid="confirm-button"]')
    expect(page.locator('[data-testid="done"]')).to_have_text("Reembolso solicitado al proveedor.")
    expect(page.locator(f'[data-testid="payment-{payment_id}"]')).to_contain_text("$100.00")
    _shot(page, "4-refunded")


def _replay_dead_event(page, base: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/consola/colas")
    row = page.locator("tr", has_text="order.paid")
    expect(row).to_contain_text("Detenido")
    _shot(page, "5-queues")
    row.locator('button[type="submit"]').click()
    expect(page.locator('[data-testid="done"]')).to_have_text("Evento reprocesado.")
    expect(page.locator("tr", has_text="order.paid")).to_have_count(0)
    _shot(page, "6-replayed")


def _resolve_exception(page) -> None:
    from playwright.sync_api import expect

    exception = page.locator("article.exception").first
    expect(exception).to_contain_text("$2,350.00")
    exception.locator('select[name="resolucion"]').select_option("not_a_loan_payment")
    exception.locator('input[name="nota"]').fill("Aportación del socio, no es pago de crédito")
    exception.locator('button[type="submit"]').click()
    expect(page.locator('[data-testid="confirm"]')).to_contain_text("Aportación del socio")
    _shot(page, "7-resolve-confirm")
    page.click('[data-testid="confirm-button"]')
    expect(page.locator('[data-testid="done"]')).to_have_text("Excepción resuelta.")
    expect(page.locator("article.exception")).to_have_count(0)
    _shot(page, "8-resolved")
