"""A borrower and a parent walk the whole portal on a phone (390 px) and a desktop (1280 px).

Ana (a personal loan) and Luis (a school's colegiaturas) each go through the dashboard, the
loan, the pay form, a card payment (confirmation, result, receipt), SPEI instructions, an OXXO
voucher, the history, their password page, the simulator and an unknown URL. On every page of ours:
- nothing scrolls sideways (``scrollWidth <= innerWidth``);
- axe-core (bundled by the ``axe-playwright-python`` package: no network at test time) finds
  no serious or critical violation of WCAG 2.1 A/AA;
- a full-page screenshot is kept under ``test-artifacts/portal-walkthrough/``.

Drives Debian's Chromium (/usr/bin/chromium); skipped without it unless PUENTE_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "portal-walkthrough"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = (390, 1280)
WAIT_MS = 15_000
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")


@pytest.fixture(autouse=True)
def _browser_available() -> None:
    required = os.environ.get("PUENTE_REQUIRE_BROWSER") == "1"
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is absent (apt-get install chromium)"
    else:
        try:
            import axe_playwright_python  # noqa: F401
            import playwright.sync_api  # noqa: F401
        except ImportError as missing:
            problem = f"{missing.name} is not installed (pip install -e '.[dev]')"
    if problem and required:
        pytest.fail(f"browser test required (PUENTE_REQUIRE_BROWSER=1) but {problem}")
    if problem:
        pytest.skip(f"browser test not run: {problem}")


@dataclass
class Walk:
    """What one person saw: a screenshot per page, and every problem found on the way."""

    who: str
    width: int
    problems: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)

    def check(self, page, name: str) -> None:
        from axe_playwright_python.sync_playwright import Axe

        page.wait_for_load_state("load")
        shot = ARTIFACTS / f"{self.who}-{self.width}-{len(self.pages) + 1:02d}-{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        self.pages.append(name)
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if widths[0] > widths[1]:
            self.problems.append(f"{name} @{self.width}px scrolls sideways: {widths}")
        options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
        results = Axe().run(page, options=options)
        for violation in results.response["violations"]:
            if violation["impact"] in BLOCKING:
                where = "; ".join(", ".join(n["target"]) for n in violation["nodes"][:3])
                self.problems.append(
                    f"{name} @{self.width}px axe {violation['id']} ({violation['impact']}): {where}"
                )


def _login(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{base}/")


def _walk(page, base: str, walk: Walk, email: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/login")
    walk.check(page, "login")
    _login(page, base, email, password)
    walk.check(page, "dashboard")
    expect(page.locator('[data-testid="card-pay-link"]').first).to_be_visible()
    page.locator("article.loan h2 a").first.click()
    page.wait_for_url(re.compile(r"/prestamos/\d+$"))
    loan_url = page.url
    expect(page.locator('[data-testid="progress"]')).to_be_visible()
    walk.check(page, "loan")

    # Card: the pay form, the provider's form (not ours), the confirmation, the result.
    page.goto(f"{loan_url}/pagar")
    walk.check(page, "pay-form")
    page.check('input[value="card:stripe"]')
    page.click('[data-testid="pay-continue"]')
    page.wait_for_url(re.compile(r"/sandbox/stripe/_checkout/card"))
    page.fill('input[name="number"]', "4242 4242 4242 4242")
    page.fill('input[name="exp"]', "12/34")
    page.fill('input[name="cvc"]', "123")
    page.click('button[type="submit"]')
    page.wait_for_url(re.compile(r"/pagar/tarjeta/regreso\?"))
    walk.check(page, "card-confirm")
    page.click('[data-testid="pay-confirm"]')
    expect(page.locator('#estado-pago [data-testid="payment-status"]')).to_have_text("Pagado")
    expect(page.locator('#estado-pago [data-testid="payment-application"]')).to_be_visible()
    walk.check(page, "card-result")
    page.click('[data-testid="receipt-link"]')
    page.wait_for_url(re.compile(r"/comprobante$"))
    walk.check(page, "receipt")

    # SPEI and OXXO: the instructions and the voucher.
    for option, name, marker in (
        ("spei:stripe", "spei", "spei-instructions"),
        ("cash:conekta", "oxxo", "oxxo-voucher"),
    ):
        page.goto(f"{loan_url}/pagar")
        page.check(f'input[value="{option}"]')
        page.click('[data-testid="pay-continue"]')
        page.wait_for_url(re.compile(r"/pagos/\d+$"))
        expect(page.locator(f'[data-testid="{marker}"]')).to_be_visible()
        walk.check(page, name)

    page.goto(f"{base}/pagos")
    expect(page.locator('[data-testid="history-row"]').first).to_be_visible()
    walk.check(page, "history")
    page.goto(f"{base}/seguridad/contrasena")
    walk.check(page, "password")
    page.goto(f"{base}/simulador")
    walk.check(page, "simulator")
    page.goto(f"{base}/solicitud")  # digital onboarding: apply for a loan
    expect(page.locator("form").first).to_be_visible()
    walk.check(page, "application")
    page.goto(f"{base}/no-existe")
    expect(page.get_by_text("Página no encontrada").first).to_be_visible()
    walk.check(page, "not-found")


@pytest.mark.parametrize(
    ("who", "email", "password"),
    [
        ("ana", "ana@demo.puente.mx", "ana-demo-2026"),
        ("luis", "luis@demo.puente.mx", "luis-demo-2026"),
    ],
)
def test_every_portal_page_fits_a_phone_and_passes_axe(demo_server, who, email, password):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    walks = []
    with sync_playwright() as p:
        for width in WIDTHS:
            with tempfile.TemporaryDirectory(prefix="puente-chromium-") as profile:
                context = p.chromium.launch_persistent_context(
                    profile,
                    executable_path=str(CHROMIUM),
                    headless=True,
                    args=CHROMIUM_ARGS,
                    locale="es-MX",
                    viewport={"width": width, "height": 860},
                )
                context.set_default_timeout(WAIT_MS)
                try:
                    page = context.pages[0] if context.pages else context.new_page()
                    walk = Walk(who, width)
                    _walk(page, demo_server, walk, email, password)
                    walks.append(walk)
                finally:
                    context.close()
    problems = [problem for walk in walks for problem in walk.problems]
    assert not problems, "\n".join(problems)
    assert [len(walk.pages) for walk in walks] == [14] * len(WIDTHS)  # every page was checked
