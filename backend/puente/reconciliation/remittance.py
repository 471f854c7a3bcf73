"""Payroll remittances (descuento vía nómina): one employer deposit, many loans.

The deposit arrives on a bank statement first; nothing on the book expects it, so it sits
in suspense as an exception (``booking.book_exception``). The employer's remittance file
says whose installments it carries. ``apply_remittance`` finds the deposit (the line staff
name, or the open one whose concept shows the remittance's reference), names each row's
loan (payroll enrolment by employee number, else the borrower's CURP or RFC), and splits it
(``matcher.split_remittance``):

| outcome                        | what happens                                              |
|--------------------------------|-----------------------------------------------------------|
| a row names a loan             | a PAID payment through the funnel (``payment_for_loan``), |
|                                | then Dr suspense, Cr cash_clearing[bank] (one entry)      |
| a row names nobody we know     | stays in suspense (one suspense item for the remittance's |
|                                | unknown rows): each row its own exception for its amount  |
| the total is not the deposit   | nothing is split; the deposit's exception says why        |

A file is applied once (its sha256); every step is audited; nothing is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.accounts.models import BorrowerProfile
from puente.accounts.users import CURP_CONTEXT, RFC_CONTEXT
from puente.audit.service import record_audit
from puente.enums import LedgerAccountType, ProviderName, SuspenseReason
from puente.identifiers import validate_curp, validate_rfc
from puente.ledger.entries import AccountRef, Line
from puente.ledger.suspense import open_suspense_item
from puente.loans.models import Loan
from puente.loans.terms import OPEN_STATUSES
from puente.money import from_centavos, to_centavos
from puente.payments.models import Payment
from puente.reconciliation.booking import payment_for_loan, post_settlement
from puente.reconciliation.enums import (
    Direction,
    ExceptionReason,
    ExceptionStatus,
    LineStatus,
    MatchKind,
    MatchStatus,
    RemittanceStatus,
    Resolution,
    Strategy,
)
from puente.reconciliation.exceptions import close_exception
from puente.reconciliation.matcher import RemittanceShare, split_remittance
from puente.reconciliation.models import (
    PayrollEnrolment,
    PayrollRemittance,
    PayrollRemittanceRow,
    ReconciliationException,
    StatementLine,
    StatementMatch,
)
from puente.reconciliation.remittance_file import RemittanceFile, RemittanceRow, load_layout
from puente.reconciliation.remittance_file import read_remittance as read_file
from puente.reconciliation.service import file_sha256
from puente.runtime import Runtime
from puente.security.crypto import blind_index

__all__ = ["RemittanceRefused", "RemittanceSummary", "apply_remittance"]


class RemittanceRefused(ValueError):
    """The remittance cannot be applied (Spanish, for staff); nothing changed."""


@dataclass(frozen=True, slots=True)
class RemittanceSummary:
    remittance_id: int
    line_id: int
    status: RemittanceStatus
    rows: int
    applied: int
    unknown: int
    total_centavos: int
    detail: str

    def as_json(self) -> dict[str, object]:
        return {
            "remittance": self.remittance_id,
            "line": self.line_id,
            "status": self.status.value,
            "rows": self.rows,
            "applied": self.applied,
            "unknown": self.unknown,
            "total": str(from_centavos(self.total_centavos)),
        }


def _identity(row: RemittanceRow) -> str:
    """What is kept of who the row names: the employee number, or 4 letters of CURP/RFC."""
    if row.employee_id:
        return f"empleado {row.employee_id}"[:24]
    return f"{(row.curp or row.rfc)[:4]}…"


async def _deposit(
    institution_id: int, line_id: int | None, found: RemittanceFile
) -> StatementLine:
    if line_id is not None:
        line = await StatementLine.filter(id=line_id, institution_id=institution_id).first()
        if line is None:
            raise RemittanceRefused(f"no existe el movimiento {line_id}")
        return line
    if not found.reference:
        raise RemittanceRefused("la remesa no trae referencia: indique el depósito (--deposit)")
    waiting = await StatementLine.filter(
        institution_id=institution_id,
        direction=Direction.CREDIT,
        exceptions__status=ExceptionStatus.OPEN,
        exceptions__amount_centavos__isnull=True,
    ).distinct()
    wanted = found.reference.casefold()
    named = [
        line
        for line in waiting
        if wanted in " ".join([line.concept, line.reference, line.bank_reference]).casefold()
    ]
    if len(named) != 1:
        raise RemittanceRefused(
            f"{'ningún' if not named else 'más de un'} depósito pendiente menciona la referencia "
            f"{found.reference!r}: indique el depósito (--deposit)"
        )
    return named[0]


async def _loan_of(
    runtime: Runtime, institution_id: int, employer: str, row: RemittanceRow
) -> tuple[int | None, str]:
    """The loan a row pays, or None and why (employee number first, then CURP, then RFC)."""
    if row.employee_id:
        enrolment = await PayrollEnrolment.filter(
            institution_id=institution_id, employer=employer, employee_id=row.employee_id
        ).first()
        if enrolment is not None:
            return enrolment.loan_id, ""
    profile = None
    try:
        if row.curp:
            index = blind_index(
                validate_curp(row.curp), context=CURP_CONTEXT, index_key=runtime.index_key
            )
            profile = await BorrowerProfile.filter(curp_index=index).first()
        if profile is None and row.rfc:
            index = blind_index(
                validate_rfc(row.rfc).rfc, context=RFC_CONTEXT, index_key=runtime.index_key
            )
            profile = await BorrowerProfile.filter(rfc_index=index).first()
    except ValueError:
        return None, "CURP o RFC inválido"
    if profile is None:
        return None, "nadie con ese número de empleado, CURP o RFC"
    loans = await Loan.filter(
        institution_id=institution_id, borrower_id=profile.user_id, status__in=OPEN_STATUSES
    ).values_list("id", flat=True)
    if len(loans) != 1:
        return None, f"{'ningún' if not loans else 'más de un'} préstamo vigente"
    return loans[0], ""


async def apply_remittance(
    runtime: Runtime,
    institution_id: int,
    path: Path,
    *,
    at: datetime,
    layout: str = "nomina",
    line_id: int | None = None,
    actor_id: int | None = None,
) -> RemittanceSummary:
    """Split a payroll deposit across the loans its remittance file names."""
    found = read_file(path, load_layout(layout))  # MalformedStatement: nothing happens
    sha = file_sha256(path)
    done = await PayrollRemittance.filter(institution_id=institution_id, file_sha256=sha).first()
    if done is not None and done.status is RemittanceStatus.APPLIED:
        raise RemittanceRefused(f"esta remesa ya se aplicó (remesa {done.id})")
    line = await _deposit(institution_id, line_id, found)
    whole = await ReconciliationException.filter(
        line_id=line.id, status=ExceptionStatus.OPEN, amount_centavos__isnull=True
    ).first()
    if line.direction != Direction.CREDIT or whole is None:
        raise RemittanceRefused(
            f"el movimiento {line.id} no es un depósito pendiente en la cola de excepciones"
        )
    resolved = [await _loan_of(runtime, institution_id, found.employer, r) for r in found.rows]
    shares = [
        RemittanceShare(row.position, to_centavos(row.amount), loan_id)
        for row, (loan_id, _) in zip(found.rows, resolved, strict=True)
    ]
    split = split_remittance(line.amount_centavos, shares)
    if split.mismatch:
        return await _mismatch(found, sha, path, line, whole, actor_id, institution_id)
    key = f"remittance-{sha[:24]}"
    payments: dict[int, Payment] = {}
    for share in split.applied:
        payments[share.position] = await payment_for_loan(
            runtime,
            await Loan.get(id=share.loan_id),
            share.centavos,
            provider=ProviderName.BANK,
            key=f"{key}-{share.position}",
            source=f"reconciliation:remittance:{line.id}",
            at=at,
        )
    why = {row.position: reason for row, (_, reason) in zip(found.rows, resolved, strict=True)}
    return await _book_split(
        found,
        sha,
        path,
        line,
        whole,
        split.applied,
        split.unknown,
        payments,
        why,
        actor_id=actor_id,
        at=at,
    )


def _fields(
    found: RemittanceFile,
    path: Path,
    line: StatementLine,
    status: RemittanceStatus,
    detail: str,
    actor_id: int | None,
) -> dict[str, object]:
    """A ``PayrollRemittance`` row's values."""
    return {
        "employer": found.employer[:40],
        "reference": found.reference[:80],
        "file_name": path.name[:200],
        "total_centavos": to_centavos(found.total),
        "row_count": len(found.rows),
        "line_id": line.id,
        "status": status,
        "detail": detail[:300],
        "imported_by_id": actor_id,
    }


async def _mismatch(
    found: RemittanceFile,
    sha: str,
    path: Path,
    line: StatementLine,
    whole: ReconciliationException,
    actor_id: int | None,
    institution_id: int,
) -> RemittanceSummary:
    detail = (
        f"remesa {found.reference or found.employer}: suma {found.total}"
        f", el depósito es de {from_centavos(line.amount_centavos)}"
    )
    async with in_transaction() as tx:
        remittance, _ = await PayrollRemittance.get_or_create(
            institution_id=institution_id,
            file_sha256=sha,
            defaults=_fields(found, path, line, RemittanceStatus.MISMATCH, detail, actor_id),
            using_db=tx,
        )
        await (
            ReconciliationException.filter(id=whole.id)
            .using_db(tx)
            .update(reason=ExceptionReason.REMITTANCE_MISMATCH.value, detail=detail[:300])
        )
        await record_audit(
            "reconciliation.remittance_mismatch",
            actor_id=actor_id,
            institution_id=institution_id,
            subject_type="payroll_remittance",
            subject_id=remittance.id,
            data={"line": line.id, "detail": detail},
            conn=tx,
        )
    return RemittanceSummary(
        remittance.id,
        line.id,
        RemittanceStatus.MISMATCH,
        len(found.rows),
        0,
        0,
        to_centavos(found.total),
        detail,
    )


async def _book_split(
    found: RemittanceFile,
    sha: str,
    path: Path,
    line: StatementLine,
    whole: ReconciliationException,
    applied: tuple[RemittanceShare, ...],
    unknown: tuple[RemittanceShare, ...],
    payments: dict[int, Payment],
    why: dict[int, str],
    *,
    actor_id: int | None,
    at: datetime,
) -> RemittanceSummary:
    inst = line.institution_id
    by_position = {row.position: row for row in found.rows}
    paid = sum(share.centavos for share in applied)
    async with in_transaction() as tx:
        locked = await ReconciliationException.select_for_update().using_db(tx).get(id=whole.id)
        if locked.status is not ExceptionStatus.OPEN:
            raise RemittanceRefused("ese depósito ya se resolvió")
        remittance, _ = await PayrollRemittance.update_or_create(
            institution_id=inst,
            file_sha256=sha,
            defaults=_fields(
                found,
                path,
                line,
                RemittanceStatus.APPLIED,
                f"{len(applied)} aplicados, {len(unknown)} sin identificar",
                actor_id,
            ),
            using_db=tx,
        )
        # The deposit leaves suspense whole; what no loan took goes back in, under one
        # suspense item its rows' exceptions share (a suspense item belongs to one entry).
        left = sum(share.centavos for share in unknown)
        suspense = AccountRef(inst, LedgerAccountType.SUSPENSE)
        clearing = AccountRef(inst, LedgerAccountType.CASH_CLEARING, provider=ProviderName.BANK)
        lines = [Line(suspense, line.amount_centavos), Line(clearing, -paid), Line(suspense, -left)]
        entry = await post_settlement(
            [x for x in lines if x.centavos],
            f"recon-remittance-{remittance.id}",
            f"conciliación: remesa {remittance.id} ({found.reference}), {len(applied)} pagos",
            at,
            tx,
        )
        for share in applied:
            payment = payments[share.position]
            await StatementMatch.create(
                institution_id=inst,
                line_id=line.id,
                kind=MatchKind.LOAN.value,
                strategy=Strategy.REMITTANCE.value,
                key="remesa",
                confidence=100,
                amount_centavos=share.centavos,
                payment_id=payment.id,
                loan_id=payment.loan_id,
                status=MatchStatus.BOOKED,
                entry_id=entry.id,
                using_db=tx,
            )
            await _row(remittance, by_position[share.position], share, tx, payment=payment)
        item = None
        if unknown:
            item = await open_suspense_item(
                entry,
                from_centavos(left),
                SuspenseReason.UNEXPLAINED_DEPOSIT,
                loan_id=None,
                payment_id=None,
                source=f"remittance:{remittance.id}",
                conn=tx,
            )
        for share in unknown:
            row = by_position[share.position]
            exception = await ReconciliationException.create(
                institution_id=inst,
                line_id=line.id,
                reason=ExceptionReason.UNKNOWN_EMPLOYEE.value,
                detail=f"remesa {found.reference}, línea {row.position}: {_identity(row)} "
                f"{row.name}: {why[row.position]}"[:300],
                amount_centavos=share.centavos,
                suspense_item_id=item.id if item else None,
                using_db=tx,
            )
            await _row(remittance, row, share, tx, exception=exception)
        note = f"remesa {remittance.id} ({found.reference})"
        # The deposit's own exception is explained by its remittance (its unknown rows are
        # new exceptions, each for its part, under a suspense item of their own).
        await close_exception(
            locked, Resolution.SPLIT_BY_REMITTANCE, note, actor_id=actor_id, at=at, conn=tx
        )
        status = LineStatus.EXCEPTION if unknown else LineStatus.MATCHED
        await StatementLine.filter(id=line.id).using_db(tx).update(status=status)
        await record_audit(
            "reconciliation.remittance_applied",
            actor_id=actor_id,
            institution_id=inst,
            subject_type="payroll_remittance",
            subject_id=remittance.id,
            data={
                "line": line.id,
                "payments": [p.id for p in payments.values()],
                "unknown_rows": [s.position for s in unknown],
                "entry": entry.id,
            },
            conn=tx,
        )
    return RemittanceSummary(
        remittance.id,
        line.id,
        RemittanceStatus.APPLIED,
        len(found.rows),
        len(applied),
        len(unknown),
        to_centavos(found.total),
        remittance.detail,
    )


async def _row(
    remittance: PayrollRemittance,
    row: RemittanceRow,
    share: RemittanceShare,
    tx: BaseDBAsyncClient,
    *,
    payment: Payment | None = None,
    exception: ReconciliationException | None = None,
) -> None:
    await PayrollRemittanceRow.create(
        remittance_id=remittance.id,
        position=row.position,
        employee_id=row.employee_id,
        identity=_identity(row),
        name=row.name,
        amount_centavos=share.centavos,
        loan_id=share.loan_id,
        payment_id=payment.id if payment else None,
        exception_id=exception.id if exception else None,
        using_db=tx,
    )
