"""Estados de cuenta, PDF receipts, constancia and CSV: figures from the ledger, downloads
behind the document gate (cookie or Bearer; another borrower gets 404), linked from GraphQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from tests.support import factories
from tests.support.http import app_client, graphql
from tests.support.portal_pay import login

from puente.accounts.service import AuthService
from puente.enums import LoanStatus, PaymentMethodType, ProviderName
from puente.loans.jobs import run_daily
from puente.loans.models import Installment
from puente.loans.payoff import payoff_quote
from puente.money import from_centavos
from puente.payments.settled_elsewhere import record_settled_payment
from puente.statements.data import ledger_balance, statement_data, statement_periods

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"


async def paid_loan_world(runtime):
    """Ana's loan from 2026-06-15 with its July installment paid on 2026-07-14."""
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    luis = await factories.user(runtime, inst, email="luis@example.mx")
    loan = await factories.active_loan(inst, ana)
    await run_daily(date(2026, 7, 15))
    first = await Installment.get(loan_id=loan.id, number=1)
    payment = await record_settled_payment(
        loan,
        from_centavos(first.total_centavos),
        provider=ProviderName.STRIPE,
        method=PaymentMethodType.CARD,
        idempotency_key="pago-1",
        received_at=datetime(2026, 7, 14, 18, 0, tzinfo=UTC),
        provider_reference="pi_1",
    )
    return ana, luis, loan, payment, first


async def test_a_statement_shows_the_ledger_s_figures_for_its_month(db, runtime):
    ana, _, loan, payment, first = await paid_loan_world(runtime)
    today = date(2026, 11, 27)
    assert statement_periods(loan, today) == ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
    july = await statement_data(loan, "2026-07", today)
    assert july is not None and july.cut_date == date(2026, 7, 31)
    assert july.paid_in_period == from_centavos(payment.amount_centavos)
    closing = await ledger_balance(loan.id, date(2026, 7, 31))
    assert july.closing_balance == sum(closing.values(), Decimal(0))
    second = await Installment.get(loan_id=loan.id, number=2)  # 15 Aug is a Saturday: the 17th
    assert july.due_date == second.due_date == date(2026, 8, 17)
    assert july.next_payment == from_centavos(second.total_centavos)
    assert july.charged["Interés ordinario"] == from_centavos(first.interest_centavos)
    assert await statement_data(loan, "2026-11", today) is None  # not cut yet


async def test_documents_open_for_their_owner_by_cookie_or_token_and_404_for_others(db, runtime):
    ana, luis, loan, payment, _ = await paid_loan_world(runtime)
    urls = [
        f"/pagos/{payment.id}/comprobante.pdf",
        f"/prestamos/{loan.id}/estados/2026-07.pdf",
        f"/prestamos/{loan.id}/pagos.csv",
    ]
    async with app_client(runtime, run_workers=False) as browser:
        await login(browser)
        owner = [await browser.get(url) for url in urls]
        missing = await browser.get(f"/prestamos/{loan.id}/estados/2026-11.pdf")
        no_debt = await browser.get(f"/prestamos/{loan.id}/constancia-no-adeudo.pdf")
    tokens = await AuthService(runtime).login("ana@example.mx", PASSWORD, None)
    async with app_client(runtime, run_workers=False) as app:
        by_token = [
            await app.get(url, headers={"authorization": f"Bearer {tokens.access_token}"})
            for url in urls
        ]
        anonymous = [(await app.get(url)).status_code for url in urls]
    async with app_client(runtime, run_workers=False) as other:
        await login(other, "luis@example.mx")
        stranger = [(await other.get(url)).status_code for url in urls]
    assert [r.status_code for r in owner] == [200, 200, 200]
    assert owner[0].content.startswith(b"%PDF") and owner[1].content.startswith(b"%PDF")
    assert "pi_1" in owner[2].text and "folio" in owner[2].text
    assert [r.status_code for r in by_token] == [200, 200, 200]
    assert anonymous == stranger == [404, 404, 404]
    assert (missing.status_code, no_debt.status_code) == (404, 404)  # not cut; not paid off


async def test_graphql_links_the_receipt_and_the_statements(db, runtime):
    ana, _, loan, payment, _ = await paid_loan_world(runtime)
    pending = await factories.payment(loan, key="sin-recibo")
    tokens = await AuthService(runtime).login("ana@example.mx", PASSWORD, None)
    query = """{ viewer {
        payments { edges { node { id receiptUrl } } }
        loans { edges { node { statements { period cutDate pdfUrl } } } } } }"""
    async with app_client(runtime, run_workers=False) as client:
        data = (await graphql(client, query, token=tokens.access_token))["data"]["viewer"]
    urls = sorted((edge["node"]["receiptUrl"] or "") for edge in data["payments"]["edges"])
    assert urls == ["", f"/pagos/{payment.id}/comprobante.pdf"]
    assert pending.id != payment.id
    statements = data["loans"]["edges"][0]["node"]["statements"]
    assert statements[1] == {
        "period": "2026-07",
        "cutDate": "2026-07-31",
        "pdfUrl": f"/prestamos/{loan.id}/estados/2026-07.pdf",
    }


async def test_a_paid_off_loan_gets_its_constancia_de_no_adeudo(db, runtime):
    ana, _, loan, _, _ = await paid_loan_world(runtime)
    day = date(2026, 7, 20)
    payoff = (await payoff_quote(loan, day)).total
    await record_settled_payment(
        loan,
        payoff,
        provider=ProviderName.STRIPE,
        method=PaymentMethodType.CARD,
        idempotency_key="liquidacion",
        received_at=datetime(2026, 7, 20, 18, 0, tzinfo=UTC),
    )
    await loan.refresh_from_db()
    assert loan.status is LoanStatus.PAID_OFF
    assert not any((await ledger_balance(loan.id)).values())
    async with app_client(runtime, run_workers=False) as browser:
        await login(browser)
        page = await browser.get(f"/prestamos/{loan.id}")
        constancia = await browser.get(f"/prestamos/{loan.id}/constancia-no-adeudo.pdf")
    assert 'data-testid="no-debt-link"' in page.text
    assert constancia.status_code == 200 and constancia.content.startswith(b"%PDF")
    assert constancia.headers["content-disposition"].endswith(
        f'constancia-no-adeudo-{loan.id}.pdf"'
    )


async def test_the_notificaciones_page_saves_channels_and_opt_out(db, runtime):
    from tests.support.portal_pay import csrf_of

    from puente.notifications.models import NotificationPreference

    ana, _, _, _, _ = await paid_loan_world(runtime)
    async with app_client(runtime, run_workers=False) as browser:
        await login(browser)
        page = await browser.get("/cuenta/notificaciones")
        form = {"csrf_token": csrf_of(page.text), "sms": "1", "ninguno": "1"}
        saved = await browser.post("/cuenta/notificaciones", data=form)
        forged = await browser.post("/cuenta/notificaciones", data={"email": "1"})
    assert page.status_code == 200 and "Notificaciones" in page.text
    assert saved.status_code == 303 and forged.status_code == 403
    prefs = await NotificationPreference.get(user_id=ana.id)
    assert (prefs.email, prefs.sms, prefs.whatsapp, prefs.opted_out) == (False, True, False, True)
