"""A person pays from the portal in a real browser, against a real `puente demo` server.

Ana logs in, pays her next installment with the sandbox card 4242 4242 4242 4242 on the
provider's card form, and sees "Pagado" and her new balance without the page reloading;
then she pays by SPEI, the transfer is made from the sandbox page (/sandbox/) in another
tab, and her open payment page turns "Pagado" by itself (server-sent events).

Drives Debian's Chromium (/usr/bin/chromium) through Playwright, never a downloaded browser.
Without it the test is skipped, unless PUENTE_REQUIRE_BROWSER=1 (CI), where that fails.
Screenshots go to test-artifacts/pay-in-browser/.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "pay-in-browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANA = ("ana@demo.puente.mx", "ana-demo-2026")
WAIT_MS = 15_000


@pytest.fixture(autouse=True)
def _browser_available() -> None:
    _need_browser()


def _need_browser() -> None:
    required = os.environ.get("PUENTE_REQUIRE_BROWSER") == "1"
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is absent (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (pip install playwright)"
    if problem and required:
        pytest.fail(f"browser test required (PUENTE_REQUIRE_BROWSER=1) but {problem}")
    if problem:
        pytest.skip(f"browser test not run: {problem}")


def _balance(page) -> str:
    return page.locator('[data-testid="live-balance"]').first.inner_text()


@pytest.fixture
def demo_url(demo_server: str) -> str:
    return demo_server


def test_ana_pays_by_card_then_by_spei_and_sees_both_land_without_reloading(demo_url):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="puente-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            locale="es-MX",
            viewport={"width": 420, "height": 900},  # a phone-sized window
        )
        context.set_default_timeout(WAIT_MS)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            _pay_by_card(page, demo_url)
            _pay_by_spei(context, page, demo_url)
        finally:
            context.close()


def _pay_by_card(page, base: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/login")
    page.fill('input[name="email"]', ANA[0])
    page.fill('input[name="password"]', ANA[1])
    page.click('button[type="submit"]')
    page.click('a[href^="/prestamos/"]')
    page.click('[data-testid="pay-link"]')
    expect(page.locator('input[value="card:stripe"]')).to_be_checked()
    next_amount = page.locator('[data-testid="next-amount"]').inner_text()
    page.screenshot(path=str(ARTIFACTS / "1-pay-form.png"), full_page=True)
    page.click('[data-testid="pay-continue"]')

    # The provider's card form (the sandbox's, like Stripe Elements): Puente never sees it.
    page.wait_for_url(re.compile(r"/sandbox/stripe/_checkout/card"))
    page.fill('input[name="number"]', "4242 4242 4242 4242")
    page.fill('input[name="exp"]', "12/34")
    page.fill('input[name="cvc"]', "123")
    page.screenshot(path=str(ARTIFACTS / "2-card-form.png"), full_page=True)
    page.click('button[type="submit"]')

    # Back by a form POST (the token never in a URL): the confirmation page.
    page.wait_for_url(re.compile(r"/pagar/tarjeta/regreso\?"))
    assert "tok_" not in page.url
    expect(page.get_by_text("Visa •••• 4242")).to_be_visible()
    expect(page.locator('[data-testid="confirm-amount"]')).to_have_text(next_amount)
    before = _balance(page)
    page.evaluate("window.sinRecargar = true")
    page.click('[data-testid="pay-confirm"]')
    expect(page.locator('#estado-pago [data-testid="payment-status"]')).to_have_text("Pagado")
    expect(page.locator('#saldo-vivo [data-testid="live-balance"]')).not_to_have_text(before)
    expect(page.locator("#saldo")).to_have_count(0)  # the stale figure is gone
    assert page.evaluate("window.sinRecargar === true"), "the page reloaded"
    assert "4242424242424242" not in page.content()
    page.screenshot(path=str(ARTIFACTS / "3-card-paid.png"), full_page=True)


def _pay_by_spei(context, page, base: str) -> None:
    from playwright.sync_api import expect

    page.goto(page.url.split("/pagar/")[0] + "/pagar")
    page.check('input[value="spei:stripe"]')
    page.click('[data-testid="pay-continue"]')
    page.wait_for_url(re.compile(r"/pagos/\d+$"))
    status = page.locator('#estado-pago [data-testid="payment-status"]')
    expect(status).to_have_text("Pendiente")
    clabe = page.locator('[data-testid="spei-clabe"]').input_value()
    reference = page.locator('[data-testid="spei-reference"]').input_value()
    assert re.fullmatch(r"\d{18}", clabe) and reference
    expect(page.locator('[data-testid="spei-amount"]')).to_have_value(re.compile(r"^\d+\.\d{2}$"))
    before = _balance(page)
    page.evaluate("window.sinRecargar = true")
    page.screenshot(path=str(ARTIFACTS / "4-spei-instructions.png"), full_page=True)

    # The transfer, made from the sandbox's page in another tab.
    bank = context.new_page()
    bank.goto(f"{base}/sandbox/")
    row = bank.locator("tr", has_text=reference)
    expect(row).to_have_count(1)
    row.locator('button[type="submit"]').click()
    bank.wait_for_load_state()
    bank.screenshot(path=str(ARTIFACTS / "5-sandbox-paid.png"), full_page=True)
    bank.close()

    expect(status).to_have_text("Pagado")  # webhook → ledger → bus → SSE → this page
    expect(page.locator('#saldo-vivo [data-testid="live-balance"]')).not_to_have_text(before)
    expect(page.locator('[data-testid="receipt-link"]')).to_be_visible()
    assert page.evaluate("window.sinRecargar === true"), "the page reloaded"
    page.screenshot(path=str(ARTIFACTS / "6-spei-paid.png"), full_page=True)
