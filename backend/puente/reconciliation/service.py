"""Importing a statement and reconciling it: the use cases the doors call.

``import_statement`` stores a file's lines in one transaction (a malformed file stores
nothing; the same file twice, or lines an earlier statement already brought, are counted
as duplicates); ``reconcile_lines`` matches what is unmatched (``matcher``) and books each
result (``booking``). ``import_and_reconcile`` does both, as ``puente reconcile import``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path

from tortoise import timezone
from tortoise.transactions import in_transaction

from puente.audit.service import record_audit
from puente.enums import PaymentStatus, ProviderName
from puente.institutions.models import Institution
from puente.money import to_centavos
from puente.payments.gateways import GatewayDirectory
from puente.payments.models import Payment
from puente.reconciliation.booking import (
    PaidPayment,
    book_exception,
    book_paid_payments,
    book_proposal,
)
from puente.reconciliation.bulk import insert_new
from puente.reconciliation.dedup import DedupKeys
from puente.reconciliation.enums import Direction, ExceptionReason, LineStatus
from puente.reconciliation.expected import load_expected
from puente.reconciliation.importers import ParsedLine, read_statement
from puente.reconciliation.matcher import (
    LineFacts,
    Proposal,
    Tolerances,
    Unmatched,
    match_lines,
)
from puente.reconciliation.models import BankStatement, StatementLine
from puente.runtime import Runtime

__all__ = [
    "ImportSummary",
    "file_sha256",
    "stp_cuenta_of",
    "import_and_reconcile",
    "import_statement",
    "reconcile_lines",
    "slices",
]

_BATCH = 1000
Progress = Callable[[int], None]  # told how many lines were read so far


@dataclass
class ImportSummary:
    """The contract's summary: ``{"lines", "new", "duplicates", "matched", "suggested",
    "exceptions"}``, all integers."""

    lines: int = 0
    new: int = 0
    duplicates: int = 0
    matched: int = 0
    suggested: int = 0
    exceptions: int = 0
    statement_id: int | None = field(default=None, compare=False)

    def as_json(self) -> dict[str, int]:
        data = asdict(self)
        data.pop("statement_id")
        return data


async def stp_cuenta_of(gateways: GatewayDirectory, institution: Institution) -> str:
    """The STP cuenta under which loans have their CLABEs ("" when STP is not set up)."""
    try:
        return str((await gateways.credentials(institution, "stp")).get("cuenta", ""))
    except Exception:  # noqa: BLE001 - no STP account: no CLABE matching, nothing else changes
        return ""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_LINE_COLUMNS = (
    "institution_id",
    "statement_id",
    "account",
    "dedup_key",
    "position",
    "direction",
    "amount_centavos",
    "currency",
    "booking_date",
    "value_date",
    "clave_rastreo",
    "reference",
    "bank_reference",
    "end_to_end_id",
    "counterparty_name",
    "counterparty_account",
    "beneficiary_account",
    "concept",
    "status",
    "created_at",
)


def _row(
    line: ParsedLine, key: str, institution_id: int, statement_id: int, now: datetime
) -> tuple[object, ...]:
    """A new ``StatementLine`` as the values of ``_LINE_COLUMNS``."""
    return (
        institution_id,
        statement_id,
        line.account[:64],
        key,
        line.position,
        Direction(line.direction).value,
        to_centavos(line.amount),
        line.currency[:3],
        line.booking_date,
        line.value_date,
        line.clave_rastreo[:40],
        line.reference[:40],
        line.bank_reference[:80],
        line.end_to_end_id[:80],
        line.counterparty_name[:140],
        line.counterparty_account[:40],
        line.beneficiary_account[:40],
        line.concept[:300],
        LineStatus.UNMATCHED.value,
        now,
    )


def _batches(lines: Iterable[ParsedLine]) -> Iterator[list[ParsedLine]]:
    iterator = iter(lines)
    while batch := list(islice(iterator, _BATCH)):
        yield batch


async def import_statement(
    institution_id: int,
    path: Path,
    fmt: str,
    *,
    account: str = "",
    actor_id: int | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Store the file's new lines, all or nothing (``MalformedStatement`` stores nothing)."""
    sha = file_sha256(path)
    seen = await BankStatement.filter(institution_id=institution_id, file_sha256=sha).first()
    if seen is not None:
        # The same file again: nothing to import; say so in the contract's terms.
        return ImportSummary(lines=seen.line_count, duplicates=seen.line_count)
    summary = ImportSummary()
    keys = DedupKeys()
    async with in_transaction() as tx:
        statement = await BankStatement.create(
            institution_id=institution_id,
            account=account[:64],
            format=fmt[:32],
            file_name=path.name[:200],
            file_sha256=sha,
            imported_by_id=actor_id,
            using_db=tx,
        )
        for batch in _batches(read_statement(path, fmt, account=account)):
            now = timezone.now()
            rows = [
                _row(line, key, institution_id, statement.id, now)
                for key, line in {keys.key(line): line for line in batch}.items()
            ]
            new = await insert_new(
                StatementLine, _LINE_COLUMNS, rows, tx, unique=("institution_id", "dedup_key")
            )
            summary.lines += len(batch)
            summary.new += len(new)
            if not statement.statement_ref and batch[0].statement_ref:
                statement.statement_ref = batch[0].statement_ref[:120]
            if not statement.account and batch[0].account:
                statement.account = batch[0].account[:64]
            if progress is not None:
                progress(summary.lines)
        summary.duplicates = summary.lines - summary.new
        statement.line_count, statement.new_count = summary.lines, summary.new
        statement.duplicate_count = summary.duplicates
        await statement.save(using_db=tx)
        await record_audit(
            "reconciliation.statement_imported",
            actor_id=actor_id,
            institution_id=institution_id,
            subject_type="bank_statement",
            subject_id=statement.id,
            data={"format": fmt, "file": path.name, **summary.as_json()},
            conn=tx,
        )
    summary.statement_id = statement.id
    return summary


_FACT_FIELDS = (
    "id",
    "direction",
    "amount_centavos",
    "value_date",
    "booking_date",
    "clave_rastreo",
    "reference",
    "beneficiary_account",
    "concept",
    "counterparty_name",
    "bank_reference",
)
# Lines matched at a time: memory stays bounded however long the statement. Matching sees
# one window (a statement's lines are consecutive, so N:1 transfers of one amount, which
# arrive together, fall in the same window but for the rare pair split at its edge).
_WINDOW = 50_000


def _facts(row: tuple) -> LineFacts:  # type: ignore[type-arg]
    pk, direction, amount, value_date, booking_date, rastreo, ref, clabe, *text = row
    return LineFacts(
        id=pk,
        direction=Direction(direction),
        amount_centavos=amount,
        on=value_date or booking_date,
        clave_rastreo=rastreo,
        reference=ref,
        beneficiary_account=clabe,
        concept=" ".join(filter(None, text)),
    )


@dataclass(frozen=True, slots=True)
class _LineAmount:
    """What batch booking needs of a line (read as values, not a model)."""

    id: int
    institution_id: int
    amount_centavos: int


async def reconcile_lines(
    runtime: Runtime,
    institution_id: int,
    *,
    at: datetime,
    statement_id: int | None = None,
    provider: str = ProviderName.BANK,
    stp_cuenta: str = "",
    tolerances: Tolerances | None = None,
    summary: ImportSummary | None = None,
) -> ImportSummary:
    """Match the institution's unmatched lines (of one statement, or all) and book them,
    a window of lines at a time."""
    tolerances = tolerances or Tolerances()
    summary = summary or ImportSummary()
    query = StatementLine.filter(institution_id=institution_id, status=LineStatus.UNMATCHED)
    if statement_id is not None:
        query = query.filter(statement_id=statement_id)
    after = 0
    while (
        rows := await query.filter(id__gt=after)
        .order_by("id")
        .limit(_WINDOW)
        .values_list(*_FACT_FIELDS)
    ):
        after = rows[-1][0]
        facts = {row[0]: _facts(row) for row in rows}
        del rows
        await _reconcile_window(
            runtime, institution_id, facts, at, provider, stp_cuenta, tolerances, summary
        )
    return summary


async def _reconcile_window(
    runtime: Runtime,
    institution_id: int,
    facts: dict[int, LineFacts],
    at: datetime,
    provider: str,
    stp_cuenta: str,
    tolerances: Tolerances,
    summary: ImportSummary,
) -> None:
    lines = list(facts.values())
    expected = await load_expected(institution_id, lines, tolerances, stp_cuenta=stp_cuenta)
    result = match_lines(lines, expected, tolerances)
    del expected
    amounts = {
        pk: _LineAmount(pk, institution_id, fact.amount_centavos) for pk, fact in facts.items()
    }
    paid, rest = await _split_paid(amounts, result.proposals)
    for booking in await book_paid_payments(paid, at=at):  # type: ignore[arg-type]
        _count(summary, booking.status)
    wanted = [i for p in rest for i in p.line_ids] + [u.line_id for u in result.unmatched]
    models: dict[int, StatementLine] = {}
    for ids in slices(wanted):
        models.update({line.id: line for line in await StatementLine.filter(id__in=ids)})
    for proposal in rest:
        for line_id in proposal.line_ids:
            line = models[line_id]
            if proposal.booked:
                booking = await book_proposal(runtime, line, proposal, provider=provider, at=at)
            else:
                booking = await book_exception(line, _low(line_id), at=at, suggestion=proposal)
            _count(summary, booking.status)
    for unmatched in result.unmatched:
        booking = await book_exception(models[unmatched.line_id], unmatched, at=at)
        _count(summary, booking.status)


async def _split_paid(
    lines: dict[int, _LineAmount], proposals: list[Proposal]
) -> tuple[list[tuple[_LineAmount, Proposal, PaidPayment]], list[Proposal]]:
    """Booked one-line proposals for payments already PAID (booked in batches), and the rest."""
    wanted = {
        int(p.expected_keys[0].partition(":")[2]): p
        for p in proposals
        if p.booked
        and len(p.line_ids) == 1
        and len(p.expected_keys) == 1
        and p.expected_keys[0].startswith("payment:")
    }
    paid: dict[int, PaidPayment] = {}
    for ids in slices(list(wanted)):
        rows = await Payment.filter(id__in=ids, status=PaymentStatus.PAID).values_list(
            "id", "loan_id", "provider"
        )
        paid.update({pk: PaidPayment(pk, loan, str(p)) for pk, loan, p in rows})
    batch = [(lines[p.line_ids[0]], p, paid[pk]) for pk, p in wanted.items() if pk in paid]
    chosen = {id(p) for _, p, _ in batch}
    return batch, [p for p in proposals if id(p) not in chosen]


# PostgreSQL takes at most 32,767 parameters per query: look ids up a slice at a time.
_IN_SLICE = 10_000


def slices(ids: list[int], size: int = _IN_SLICE) -> Iterator[list[int]]:
    """``ids`` in consecutive slices small enough for one ``IN (...)``."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _low(line_id: int) -> Unmatched:
    return Unmatched(line_id, ExceptionReason.LOW_CONFIDENCE, "sugerencia por confirmar")


def _count(summary: ImportSummary, status: LineStatus) -> None:
    if status is LineStatus.MATCHED:
        summary.matched += 1
    elif status is LineStatus.SUGGESTED:
        summary.suggested += 1
    else:
        summary.exceptions += 1


async def import_and_reconcile(
    runtime: Runtime,
    institution_id: int,
    path: Path,
    fmt: str,
    *,
    at: datetime,
    account: str = "",
    actor_id: int | None = None,
    stp_cuenta: str = "",
    tolerances: Tolerances | None = None,
    progress: Progress | None = None,
    matching: Callable[[], None] | None = None,
) -> ImportSummary:
    """``puente reconcile import``: store the file's new lines, then match and book them
    (``progress`` hears the lines read, ``matching`` when matching begins)."""
    summary = await import_statement(
        institution_id, path, fmt, account=account, actor_id=actor_id, progress=progress
    )
    if summary.statement_id is None:
        return summary
    if matching is not None:
        matching()
    provider = ProviderName.STP if fmt == "stp" else ProviderName.BANK
    return await reconcile_lines(
        runtime,
        institution_id,
        at=at,
        statement_id=summary.statement_id,
        provider=provider,
        stp_cuenta=stp_cuenta,
        tolerances=tolerances,
        summary=summary,
    )
