"""Staff cancel a CFDI from GraphQL with SAT's motivos, through the PAC sandbox, audited."""

from __future__ import annotations

import pyotp
import pytest
from tests.invoicing.support import invoicing_lender, pac_sandbox
from tests.invoicing.test_invoicing_service import paid
from tests.support import factories
from tests.support.http import app_client, graphql

from puente.accounts.service import AuthService
from puente.audit.models import AuditEvent
from puente.graphql.invoicing import PAC_EXTRA
from puente.invoicing.models import Invoice, InvoiceStatus
from puente.invoicing.service import run_invoicing

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"
CANCEL = """mutation($u: String!, $m: String!, $s: String) {
  cancelInvoice(uuid: $u, motivo: $m, substituteUuid: $s) { __typename
  ... on InvoiceCanceled { uuid motivo substituteUuid }
  ... on InvoicingError { code message } } }"""


async def _token(runtime, clock, email: str, secret: str | None = None) -> str:
    otp = pyotp.TOTP(secret).at(clock.now) if secret else None
    tokens = await AuthService(runtime).login(email, PASSWORD, otp)
    return tokens.access_token


async def _two_stamped(runtime):
    inst = await invoicing_lender(runtime)
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana)
    await paid(runtime, loan, 124035, key="p1")
    await paid(runtime, loan, 124035, key="p2")
    simulator, pac = pac_sandbox()
    await run_invoicing(runtime, pac)
    first, second = await Invoice.all().order_by("id")
    assert first.uuid and second.uuid
    runtime.extras[PAC_EXTRA] = pac
    return inst, simulator, first, second


async def _call(client, token, uuid, motivo, substitute=None):
    answer = await graphql(client, CANCEL, {"u": uuid, "m": motivo, "s": substitute}, token=token)
    return answer["data"]["cancelInvoice"]


async def test_staff_cancel_with_motivo_01_naming_the_substitute(db, runtime, clock):
    inst, simulator, wrong, substitute = await _two_stamped(runtime)
    _, secret = await factories.enrolled_staff(runtime, inst, email="caja@example.mx")
    try:
        async with app_client(runtime, run_workers=False) as client:
            staff = await _token(runtime, clock, "caja@example.mx", secret)
            borrower = await _token(runtime, clock, "ana@example.mx")
            by_borrower = await _call(client, borrower, wrong.uuid, "02")
            without = await _call(client, staff, wrong.uuid, "01")
            not_ours = await _call(
                client, staff, wrong.uuid, "01", "0B8E3C9A-1D2E-4F50-8A6B-7C8D9E0F1A2B"
            )
            bad_motivo = await _call(client, staff, wrong.uuid, "05")
            done = await _call(client, staff, wrong.uuid, "01", substitute.uuid.lower())
            again = await _call(client, staff, wrong.uuid, "02")
    finally:
        runtime.extras.pop(PAC_EXTRA, None)

    assert by_borrower["code"] == "INVOICE_NOT_FOUND"
    assert without["code"] == "SUBSTITUTE_REQUIRED"
    assert not_ours["code"] == "INVALID_SUBSTITUTE"
    assert bad_motivo["code"] == "INVALID_REASON"
    assert done == {
        "__typename": "InvoiceCanceled",
        "uuid": wrong.uuid,
        "motivo": "01",
        "substituteUuid": substitute.uuid,
    }
    assert again["code"] == "NOT_CANCELLABLE"
    await wrong.refresh_from_db()
    await substitute.refresh_from_db()
    assert InvoiceStatus(wrong.status) is InvoiceStatus.CANCELED
    assert (wrong.cancel_reason, wrong.substitute_uuid) == ("01", substitute.uuid)
    assert InvoiceStatus(substitute.status) is InvoiceStatus.STAMPED
    assert simulator.stamped[wrong.uuid]["status"] == "cancelado"
    [audit] = await AuditEvent.filter(action="cfdi.canceled")
    assert audit.subject_id == str(wrong.id) and audit.data["motivo"] == "01"


async def test_motivo_02_takes_no_substitute_and_staff_of_another_lender_see_nothing(
    db, runtime, clock
):
    inst, _, invoice, other = await _two_stamped(runtime)
    elsewhere = await factories.institution(slug="otra")
    _, secret = await factories.enrolled_staff(runtime, inst, email="caja@example.mx")
    _, other_secret = await factories.enrolled_staff(runtime, elsewhere, email="caja@otra.mx")
    try:
        async with app_client(runtime, run_workers=False) as client:
            foreign = await _call(
                client,
                await _token(runtime, clock, "caja@otra.mx", other_secret),
                invoice.uuid,
                "02",
            )
            staff = await _token(runtime, clock, "caja@example.mx", secret)
            with_substitute = await _call(client, staff, invoice.uuid, "02", other.uuid)
            done = await _call(client, staff, invoice.uuid, "02")
    finally:
        runtime.extras.pop(PAC_EXTRA, None)
    assert foreign["code"] == "INVOICE_NOT_FOUND"
    assert with_substitute["code"] == "SUBSTITUTE_NOT_ALLOWED"
    assert done["__typename"] == "InvoiceCanceled" and done["substituteUuid"] is None
    assert await AuditEvent.filter(action="cfdi.canceled").count() == 1
