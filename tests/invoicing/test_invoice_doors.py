"""The borrower reaches their CFDI from GraphQL and downloads it; nobody else can."""

from __future__ import annotations

import pytest
from tests.invoicing.support import invoicing_lender, pac_sandbox
from tests.invoicing.test_invoicing_service import paid
from tests.support import factories
from tests.support.http import app_client, graphql
from tests.support.portal_pay import login

from puente.accounts.service import AuthService
from puente.invoicing.models import Invoice
from puente.invoicing.service import run_invoicing

pytestmark = pytest.mark.anyio

QUERY = """{ viewer { payments(first: 5) { edges { node {
  invoice { uuid status xmlUrl pdfUrl } cep { status } } } } } }"""


async def token(runtime, email: str) -> str:
    tokens = await AuthService(runtime).login(email, "contrasena-segura-1", None)
    return tokens.access_token


async def test_payment_invoice_links_downloads_that_only_its_borrower_opens(db, runtime):
    inst = await invoicing_lender(runtime)
    ana = await factories.user(runtime, inst)
    await factories.user(runtime, inst, email="beto@example.mx")
    loan = await factories.active_loan(inst, ana)
    payment = await paid(runtime, loan, 124035)
    _, pac = pac_sandbox()
    await run_invoicing(runtime, pac)
    stamped = await Invoice.get()

    async with app_client(runtime) as client:
        ana_token = await token(runtime, "ana@example.mx")
        answer = await graphql(client, QUERY, token=ana_token)
        [edge] = answer["data"]["viewer"]["payments"]["edges"]
        invoice = edge["node"]["invoice"]
        assert invoice["uuid"] == stamped.uuid and invoice["status"] == "VIGENTE"
        assert edge["node"]["cep"] is None  # the fiscal worker opened no CEP check yet
        path = invoice["xmlUrl"].removeprefix(runtime.settings.base_url)
        assert path == f"/facturas/{stamped.uuid}.xml"

        mine = await client.get(path, headers={"Authorization": f"Bearer {ana_token}"})
        beto = await client.get(
            path, headers={"Authorization": f"Bearer {await token(runtime, 'beto@example.mx')}"}
        )
        anonymous = await client.get(path)
        unknown = await client.get(
            "/facturas/00000000-0000-4000-8000-000000000000.xml",
            headers={"Authorization": f"Bearer {ana_token}"},
        )
        pdf = await client.get(
            invoice["pdfUrl"].removeprefix(runtime.settings.base_url),
            headers={"Authorization": f"Bearer {ana_token}"},
        )
        await login(client)
        receipt = await client.get(f"/pagos/{payment.id}/comprobante")
        by_cookie = await client.get(path)

    assert receipt.status_code == 200 and f"/facturas/{stamped.uuid}.xml" in receipt.text
    assert by_cookie.status_code == 200
    assert mine.status_code == 200 and stamped.uuid.encode() in mine.content
    assert mine.headers["content-type"].startswith("application/xml")
    assert (beto.status_code, anonymous.status_code, unknown.status_code) == (404, 404, 404)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
