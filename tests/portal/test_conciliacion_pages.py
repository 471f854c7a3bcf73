"""The reconciliation desk (/conciliacion): upload, watch the import, work the queue."""

from __future__ import annotations

import asyncio
import io
import re
import time
from datetime import date
from decimal import Decimal

import pyotp
import pytest
from tests.reconciliation.samples import movement, write
from tests.support import factories
from tests.support.http import app_client
from tests.support.portal_pay import csrf_of

from puente.audit.models import AuditEvent
from puente.enums import PaymentStatus as S
from puente.enums import Role
from puente.payments.models import Payment
from puente.reconciliation.enums import ExceptionStatus, LineStatus, Resolution
from puente.reconciliation.models import (
    PayrollEnrolment,
    ReconciliationException,
    StatementLine,
)
from puente.reconciliation.samples import RemittanceLine, write_remittance

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("monitoring_drained")]
PASSWORD = "contrasena-segura-1"


async def login(client, email: str, otp: str | None = None) -> None:
    page = await client.get("/login")
    data = {"csrf_token": csrf_of(page.text), "email": email, "password": PASSWORD}
    if otp:
        data["otp"] = otp
    response = await client.post("/login", data=data)
    assert response.status_code == 303, response.text


async def upload(client, name: str, content: bytes, fmt: str, **extra: str):
    desk = await client.get("/conciliacion")
    assert desk.status_code == 200, desk.text
    return await client.post(
        "/conciliacion/importar",
        data={"csrf_token": csrf_of(desk.text), "formato": fmt, **extra},
        files={"archivo": (name, content, "application/octet-stream")},
    )


async def watch(client, location: str) -> str:
    """Poll the job as htmx does until it answers 286 (stop polling)."""
    deadline = time.monotonic() + 120  # a loaded machine imports slowly
    while time.monotonic() < deadline:
        response = await client.get(location, headers={"hx-request": "true"})
        if response.status_code == 286:
            return response.text
        assert response.status_code == 200 and 'hx-trigger="every 1s"' in response.text
        await asyncio.sleep(0.1)
    raise AssertionError("the import never finished")


async def test_only_mfa_enrolled_staff_open_the_desk(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    await factories.user(runtime, inst, email="nueva@example.mx", role=Role.STAFF)
    async with app_client(runtime, run_workers=False) as client:
        anonymous = await client.get("/conciliacion")
        await login(client, "ana@example.mx")
        borrower = await client.get("/conciliacion")
    async with app_client(runtime, run_workers=False) as client:
        await login(client, "nueva@example.mx")
        unenrolled = await client.get("/conciliacion")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
    assert borrower.status_code == 404
    assert unenrolled.status_code == 303 and unenrolled.headers["location"] == "/seguridad/mfa"


async def test_staff_upload_watch_the_summary_and_apply_an_exception_to_a_loan(
    db, runtime, clock, tmp_path
):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    staff, secret = await factories.enrolled_staff(runtime, inst)
    statement = write(
        tmp_path / "nov.xml",
        "camt053:02",
        [movement("650.00", bank_reference="X1"), movement("80.00", bank_reference="X2")],
    ).read_bytes()
    async with app_client(runtime, run_workers=False) as client:
        await login(client, "caja@example.mx", pyotp.TOTP(secret).at(clock.now))
        started = await upload(client, "nov.xml", statement, "camt053")
        assert started.status_code == 303
        page = await client.get(started.headers["location"])
        assert page.status_code == 200 and "Importación de estado de cuenta" in page.text
        summary = await watch(client, started.headers["location"])
        desk = await client.get("/conciliacion")
        exc = await ReconciliationException.filter(line__amount_centavos=650_00).first()
        refused = await client.post(
            f"/conciliacion/excepciones/{exc.id}",
            data={"csrf_token": csrf_of(desk.text), "decision": "applied_to_loan", "nota": "x"},
        )
        resolved = await client.post(
            f"/conciliacion/excepciones/{exc.id}",
            data={
                "csrf_token": csrf_of(desk.text),
                "decision": Resolution.APPLIED_TO_LOAN.value,
                "prestamo": str(loan.id),
                "nota": "Ana llamó: es su pago",
            },
        )
        after = await client.get("/conciliacion")
    assert re.search(r'data-resumen="exceptions">2<', summary)
    assert re.search(r'data-resumen="lines">2<', summary)
    assert "Movimiento" in desk.text and "$650.00" in desk.text
    assert "nada en los libros lo explica" in desk.text  # the reason, in Spanish
    assert refused.status_code == 409 and "no existe ese préstamo" in refused.text
    assert resolved.status_code == 303 and resolved.headers["location"].endswith("hecho=excepcion")
    exc = await ReconciliationException.get(id=exc.id)
    assert (exc.status, exc.resolved_by_id) == (ExceptionStatus.RESOLVED, staff.id)
    (payment,) = await Payment.filter(loan_id=loan.id)
    assert (payment.status, payment.amount_centavos) == (S.PAID, 650_00)
    assert await AuditEvent.filter(
        action="reconciliation.exception_resolved", actor_id=staff.id
    ).exists()
    assert "$650.00" not in after.text and "$80.00" in after.text


async def test_a_malformed_upload_says_where_and_imports_nothing(db, runtime, clock):
    inst = await factories.institution()
    _, secret = await factories.enrolled_staff(runtime, inst)
    async with app_client(runtime, run_workers=False) as client:
        await login(client, "caja@example.mx", pyotp.TOTP(secret).at(clock.now))
        started = await upload(client, "roto.xml", b"<Document><BkToCstmrStmt>", "camt053")
        text = await watch(client, started.headers["location"])
    assert "mal formado" in text
    assert await StatementLine.all().count() == 0


async def test_a_payroll_remittance_uploaded_on_the_page_splits_its_deposit(
    db, runtime, clock, tmp_path
):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    await PayrollEnrolment.create(
        institution_id=inst.id, employer="ACM010101AB1", employee_id="E-7", loan_id=loan.id
    )
    _, secret = await factories.enrolled_staff(runtime, inst)
    deposit = movement("1250.00", concept="NOMINA REMESA NOM-7", reference="", bank_reference="N7")
    statement = write(tmp_path / "nomina.xml", "camt053:02", [deposit]).read_bytes()
    out = io.StringIO()
    write_remittance(
        out,
        [RemittanceLine(Decimal("1250.00"), employee_id="E-7")],
        employer="ACM010101AB1",
        reference="NOM-7",
    )
    async with app_client(runtime, run_workers=False) as client:
        await login(client, "caja@example.mx", pyotp.TOTP(secret).at(clock.now))
        started = await upload(client, "nomina.xml", statement, "camt053")
        await watch(client, started.headers["location"])
        result = await upload(client, "remesa.csv", out.getvalue().encode(), "remesa")
    assert result.status_code == 200 and "1</strong> pagos aplicados" in result.text
    (payment,) = await Payment.filter(loan_id=loan.id)
    assert (payment.status, payment.amount_centavos) == (S.PAID, 1250_00)
    assert (await StatementLine.get()).status is LineStatus.MATCHED


async def test_the_borrower_sees_the_bank_facts_of_a_matched_payment(db, runtime, tmp_path):
    from puente.payments.spei_inbound import loan_clabe
    from puente.reconciliation.service import import_and_reconcile
    from puente_sandbox.stp_keys import DEFAULT_STP_CREDENTIALS

    cuenta = DEFAULT_STP_CREDENTIALS["cuenta"]
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    deposit = movement("500.00", beneficiary_account=loan_clabe(cuenta, loan.id), reference="")
    await import_and_reconcile(
        runtime,
        inst.id,
        write(tmp_path / "stp.csv", "stp", [deposit]),
        "stp",
        at=runtime.now(),
        stp_cuenta=cuenta,
    )
    (payment,) = await Payment.filter(loan_id=loan.id)
    async with app_client(runtime, run_workers=False) as client:
        await login(client, "ana@example.mx")
        history = await client.get("/pagos")
        page = await client.get(f"/pagos/{payment.id}")
    assert "clave de rastreo BB27726020704" in history.text
    assert "21 de noviembre de 2026" in history.text  # the value date, not the booking date
    assert 'data-testid="bank-facts"' in page.text and "BB27726020704" in page.text
