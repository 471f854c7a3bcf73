"""Realistic statement files written from the demo's own data, with deliberate exceptions.

``puente reconcile demo-files [--out DIR]`` first has the first running loan's borrower
announce three SPEI transfers to STP (``announce_demo_transfers``, through checkout like any
payment, once per day), then writes, for the institution's running loans:
- ``stp-demo.csv``: the STP statement: an abono to each loan's own CLABE (becomes a payment
  through the funnel), a transfer to a CLABE that is nobody's (an exception);
- ``camt053-demo.xml``: the bank's CAMT.053: each announced SPEI (all but the last two) by
  its referencia, each
  recorded gateway payout (``puente reconcile settlements``) by its id, each disbursement
  leaving by its clave de rastreo, and an unexplained cash deposit;
- ``mt940-demo.sta``: the same bank as MT940 for the next days, repeating one CAMT line
  (imported once), paying the last announced SPEI but one by its referencia and carrying a
  referencia with the wrong amount (an exception);
- ``bbva-demo.csv``: a BBVA export paying the last announced SPEI (its referencia in the
  description), a deposit naming a borrower (a fuzzy suggestion or match) and a bank fee
  (money out nothing explains);
- ``nomina-demo.csv``: the demo employer's payroll remittance for the deposit it made (on
  the CAMT.053, an exception until ``puente reconcile remittance``): the first running
  loan's installment (its borrower enrolled under an employee number, here), and an
  employee nobody knows (an exception for that part).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from puente.accounts.models import User
from puente.enums import DisbursementStatus, LoanStatus, PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.loans.models import Loan
from puente.money import from_centavos
from puente.payments.checkout import PaymentRequest, create_payment
from puente.payments.gateways import GatewayDirectory
from puente.payments.models import Disbursement, Payment
from puente.payments.spei_inbound import loan_clabe
from puente.reconciliation.enums import Direction
from puente.reconciliation.models import GatewaySettlement, PayrollEnrolment
from puente.reconciliation.samples import (
    Movement,
    RemittanceLine,
    write_bbva_csv,
    write_camt053,
    write_mt940,
    write_remittance,
    write_stp,
)
from puente.runtime import Runtime

__all__ = ["DEMO_EMPLOYER", "announce_demo_transfers", "demo_statements", "write_statements"]

Writer = Callable[[TextIO], None]

BANK_ACCOUNT = "012180001234567899"
DEMO_EMPLOYER = "ACM010101AB1"  # Aceros Demo, S.A. de C.V.: pays its staff's loans by payroll
_RUNNING = (LoanStatus.ACTIVE, LoanStatus.DEFAULTED, LoanStatus.RESTRUCTURED)


# Announced SPEI transfers the demo files pay: by CAMT.053, MT940 and BBVA CSV.
_ANNOUNCED = ("250.00", "260.00", "270.00")


async def announce_demo_transfers(
    runtime: Runtime, gateways: GatewayDirectory, institution_id: int, *, today: date
) -> list[Payment]:
    """The first running loan's borrower announces SPEI transfers to the loan's CLABE (STP),
    through checkout as in the portal (``create_payment``; the same day again returns the
    same payments): each gets its referencia numérica, which the demo statements carry."""
    loan = (
        await Loan.filter(institution_id=institution_id, status__in=_RUNNING).order_by("id").first()
    )
    if loan is None:
        return []
    user = await User.get(id=loan.borrower_id)
    return [
        await create_payment(
            runtime,
            gateways,
            user,
            PaymentRequest(
                loan_id=loan.id,
                amount=amount,
                method=PaymentMethodType.SPEI,
                provider=ProviderName.STP,
                idempotency_key=f"demo-conciliacion-{today:%Y%m%d}-{n}",
            ),
        )
        for n, amount in enumerate(_ANNOUNCED, start=1)
    ]


def _credit(amount: Decimal, day: date, **kw: str) -> Movement:
    return Movement(Direction.CREDIT, amount, day, day, **kw)


async def demo_statements(
    institution_id: int, *, today: date, stp_cuenta: str
) -> dict[str, Writer]:
    """The demo files (file name: what writes it), from the institution's data."""
    loans = await Loan.filter(institution_id=institution_id, status__in=_RUNNING).order_by("id")
    stp = [
        _credit(
            Decimal("500.00"),
            today,
            clave_rastreo=f"DEMOSTP{loan.id:06d}",
            concept=f"PAGO PRESTAMO {loan.id}",
            counterparty_name="CLIENTE DEMO",
            beneficiary_account=loan_clabe(stp_cuenta, loan.id) if stp_cuenta else "",
        )
        for loan in loans
    ]
    stp.append(  # a CLABE that is no loan's: an exception for staff
        _credit(
            Decimal("321.00"),
            today,
            clave_rastreo="DEMOSTPX00001",
            concept="PAGO",
            beneficiary_account="646180157099999995",
        )
    )
    announced = await Payment.filter(
        institution_id=institution_id, method=PaymentMethodType.SPEI, status=S.REQUIRES_ACTION
    ).order_by("id")
    announced = list(announced)
    # The last two go to the MT940 and the BBVA export (when there are three or more).
    later_ones = announced[-2:] if len(announced) >= 3 else []
    later_ids = {p.id for p in later_ones}
    bank = [_announced(p, today, "SPEI RECIBIDO PAGO") for p in announced if p.id not in later_ids]
    bank += [
        _credit(
            from_centavos(s.net_centavos),
            s.arrival_date or today,
            concept=f"{s.provider.upper()} PAYOUT {s.provider_id}",
            bank_reference=f"DEMOPO{s.id:06d}",
        )
        for s in await GatewaySettlement.filter(institution_id=institution_id, line_id__isnull=True)
    ]
    bank += [
        Movement(
            Direction.DEBIT,
            from_centavos(d.amount_centavos),
            today,
            today,
            clave_rastreo=d.clave_rastreo,
            concept="SPEI ENVIADO DISPOSICION",
            bank_reference=f"DEMODSP{d.id:06d}",
        )
        for d in await Disbursement.filter(
            institution_id=institution_id, status=DisbursementStatus.SETTLED
        )
    ]
    bank.append(
        _credit(
            Decimal("1999.00"),
            today,
            concept="DEPOSITO EN EFECTIVO SUC 0421",
            bank_reference="DEMOCASH01",
        )
    )
    payroll, remittance = await _payroll(loans, today)
    bank.append(payroll)
    later = today + timedelta(days=1)
    first = announced[0] if announced else None
    wrong = _credit(  # a referencia the book knows, for one peso more: AMOUNT_MISMATCH
        from_centavos(first.amount_centavos + 100) if first else Decimal("101.00"),
        later,
        reference=str((first.next_action or {}).get("reference") or "") if first else "",
        concept="SPEI RECIBIDO",
        bank_reference="DEMOMT01",
    )
    mt940 = [bank[-1], wrong]  # the cash deposit again: the overlap is imported once
    bbva = []
    if later_ones:
        mt940.insert(1, _announced(later_ones[0], later, "SPEI RECIBIDO"))
        bbva.append(_announced(later_ones[1], later, "SPEI RECIBIDO BANCO DEMO"))
    bbva += [
        _credit(
            Decimal("750.00"), later, concept="DEPOSITO ANA DEMO PAGO PRESTAMO", clave_rastreo=""
        ),
        Movement(
            Direction.DEBIT,
            Decimal("116.00"),
            later,
            later,
            concept="COMISION MANEJO DE CUENTA",
            clave_rastreo="",
        ),
    ]
    paths: dict[str, Writer] = {
        "stp-demo.csv": lambda out: write_stp(out, stp),
        "camt053-demo.xml": lambda out: write_camt053(
            out, bank, account=BANK_ACCOUNT, statement_id=f"DEMO{today:%Y%m%d}"
        ),
        "mt940-demo.sta": lambda out: write_mt940(
            out,
            mt940,
            account=BANK_ACCOUNT,
            statement_id=f"DEMO{later:%Y%m%d}",
        ),
        "bbva-demo.csv": lambda out: write_bbva_csv(out, bbva),
        "nomina-demo.csv": lambda out: write_remittance(
            out, remittance, employer=DEMO_EMPLOYER, reference=f"NOM-ACEROS-{today:%Y%m%d}"
        ),
    }
    return paths


def _announced(payment: Payment, day: date, concept: str) -> Movement:
    """A transfer paying an announced SPEI, named by its referencia numérica."""
    return _credit(
        from_centavos(payment.amount_centavos),
        day,
        reference=str((payment.next_action or {}).get("reference") or ""),
        concept=concept,
        bank_reference=f"DEMOREF{payment.id:06d}",
    )


async def _payroll(loans: list[Loan], today: date) -> tuple[Movement, list[RemittanceLine]]:
    """The employer's deposit and its remittance; the first running loan's borrower is on
    the employer's payroll agreement (enrolled once, as an employee number)."""
    rows = [RemittanceLine(Decimal("300.00"), employee_id="E-9999", name="EMPLEADO SIN PRESTAMO")]
    if loans:
        enrolment, _ = await PayrollEnrolment.get_or_create(
            institution_id=loans[0].institution_id,
            employer=DEMO_EMPLOYER,
            employee_id=f"E-{loans[0].id:04d}",
            defaults={"loan_id": loans[0].id},
        )
        rows.insert(0, RemittanceLine(Decimal("1250.00"), employee_id=enrolment.employee_id))
    deposit = _credit(
        sum((row.amount for row in rows), Decimal("0.00")),
        today,
        concept=f"PAGO NOMINA ACEROS DEMO REMESA NOM-ACEROS-{today:%Y%m%d}",
        counterparty_name="ACEROS DEMO SA DE CV",
        bank_reference="DEMONOM01",
    )
    return deposit, rows


def write_statements(folder: Path, statements: dict[str, Writer]) -> list[Path]:
    """Write each statement into ``folder`` in its bank's encoding; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, writer in statements.items():
        path = folder / name
        encoding = "latin-1" if name.endswith((".sta", "bbva-demo.csv")) else "utf-8"
        with path.open("w", encoding=encoding, newline="") as out:
            writer(out)
        written.append(path)
    return written
