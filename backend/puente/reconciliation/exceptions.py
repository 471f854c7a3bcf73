"""The exceptions queue: lines nothing explained, until staff say what they are.

Every open exception's money is in ``suspense`` (``booking.book_exception``). Resolving it:

| resolution          | what happens                                                      |
|---------------------|-------------------------------------------------------------------|
| MATCHED_BY_HAND     | it pays this payment: PAID through the funnel                     |
|                     | (``advance_and_notify``) if it was not yet,                       |
|                     | then Dr suspense, Cr cash_clearing[payment's provider]            |
| APPLIED_TO_LOAN     | it pays this loan: a payment through the funnel, then as above    |
| RETURNED            | sent back to the payer: Dr suspense, Cr bank (money in) or the    |
|                     | reverse (money out that came back)                                |
| NOT_A_LOAN_PAYMENT  | something else (the note says what); the suspense item is closed  |
|                     | with that note and the books are left to accounting, as for any   |
|                     | resolved ``SuspenseItem``                                         |

Each resolution is audited; an exception is resolved once; nothing is deleted.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.audit.service import record_audit
from puente.enums import LedgerAccountType, ProviderName, SuspenseStatus
from puente.enums import PaymentStatus as S
from puente.ledger.entries import AccountRef, Line
from puente.ledger.models import SuspenseItem
from puente.loans.models import Loan
from puente.money import from_centavos
from puente.payments.change_notices import notify_institution
from puente.payments.models import Payment
from puente.payments.outcomes import advance_and_notify
from puente.reconciliation.booking import clearing_to_bank, payment_for_loan, post_settlement
from puente.reconciliation.enums import (
    Direction,
    ExceptionStatus,
    LineStatus,
    MatchKind,
    MatchStatus,
    Resolution,
    Strategy,
)
from puente.reconciliation.models import ReconciliationException, StatementLine, StatementMatch
from puente.runtime import Runtime

__all__ = [
    "ResolutionRefused",
    "close_exception",
    "exception_amount",
    "open_exceptions",
    "resolve_exception",
]


class ResolutionRefused(ValueError):
    """The resolution cannot be applied (message in Spanish, for staff); nothing changed."""


async def open_exceptions(institution_id: int) -> list[ReconciliationException]:
    """The institution's open exceptions, oldest first."""
    return (
        await ReconciliationException.filter(
            institution_id=institution_id, status=ExceptionStatus.OPEN
        )
        .order_by("id")
        .prefetch_related("line")
    )


async def close_exception(
    exc: ReconciliationException,
    resolution: Resolution,
    note: str,
    *,
    actor_id: int | None,
    at: datetime,
    conn: BaseDBAsyncClient,
) -> None:
    """Mark a (locked) exception resolved, and its suspense item with it once no other open
    exception shares that item (the unknown rows of one remittance share one)."""
    exc.status = ExceptionStatus.RESOLVED
    exc.resolution = resolution.value
    exc.note = note[:300]
    exc.resolved_by_id = actor_id
    exc.resolved_at = at
    await exc.save(using_db=conn)
    if exc.suspense_item_id is None:
        return
    shared = (
        await ReconciliationException.filter(
            suspense_item_id=exc.suspense_item_id, status=ExceptionStatus.OPEN
        )
        .using_db(conn)
        .exists()
    )
    if not shared:
        await (
            SuspenseItem.filter(id=exc.suspense_item_id)
            .using_db(conn)
            .update(
                status=SuspenseStatus.RESOLVED,
                resolution=f"{resolution.value}: {note}"[:300],
                resolved_by_id=actor_id,
                resolved_at=at,
            )
        )


def exception_amount(exc: ReconciliationException, line: StatementLine) -> int:
    """The centavos an exception is about: its own part (a remittance row), or the line."""
    return line.amount_centavos if exc.amount_centavos is None else exc.amount_centavos


async def _payment_for(
    runtime: Runtime,
    exc: ReconciliationException,
    line: StatementLine,
    resolution: Resolution,
    *,
    payment_id: int | None,
    loan_id: int | None,
    at: datetime,
) -> Payment | None:
    """The funnel step of a resolution (before the suspense entry), or None."""
    source = f"reconciliation:exception:{exc.id}"
    amount = exception_amount(exc, line)
    if resolution is Resolution.MATCHED_BY_HAND:
        payment = await Payment.filter(id=payment_id, institution_id=exc.institution_id).first()
        if payment is None:
            raise ResolutionRefused("no existe ese pago en esta institución")
        if payment.amount_centavos != amount:
            raise ResolutionRefused(
                f"el pago es de {from_centavos(payment.amount_centavos)} y el movimiento de "
                f"{from_centavos(amount)}: aplíquelo al préstamo"
            )
        if payment.status is not S.PAID:
            await advance_and_notify(runtime, payment.id, S.PAID, source=source, at=at)
            payment = await Payment.get(id=payment.id)
        if payment.status is not S.PAID:
            raise ResolutionRefused(f"el pago {payment.id} no puede marcarse como pagado")
        return payment
    if resolution is Resolution.APPLIED_TO_LOAN:
        loan = await Loan.filter(id=loan_id, institution_id=exc.institution_id).first()
        if loan is None:
            raise ResolutionRefused("no existe ese préstamo en esta institución")
        return await payment_for_loan(
            runtime,
            loan,
            amount,
            provider=ProviderName.BANK,
            key=f"recon-exception-{exc.id}",
            source=source,
            at=at,
        )
    return None


def _entry_lines(
    line: StatementLine, amount: int, resolution: Resolution, payment: Payment | None
) -> list[Line]:
    inst = line.institution_id
    if payment is not None:
        # Money in suspense was this payment's: suspense → clearing, as if it had matched.
        lines = clearing_to_bank(
            inst,
            str(payment.provider),
            amount,
            source=LedgerAccountType.CASH_CLEARING,
        )
        suspense = AccountRef(inst, LedgerAccountType.SUSPENSE)
        return [Line(suspense, lines[0].centavos), lines[1]]
    if resolution is Resolution.RETURNED:
        sign = 1 if line.direction == Direction.CREDIT else -1
        amount = sign * amount
        return [
            Line(AccountRef(inst, LedgerAccountType.SUSPENSE), amount),
            Line(AccountRef(inst, LedgerAccountType.BANK), -amount),
        ]
    return []


async def resolve_exception(
    runtime: Runtime,
    exception_id: int,
    resolution: Resolution,
    *,
    actor_id: int,
    institution_id: int,
    note: str,
    at: datetime,
    payment_id: int | None = None,
    loan_id: int | None = None,
) -> ReconciliationException:
    """Staff decide what an exception is; refused (``ResolutionRefused``) changes nothing."""
    note = note.strip()[:300]
    if not note:
        raise ResolutionRefused("escriba cómo se resolvió")
    if resolution is Resolution.SPLIT_BY_REMITTANCE:
        raise ResolutionRefused("una remesa de nómina se aplica con su archivo")
    exc = await ReconciliationException.filter(
        id=exception_id, institution_id=institution_id
    ).first()
    if exc is None:
        raise ResolutionRefused("no existe esa excepción")
    if exc.status is not ExceptionStatus.OPEN:
        raise ResolutionRefused("esa excepción ya se resolvió")
    line = await StatementLine.get(id=exc.line_id)
    if resolution in (Resolution.MATCHED_BY_HAND, Resolution.APPLIED_TO_LOAN) and (
        line.direction != Direction.CREDIT
    ):
        raise ResolutionRefused("solo un depósito puede ser el pago de un préstamo")
    payment = await _payment_for(
        runtime, exc, line, resolution, payment_id=payment_id, loan_id=loan_id, at=at
    )
    async with in_transaction() as tx:
        locked = await ReconciliationException.select_for_update().using_db(tx).get(id=exc.id)
        if locked.status is not ExceptionStatus.OPEN:
            raise ResolutionRefused("esa excepción ya se resolvió")
        entry = None
        lines = _entry_lines(line, exception_amount(exc, line), resolution, payment)
        if lines:
            entry = await post_settlement(
                lines,
                f"recon-exception-{exc.id}",
                f"conciliación: excepción {exc.id} resuelta ({resolution.value})",
                at,
                tx,
                loan_id=payment.loan_id if payment else None,
                payment_id=payment.id if payment else None,
            )
        if payment is not None:
            await StatementMatch.create(
                institution_id=line.institution_id,
                line_id=line.id,
                kind=MatchKind.PAYMENT.value,
                strategy=Strategy.MANUAL.value,
                key="staff",
                confidence=100,
                amount_centavos=exception_amount(exc, line),
                payment_id=payment.id,
                loan_id=payment.loan_id,
                status=MatchStatus.BOOKED,
                entry_id=entry.id if entry else None,
                using_db=tx,
            )
        await (
            StatementMatch.filter(line_id=line.id, status=MatchStatus.SUGGESTED)
            .using_db(tx)
            .update(status=MatchStatus.REJECTED if payment is None else MatchStatus.BOOKED)
        )
        await close_exception(locked, resolution, note, actor_id=actor_id, at=at, conn=tx)
        still_open = await (
            ReconciliationException.filter(line_id=line.id, status=ExceptionStatus.OPEN)
            .using_db(tx)
            .exists()
        )
        if not still_open:  # a remittance may leave several parts of one line open
            await StatementLine.filter(id=line.id).using_db(tx).update(status=LineStatus.RESOLVED)
        await record_audit(
            "reconciliation.exception_resolved",
            actor_id=actor_id,
            institution_id=line.institution_id,
            subject_type="reconciliation_exception",
            subject_id=exc.id,
            data={
                "resolution": resolution.value,
                "note": note,
                "payment": payment.id if payment else None,
                "entry": entry.id if entry else None,
            },
            conn=tx,
        )
    # The staff dashboards hear it, whichever door resolved it (console, page, GraphQL).
    await notify_institution(
        runtime.bus, line.institution_id, "exception.resolved", runtime.now(), subject_id=line.id
    )
    return locked
