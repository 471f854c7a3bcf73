"""Payroll remittances: one employer deposit split across many loans (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from tests.reconciliation.samples import movement, write
from tests.support import factories
from tests.support.books import books_total, institution_balance

from puente.accounts.users import create_borrower_profile
from puente.audit.models import AuditEvent
from puente.enums import LedgerAccountType as T
from puente.enums import PaymentStatus as S
from puente.enums import ProviderName, Role
from puente.ledger.entries import AccountRef
from puente.ledger.posting import account_balance
from puente.payments.models import Payment
from puente.reconciliation.enums import (
    ExceptionReason,
    ExceptionStatus,
    LineStatus,
    RemittanceStatus,
    Resolution,
    Strategy,
)
from puente.reconciliation.exceptions import ResolutionRefused, resolve_exception
from puente.reconciliation.importers import MalformedStatement
from puente.reconciliation.models import (
    PayrollEnrolment,
    PayrollRemittance,
    PayrollRemittanceRow,
    ReconciliationException,
    StatementLine,
    StatementMatch,
)
from puente.reconciliation.remittance import RemittanceRefused, apply_remittance
from puente.reconciliation.samples import RemittanceLine, write_remittance
from puente.reconciliation.service import import_and_reconcile

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("monitoring_drained")]

AT = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
EMPLOYER = "ACM010101AB1"
CURP = "PEMJ900515MJCRRN09"


def remittance(path: Path, rows: list[RemittanceLine], reference: str = "NOM-ACME-2026-22") -> Path:
    out = io.StringIO()
    write_remittance(out, rows, employer=EMPLOYER, reference=reference)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


async def payroll(runtime, tmp_path, amount: str):
    """Two borrowers paid by payroll (one enrolled by employee number, one known by CURP)
    and the employer's deposit on the bank statement, unexplained until its remittance."""
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    luis = await factories.user(runtime, inst, email="luis@example.mx")
    await create_borrower_profile(runtime, luis, curp=CURP)
    ana_loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    luis_loan = await factories.active_loan(inst, luis, start=date(2026, 11, 2))
    await PayrollEnrolment.create(
        institution_id=inst.id, employer=EMPLOYER, employee_id="E-1042", loan_id=ana_loan.id
    )
    deposit = movement(
        amount,
        concept="PAGO NOMINA ACME REMESA NOM-ACME-2026-22",
        reference="",
        clave_rastreo="NOMACME22",
        counterparty_name="ACME SA DE CV",
    )
    summary = await import_and_reconcile(
        runtime, inst.id, write(tmp_path / "bank.xml", "camt053:02", [deposit]), "camt053", at=AT
    )
    assert summary.exceptions == 1  # nothing on the book expects a payroll deposit
    (line,) = await StatementLine.all()
    return inst, ana_loan, luis_loan, line


ROWS = [
    RemittanceLine(Decimal("1250.00"), employee_id="E-1042", name="ANA PRUEBA"),
    RemittanceLine(Decimal("980.50"), curp=CURP, name="LUIS PRUEBA"),
    RemittanceLine(Decimal("300.00"), employee_id="E-9999", name="NADIE CONOCIDO"),
]


async def test_a_payroll_deposit_is_split_across_its_loans_through_the_funnel(
    db, runtime, tmp_path
):
    inst, ana_loan, luis_loan, line = await payroll(runtime, tmp_path, "2530.50")
    summary = await apply_remittance(
        runtime, inst.id, remittance(tmp_path / "nomina.csv", ROWS), at=AT
    )
    assert (summary.status, summary.applied, summary.unknown) == (RemittanceStatus.APPLIED, 2, 1)
    assert summary.line_id == line.id  # found by the reference in the deposit's concept
    payments = {p.loan_id: p for p in await Payment.all()}
    assert {k: (p.amount_centavos, p.status) for k, p in payments.items()} == {
        ana_loan.id: (1250_00, S.PAID),
        luis_loan.id: (980_50, S.PAID),
    }
    matches = await StatementMatch.filter(line_id=line.id, strategy=Strategy.REMITTANCE.value)
    assert sorted(m.amount_centavos for m in matches) == [980_50, 1250_00]
    # The unknown employee's 300.00 stays in suspense, an exception for its own amount.
    (left,) = await ReconciliationException.filter(status=ExceptionStatus.OPEN)
    assert (left.reason, left.amount_centavos) == (ExceptionReason.UNKNOWN_EMPLOYEE, 300_00)
    assert "E-9999" in left.detail
    assert await institution_balance(inst.id, T.SUSPENSE) == -300_00
    assert (
        await account_balance(AccountRef(inst.id, T.CASH_CLEARING, provider=ProviderName.BANK)) == 0
    )
    assert (await StatementLine.get(id=line.id)).status is LineStatus.EXCEPTION
    rows = await PayrollRemittanceRow.all().order_by("position")
    assert [r.payment_id is not None for r in rows] == [True, True, False]
    assert CURP not in {r.identity for r in rows}  # never kept whole
    assert await AuditEvent.filter(action="reconciliation.remittance_applied").count() == 1
    assert await books_total() == 0

    # Staff find the third employee's loan: suspense empties, the line is resolved.
    staff = await factories.user(runtime, inst, email="caja@example.mx", role=Role.STAFF)
    await resolve_exception(
        runtime,
        left.id,
        Resolution.APPLIED_TO_LOAN,
        actor_id=staff.id,
        institution_id=inst.id,
        note="Ana cambió de número de empleado",
        at=AT,
        loan_id=ana_loan.id,
    )
    assert await Payment.filter(loan_id=ana_loan.id, amount_centavos=300_00).exists()
    assert await institution_balance(inst.id, T.SUSPENSE) == 0
    assert (await StatementLine.get(id=line.id)).status is LineStatus.RESOLVED
    assert await books_total() == 0


async def test_a_remittance_that_does_not_add_up_splits_nothing(db, runtime, tmp_path):
    inst, _, _, line = await payroll(runtime, tmp_path, "2000.00")
    summary = await apply_remittance(
        runtime, inst.id, remittance(tmp_path / "nomina.csv", ROWS), at=AT, line_id=line.id
    )
    assert summary.status is RemittanceStatus.MISMATCH
    assert await Payment.all().count() == 0
    (exc,) = await ReconciliationException.filter(status=ExceptionStatus.OPEN)
    assert exc.reason == ExceptionReason.REMITTANCE_MISMATCH
    assert "2530.50" in exc.detail and "2000.00" in exc.detail
    assert await institution_balance(inst.id, T.SUSPENSE) == -2000_00
    assert await books_total() == 0


async def test_a_remittance_is_applied_once(db, runtime, tmp_path):
    inst, _, _, _ = await payroll(runtime, tmp_path, "2530.50")
    path = remittance(tmp_path / "nomina.csv", ROWS)
    await apply_remittance(runtime, inst.id, path, at=AT)
    with pytest.raises(RemittanceRefused, match="ya se aplicó"):
        await apply_remittance(runtime, inst.id, path, at=AT)
    assert await Payment.all().count() == 2
    assert await PayrollRemittance.all().count() == 1


async def test_a_malformed_remittance_changes_nothing(db, runtime, tmp_path):
    inst, _, _, _ = await payroll(runtime, tmp_path, "2530.50")
    path = remittance(tmp_path / "nomina.csv", ROWS)
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("980.50", "98O.50")
    path.write_text("\n".join(lines))
    with pytest.raises(MalformedStatement, match="línea 3"):
        await apply_remittance(runtime, inst.id, path, at=AT)
    assert await Payment.all().count() == 0
    assert await PayrollRemittance.all().count() == 0


async def test_a_deposit_nobody_names_is_refused_and_a_split_cannot_be_chosen_by_hand(
    db, runtime, tmp_path
):
    inst, _, _, _ = await payroll(runtime, tmp_path, "2530.50")
    path = remittance(tmp_path / "nomina.csv", ROWS, reference="OTRA-REMESA")
    with pytest.raises(RemittanceRefused, match="--deposit"):
        await apply_remittance(runtime, inst.id, path, at=AT)
    (exc,) = await ReconciliationException.all()
    with pytest.raises(ResolutionRefused):
        await resolve_exception(
            runtime,
            exc.id,
            Resolution.SPLIT_BY_REMITTANCE,
            actor_id=None,
            institution_id=inst.id,
            note="x",
            at=AT,
        )
