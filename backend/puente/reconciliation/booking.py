"""What a matched (or unexplained) statement line does to the books. The one place.

| line explained by                | postings (Dr + / Cr −)                                   |
|----------------------------------|----------------------------------------------------------|
| a payment (money in clearing)    | Dr bank, Cr cash_clearing[payment's provider]            |
| a loan's CLABE, no payment yet   | a PAID payment through the funnel (``advance_and_notify``),|
|                                  | then Dr bank, Cr cash_clearing[provider]                 |
| a gateway payout                 | Dr bank (net), Dr provider_fees_expense (fee),           |
|                                  | Dr vat_creditable (IVA on the fee), Cr cash_clearing[p]  |
|                                  | (gross)                                                  |
| a disbursement (money out)       | nothing: the payout already credited bank                |
| nothing (or only a suggestion)   | Dr bank, Cr suspense (money out: the reverse), with a    |
|                                  | ``SuspenseItem`` and a ``ReconciliationException``       |

Each line is booked once (journal idempotency key ``recon-line-<id>``); the funnel step runs
first in its own transaction and is itself exactly-once, so a rerun after a crash completes.
The funnel step is ``payments.outcomes.advance_and_notify``, as for a webhook or a
checkout: subscribers are told and AML monitoring looks at every payment that became PAID.
The common case, lines proving payments already PAID, is booked in batches
(``book_paid_payments``): one entry and one audit record per batch of 2,000 lines, each line
keeping its own ``StatementMatch`` pointing at that entry, so a million-line statement is
not a million transactions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.audit.service import record_audit
from puente.enums import JournalKind, LedgerAccountType, SuspenseReason
from puente.enums import PaymentStatus as S
from puente.ledger.entries import AccountRef, Line
from puente.ledger.models import JournalEntry
from puente.ledger.posting import AlreadyPosted, post_entry
from puente.ledger.suspense import open_suspense_item
from puente.loans.models import Loan
from puente.money import from_centavos
from puente.payments.models import Payment
from puente.payments.outcomes import advance_and_notify
from puente.payments.spei_inbound import unannounced_payment
from puente.reconciliation.bulk import insert_rows, set_status
from puente.reconciliation.enums import (
    Direction,
    ExceptionReason,
    LineStatus,
    MatchKind,
    MatchStatus,
)
from puente.reconciliation.matcher import Proposal, Unmatched
from puente.reconciliation.models import (
    GatewaySettlement,
    ReconciliationException,
    StatementLine,
    StatementMatch,
)
from puente.runtime import MEXICO_CITY, Runtime

__all__ = [
    "LineBooking",
    "PaidPayment",
    "book_paid_payments",
    "book_exception",
    "book_proposal",
    "clearing_to_bank",
    "payment_for_loan",
    "post_settlement",
]


@dataclass(frozen=True, slots=True)
class PaidPayment:
    """What batch booking needs of a PAID payment (read as values, not a model)."""

    id: int
    loan_id: int
    provider: str


@dataclass(frozen=True, slots=True)
class LineBooking:
    """What booking one line did."""

    line_id: int
    status: LineStatus
    entry_id: int | None


def _ref(institution_id: int, kind: LedgerAccountType, provider: str | None = None) -> AccountRef:
    return AccountRef(institution_id, kind, provider=provider)


async def post_settlement(
    lines: list[Line],
    key: str,
    memo: str,
    on: datetime,
    conn: BaseDBAsyncClient,
    **links: int | None,
) -> JournalEntry:
    """Post a reconciliation entry once (its key); a repeat returns the first."""
    try:
        return await post_entry(
            lines,
            kind=JournalKind.SETTLEMENT,
            effective_date=on.astimezone(MEXICO_CITY).date(),
            memo=memo,
            idempotency_key=key,
            conn=conn,
            **links,
        )
    except AlreadyPosted as done:
        return done.entry


def clearing_to_bank(
    institution_id: int, provider: str, centavos: int, *, source: LedgerAccountType
) -> list[Line]:
    """Money the provider (or suspense) held reaches the bank: Dr bank, Cr ``source``."""
    credit = _ref(
        institution_id, source, provider if source is LedgerAccountType.CASH_CLEARING else None
    )
    return [Line(_ref(institution_id, LedgerAccountType.BANK), centavos), Line(credit, -centavos)]


def _payout_lines(institution_id: int, s: GatewaySettlement) -> list[Line]:
    provider = str(s.provider)
    lines = [
        Line(_ref(institution_id, LedgerAccountType.BANK), s.net_centavos),
        Line(_ref(institution_id, LedgerAccountType.PROVIDER_FEES_EXPENSE), s.fee_centavos),
        Line(_ref(institution_id, LedgerAccountType.VAT_CREDITABLE), s.fee_vat_centavos),
        Line(_ref(institution_id, LedgerAccountType.CASH_CLEARING, provider), -s.gross_centavos),
    ]
    return [line for line in lines if line.centavos != 0]


async def payment_for_loan(
    runtime: Runtime,
    loan: Loan,
    centavos: int,
    *,
    provider: str,
    key: str,
    source: str,
    at: datetime,
) -> Payment:
    """Money for a loan with no payment: recorded as a PAID payment through the funnel
    (prelación, suspense for what the loan cannot take), exactly once per ``key``, like
    an STP abono (``payments/spei_inbound``)."""
    payment = await unannounced_payment(loan, centavos, provider=provider, key=key)
    await advance_and_notify(
        runtime, payment.id, S.PAID, source=source, at=at, provider_reference=key
    )
    return await Payment.get(id=payment.id)


async def _funnel(
    runtime: Runtime, line: StatementLine, proposal: Proposal, provider: str, at: datetime
) -> tuple[MatchKind, Payment | None]:
    """Bring the payment a line proves into PAID (before any clearing posting)."""
    kind, _, ident = proposal.expected_keys[0].partition(":")
    source = f"reconciliation:line:{line.id}"
    if kind == MatchKind.PAYMENT:
        payment = await Payment.get(id=int(ident))
        if payment.status is not S.PAID:
            await advance_and_notify(
                runtime,
                payment.id,
                S.PAID,
                source=source,
                at=at,
                reported_amount=from_centavos(line.amount_centavos),
            )
            payment = await Payment.get(id=payment.id)
        return MatchKind.PAYMENT, payment
    if kind == MatchKind.LOAN:
        loan = await Loan.get(id=int(ident))
        payment = await payment_for_loan(
            runtime,
            loan,
            line.amount_centavos,
            provider=provider,
            key=f"recon-line-{line.id}",
            source=source,
            at=at,
        )
        return MatchKind.LOAN, payment
    return MatchKind(kind), None


async def book_proposal(
    runtime: Runtime,
    line: StatementLine,
    proposal: Proposal,
    *,
    provider: str,
    at: datetime,
) -> LineBooking:
    """Book a proposal the matcher was sure of (``proposal.booked``) for one line."""
    kind, payment = await _funnel(runtime, line, proposal, provider, at)
    if payment is not None and payment.status is not S.PAID:
        # The funnel refused (amount mismatch, a state that cannot be paid): staff decide.
        return await book_exception(
            line, Unmatched(line.id, ExceptionReason.AMOUNT_MISMATCH, f"pago {payment.id}"), at=at
        )
    async with in_transaction() as tx:
        entry = None
        settlements = []
        if kind in (MatchKind.PAYMENT, MatchKind.LOAN) and payment is not None:
            entry = await post_settlement(
                clearing_to_bank(
                    line.institution_id,
                    str(payment.provider),
                    line.amount_centavos,
                    source=LedgerAccountType.CASH_CLEARING,
                ),
                f"recon-line-{line.id}",
                f"conciliación: línea {line.id}, pago {payment.id}",
                at,
                tx,
                loan_id=payment.loan_id,
                payment_id=payment.id,
            )
        elif kind is MatchKind.SETTLEMENT:
            ids = [int(k.partition(":")[2]) for k in proposal.expected_keys]
            settlements = await GatewaySettlement.filter(id__in=ids).using_db(tx)
            lines = [x for s in settlements for x in _payout_lines(line.institution_id, s)]
            entry = await post_settlement(
                lines,
                f"recon-line-{line.id}",
                f"conciliación: línea {line.id}, pago del proveedor",
                at,
                tx,
            )
            await GatewaySettlement.filter(id__in=ids).using_db(tx).update(line_id=line.id)
        await _record_matches(line, proposal, kind, payment, entry, MatchStatus.BOOKED, tx)
        await StatementLine.filter(id=line.id).using_db(tx).update(status=LineStatus.MATCHED)
        await record_audit(
            "reconciliation.line_matched",
            institution_id=line.institution_id,
            subject_type="statement_line",
            subject_id=line.id,
            data={
                "matched": list(proposal.expected_keys),
                "strategy": proposal.strategy.value,
                "key": proposal.key,
                "confidence": proposal.confidence,
                "entry": entry.id if entry else None,
            },
            conn=tx,
        )
    return LineBooking(line.id, LineStatus.MATCHED, entry.id if entry else None)


_BATCH = 2000
# A ``StatementMatch`` as plain values (``bulk.insert_rows``): batches build no models.
_MATCH_COLUMNS = (
    "institution_id",
    "line_id",
    "kind",
    "strategy",
    "key",
    "confidence",
    "amount_centavos",
    "payment_id",
    "loan_id",
    "disbursement_id",
    "settlement_ref",
    "status",
    "entry_id",
    "created_at",
)


async def book_paid_payments(
    pairs: Sequence[tuple[StatementLine, Proposal, PaidPayment]], *, at: datetime
) -> list[LineBooking]:
    """Lines that prove payments already PAID (their money in clearing): Dr bank, Cr
    cash_clearing per provider, one entry per batch (idempotency key: the batch's lines)."""
    bookings: list[LineBooking] = []
    for start in range(0, len(pairs), _BATCH):
        bookings += await _paid_batch(pairs[start : start + _BATCH], at)
    return bookings


async def _paid_batch(
    batch: Sequence[tuple[StatementLine, Proposal, PaidPayment]], at: datetime
) -> list[LineBooking]:
    institution_id = batch[0][0].institution_id
    by_provider: dict[str, int] = defaultdict(int)
    for line, _, payment in batch:
        by_provider[payment.provider] += line.amount_centavos
    lines = [Line(_ref(institution_id, LedgerAccountType.BANK), sum(by_provider.values()))]
    lines += [
        Line(_ref(institution_id, LedgerAccountType.CASH_CLEARING, provider), -centavos)
        for provider, centavos in sorted(by_provider.items())
    ]
    ids = [line.id for line, _, _ in batch]
    async with in_transaction() as tx:
        entry = await post_settlement(
            lines,
            f"recon-lines-{ids[0]}-{ids[-1]}-{len(ids)}",
            f"conciliación: {len(ids)} líneas, pagos ya cobrados",
            at,
            tx,
        )
        now = timezone.now()
        await insert_rows(
            StatementMatch,
            _MATCH_COLUMNS,
            [
                (
                    institution_id,
                    line.id,
                    MatchKind.PAYMENT.value,
                    proposal.strategy.value,
                    proposal.key,
                    proposal.confidence,
                    line.amount_centavos,
                    payment.id,
                    payment.loan_id,
                    None,
                    "",
                    MatchStatus.BOOKED.value,
                    entry.id,
                    now,
                )
                for line, proposal, payment in batch
            ],
            tx,
        )
        await set_status(StatementLine, ids, LineStatus.MATCHED.value, tx)
        await record_audit(
            "reconciliation.lines_matched",
            institution_id=institution_id,
            subject_type="journal_entry",
            subject_id=entry.id,
            data={
                "lines": ids,
                "payments": [payment.id for _, _, payment in batch],
                "entry": entry.id,
            },
            conn=tx,
        )
    return [LineBooking(i, LineStatus.MATCHED, entry.id) for i in ids]


async def _record_matches(
    line: StatementLine,
    proposal: Proposal,
    kind: MatchKind,
    payment: Payment | None,
    entry: JournalEntry | None,
    status: MatchStatus,
    conn: BaseDBAsyncClient,
) -> None:
    for key in proposal.expected_keys:
        item_kind, _, ident = key.partition(":")
        await StatementMatch.create(
            institution_id=line.institution_id,
            line_id=line.id,
            kind=item_kind,
            strategy=proposal.strategy.value,
            key=proposal.key,
            confidence=proposal.confidence,
            amount_centavos=line.amount_centavos,
            payment_id=payment.id if payment else (int(ident) if item_kind == "payment" else None),
            loan_id=payment.loan_id if payment else (int(ident) if item_kind == "loan" else None),
            disbursement_id=int(ident) if item_kind == "disbursement" else None,
            settlement_ref=ident if item_kind == "settlement" else "",
            status=status,
            entry_id=entry.id if entry else None,
            using_db=conn,
        )


async def book_exception(
    line: StatementLine,
    unmatched: Unmatched,
    *,
    at: datetime,
    suggestion: Proposal | None = None,
) -> LineBooking:
    """Nothing (sure) explains the line: its money goes to suspense, staff get an exception.

    The bank's money is real either way, so the books follow the statement now; resolving
    the exception moves it from suspense to where it belongs (``exceptions.resolve``).
    """
    credit = line.direction == Direction.CREDIT
    bank = _ref(line.institution_id, LedgerAccountType.BANK)
    suspense = _ref(line.institution_id, LedgerAccountType.SUSPENSE)
    amount = line.amount_centavos if credit else -line.amount_centavos
    async with in_transaction() as tx:
        entry = await post_settlement(
            [Line(bank, amount), Line(suspense, -amount)],
            f"recon-line-{line.id}",
            f"conciliación: línea {line.id} sin explicar",
            at,
            tx,
        )
        existing = await ReconciliationException.filter(line_id=line.id).using_db(tx).first()
        if existing is not None:
            return LineBooking(line.id, LineStatus(line.status), entry.id)
        item = await open_suspense_item(
            entry,
            from_centavos(line.amount_centavos),
            SuspenseReason.UNEXPLAINED_DEPOSIT if credit else SuspenseReason.UNEXPLAINED_DEBIT,
            loan_id=None,
            payment_id=None,
            source=f"statement:{line.statement_id}:line:{line.id}",
            conn=tx,
        )
        reason = ExceptionReason.LOW_CONFIDENCE if suggestion else unmatched.reason
        await ReconciliationException.create(
            institution_id=line.institution_id,
            line_id=line.id,
            reason=reason.value,
            detail=unmatched.detail[:300],
            suspense_item_id=item.id,
            using_db=tx,
        )
        status = LineStatus.SUGGESTED if suggestion else LineStatus.EXCEPTION
        if suggestion is not None:
            await _record_matches(
                line,
                suggestion,
                MatchKind(suggestion.expected_keys[0].partition(":")[0]),
                None,
                None,
                MatchStatus.SUGGESTED,
                tx,
            )
        await StatementLine.filter(id=line.id).using_db(tx).update(status=status)
        await record_audit(
            "reconciliation.exception_opened",
            institution_id=line.institution_id,
            subject_type="statement_line",
            subject_id=line.id,
            data={"reason": reason.value, "detail": unmatched.detail, "entry": entry.id},
            conn=tx,
        )
    return LineBooking(line.id, status, entry.id)
