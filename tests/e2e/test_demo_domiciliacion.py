"""The demo's domiciliación path in a real browser against a real `puente demo` server.

Ana saves a card whose funds run short (Stripe's 4000 0000 0000 9995) on the provider's
card form, signs the domiciliación, and the demo clock (/sandbox/reloj) runs her due date:
the charge is declined for insufficient funds and retried on the next quincena payday.
She then saves 4242 4242 4242 4242 and signs again (the pending retry is canceled with the
old signature): the next run charges her once. Every
attempt is on her loan page; the database holds exactly one charge that went through.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile

import pytest
from tests.e2e.test_pay_in_browser import (
    ANA,
    CHROMIUM,
    CHROMIUM_ARGS,
    WAIT_MS,
    _need_browser,
)

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _browser_available() -> None:
    _need_browser()


def _save_card(page, base: str, loan_path: str, number: str) -> None:
    page.goto(f"{base}{loan_path}/domiciliacion")
    page.click('[data-testid="add-card-stripe"]')
    page.wait_for_url(re.compile(r"/sandbox/stripe/_checkout/card"))
    page.fill('input[name="number"]', number)
    page.fill('input[name="exp"]', "12/34")
    page.fill('input[name="cvc"]', "123")
    page.click('button[type="submit"]')
    page.wait_for_url(re.compile(r"/tarjetas/regreso"))
    page.click('[data-testid="save-card-confirm"]')
    page.wait_for_url(re.compile(r"/domiciliacion$"))


def _sign_with_last_card(page) -> None:
    page.locator('input[name="tarjeta"]').first.check()  # the newest card: the default
    page.check('[data-testid="mandate-accept"]')
    page.click('[data-testid="mandate-sign"]')
    page.wait_for_url(re.compile(r"/domiciliacion$"))


def _run_first_clock_date(page, base: str, kind: str) -> str:
    page.goto(f"{base}/sandbox/reloj")
    button = page.locator(f'button[data-testid^="clock-{kind}-"]').first
    day = (button.get_attribute("data-testid") or "").removeprefix(f"clock-{kind}-")
    button.click()
    page.wait_for_selector('[data-testid="clock-outcome"]')
    return day


def test_ana_is_charged_on_her_due_date_retried_on_payday_and_charged_once(demo):
    from playwright.sync_api import expect, sync_playwright

    base = demo.url
    with tempfile.TemporaryDirectory(prefix="puente-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context.set_default_timeout(WAIT_MS)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(f"{base}/login")
            page.fill('input[name="email"]', ANA[0])
            page.fill('input[name="password"]', ANA[1])
            page.click('button[type="submit"]')
            page.click('a[href^="/prestamos/"]')
            loan_path = re.search(r"/prestamos/\d+", page.url).group(0)

            _save_card(page, base, loan_path, "4000 0000 0000 9995")
            _sign_with_last_card(page)
            expect(page.locator('[data-testid="mandate-status"]')).to_contain_text("Activa")

            due = _run_first_clock_date(page, base, "due")
            expect(page.locator('[data-testid="clock-outcome"]')).to_contain_text("1 rechazados")
            payday = _run_first_clock_date(page, base, "retry")  # scheduled for payday
            assert payday > due and (payday.endswith("-15") or payday[-2:] >= "28")
            expect(page.locator('[data-testid="clock-outcome"]')).to_contain_text("1 rechazados")

            _save_card(page, base, loan_path, "4242 4242 4242 4242")
            _sign_with_last_card(page)
            page.goto(f"{base}/sandbox/reloj")
            page.fill('input[name="fecha"][type="date"]', payday)
            page.click("button.primary")
            expect(page.locator('[data-testid="clock-outcome"]')).to_contain_text("1 cobrados")

            page.goto(f"{base}{loan_path}")
            attempts = page.locator('[data-testid="charge-attempts"] tbody tr')
            expect(attempts).to_have_count(4)
            expect(page.locator('[data-testid="charge-attempts"]')).to_contain_text("Cobrado")
        finally:
            context.close()

    with sqlite3.connect(demo.database) as db:
        statuses = [row[0] for row in db.execute("SELECT status FROM charge_attempts")]
        paid = db.execute(
            "SELECT COUNT(*) FROM payments WHERE idempotency_key LIKE 'domiciliacion-%' "
            "AND status = 'paid'"
        ).fetchone()[0]
    # Due date and payday declined; the next payday's retry canceled by the new signature.
    assert sorted(statuses) == ["canceled", "declined", "declined", "paid"]
    assert paid == 1
