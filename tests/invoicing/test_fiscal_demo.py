"""The demo's fiscal path: a new borrower onboards, is approved and paid out, pays by SPEI
(an STP abono), and gets a stamped CFDI and a validated CEP; demo tuition carries IEDU."""

from __future__ import annotations

import json
from datetime import date

import pytest
from lxml import etree
from tests.compliance.support import DOCUMENTS, FORM
from tests.invoicing.support import pac_sandbox
from tests.support.http import app_client, graphql

from puente.accounts.models import User
from puente.cep.banxico import BanxicoCep
from puente.cep.models import CepCheck, CepStatus
from puente.compliance.models import AmlAlert
from puente.compliance.monitoring_service import drain_monitoring
from puente.compliance.onboarding_service import review_application, submit_application
from puente.demo import load_demo_data
from puente.enums import ProviderName
from puente.institutions.models import Institution
from puente.invoicing.demo import PPD_DEMO_LOGIN, PPD_DEMO_SLUG
from puente.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from puente.invoicing.service import invoice_xml
from puente.invoicing.worker import run_fiscal_once
from puente.loans.lifecycle import approve_loan
from puente.loans.models import Loan, LoanProduct
from puente.loans.origination import record_disbursement
from puente.payments.spei_inbound import apply_abono, loan_clabe
from puente.webhooks.models import ProviderEvent

pytestmark = pytest.mark.anyio
IEDU = "{http://www.sat.gob.mx/iedu}instEducativas"


async def onboarded_loan(runtime) -> Loan:
    nueva = await User.get(email="nueva@demo.puente.mx")
    staff = await User.get(email="admin@demo.puente.mx")
    product = await LoanProduct.filter(institution_id=nueva.institution_id).order_by("id").first()
    application = await submit_application(
        runtime, nueva, product_id=product.id, form=FORM, documents=DOCUMENTS
    )
    approved = await review_application(runtime, staff, application.id, approve=True, note="ok")
    loan = await Loan.get(id=approved.loan_id)
    await approve_loan(loan)
    await record_disbursement(loan, on=date(2026, 10, 20))
    return await Loan.get(id=loan.id)


async def test_new_borrower_pays_by_spei_and_gets_a_cfdi_and_a_validated_cep(db, runtime, banxico):
    simulator, base = banxico
    await load_demo_data(runtime)
    loan = await onboarded_loan(runtime)
    clabe = loan_clabe("6461801570", loan.id)
    body = {
        "id": 77001,
        "fechaOperacion": 20261127,
        "institucionOrdenante": 40012,
        "institucionBeneficiaria": 90646,
        "claveRastreo": "BB2026112700001",
        "monto": 1240.35,
        "nombreOrdenante": "JUANA PEREZ MARTINEZ",
        "rfcCurpOrdenante": "PEMJ900515AB7",
        "cuentaOrdenante": "012180001234567899",
        "cuentaBeneficiario": clabe,
    }
    await ProviderEvent.create(
        provider=ProviderName.STP,
        event_id="abono:77001",
        event_type="abono",
        institution_id=loan.institution_id,
        raw_body=json.dumps(body),
    )
    transition = await apply_abono(runtime, json.dumps(body), loan, runtime.now())
    await drain_monitoring()
    simulator.register(  # what Banxico publishes for that transfer
        {
            "clave_rastreo": "BB2026112700001",
            "fecha": "2026-11-27",
            "emisor": "40012",
            "receptor": "90646",
            "cuenta": clabe,
            "monto": "1240.35",
            "ordenante_nombre": "JUANA PEREZ MARTINEZ",
            "ordenante_rfc": "PEMJ900515AB7",
        }
    )
    _, pac = pac_sandbox()

    await run_fiscal_once(runtime, pac, BanxicoCep(base))

    invoice = await Invoice.get(payment_id=transition.payment_id, kind=InvoiceKind.INGRESO)
    assert invoice.status == InvoiceStatus.STAMPED, invoice.last_error
    receptor = etree.fromstring(invoice_xml(runtime, invoice)).find(
        "{http://www.sat.gob.mx/cfd/4}Receptor"
    )
    assert receptor.get("Rfc") == FORM["rfc"]
    check = await CepCheck.get(payment_id=transition.payment_id)
    assert check.status == CepStatus.VALIDATED
    assert not await AmlAlert.filter(rule="CEP_ORDENANTE_MISMATCH").exists()
    # The demo's earlier payments are invoiced too; Sofía's colegiaturas carry IEDU.
    school_invoice = await Invoice.filter(
        status=InvoiceStatus.STAMPED, payment__loan__product__kind="tuition"
    ).first()
    assert school_invoice is not None
    assert etree.fromstring(invoice_xml(runtime, school_invoice)).find(f".//{IEDU}") is not None


async def test_the_demos_ppd_lender_shows_every_kind_of_cfdi_to_its_borrower(db, runtime, banxico):
    _, base = banxico
    await load_demo_data(runtime)
    _, pac = pac_sandbox()
    await run_fiscal_once(runtime, pac, BanxicoCep(base))

    query = """{ viewer { payments(first: 5) { edges { node {
      invoice { uuid tipo status } fiscalDocuments { uuid tipo status xmlUrl } } } } } }"""
    async with app_client(runtime) as client:
        login = await graphql(
            client,
            f'mutation {{ login(email: "{PPD_DEMO_LOGIN[0]}", password: "{PPD_DEMO_LOGIN[1]}") '
            "{ ... on AuthTokens { accessToken } } }",
        )
        bearer = login["data"]["login"]["accessToken"]
        data = await graphql(client, query, token=bearer)
        [edge] = data["data"]["viewer"]["payments"]["edges"]
        documents = edge["node"]["fiscalDocuments"]
        downloads = [
            await client.get(
                d["xmlUrl"].removeprefix(runtime.settings.base_url),
                headers={"Authorization": f"Bearer {bearer}"},
            )
            for d in documents
        ]
    assert [(d["tipo"], d["status"]) for d in documents] == [
        ("I", "VIGENTE"),  # the PPD ingreso of the installment (still owed in part)
        ("P", "CANCELADO"),  # the complement of the 500.00 paid, replaced after the refund
        ("P", "VIGENTE"),  # the complement of the 400.00 that stayed paid
    ]
    assert edge["node"]["invoice"] == {k: documents[2][k] for k in ("uuid", "tipo", "status")}
    assert all(response.status_code == 200 for response in downloads)
    replacement = etree.fromstring(downloads[2].content)
    relation = replacement.find("{http://www.sat.gob.mx/cfd/4}CfdiRelacionados")
    assert relation.get("TipoRelacion") == "04"
    assert relation[0].get("UUID") == documents[1]["uuid"]
    assert await Institution.filter(slug=PPD_DEMO_SLUG).count() == 1
