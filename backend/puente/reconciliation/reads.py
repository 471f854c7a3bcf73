"""What staff read of reconciliation (statements, lines with filters, the open queue)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from tortoise.queryset import QuerySet

from puente.payments.models import Payment
from puente.reconciliation.enums import ExceptionStatus, LineStatus, MatchStatus
from puente.reconciliation.models import (
    BankStatement,
    GatewaySettlement,
    ReconciliationException,
    StatementLine,
    StatementMatch,
)

__all__ = [
    "BankFacts",
    "LineFilter",
    "bank_facts_for_payments",
    "exception_of",
    "lines",
    "recent_statements",
    "suggestions_for",
]


@dataclass(frozen=True, slots=True)
class BankFacts:
    """What the bank's statement says about a payment, once reconciliation matched it.

    ``settled_on`` is the value date of the line that carried the money (for a card payment,
    the gateway payout's); ``clave_rastreo`` is SPEI's tracking key when the line has one.
    """

    clave_rastreo: str
    settled_on: date | None
    booked_on: date | None
    bank_reference: str
    line_id: int
    via_payout: str = ""  # the gateway payout id, when the money came in one


@dataclass(frozen=True, slots=True)
class LineFilter:
    """Which lines: by status, statement, value-date range, or only the open queue."""

    statuses: tuple[LineStatus, ...] = ()
    statement_id: int | None = None
    since: date | None = None
    until: date | None = None
    open_exceptions: bool = False


def lines(institution_id: int, wanted: LineFilter) -> QuerySet[StatementLine]:
    """The institution's lines ``wanted`` selects (unordered: the reader pages them)."""
    query = StatementLine.filter(institution_id=institution_id)
    if wanted.statuses:
        query = query.filter(status__in=list(wanted.statuses))
    if wanted.statement_id is not None:
        query = query.filter(statement_id=wanted.statement_id)
    if wanted.since is not None:
        query = query.filter(value_date__gte=wanted.since)
    if wanted.until is not None:
        query = query.filter(value_date__lte=wanted.until)
    if wanted.open_exceptions:
        query = query.filter(exceptions__status=ExceptionStatus.OPEN)
    return query


async def exception_of(line_ids: list[int]) -> dict[int, ReconciliationException]:
    """The latest exception of each line (open or resolved)."""
    rows = await ReconciliationException.filter(line_id__in=line_ids).order_by("id")
    return {row.line_id: row for row in rows}


async def recent_statements(institution_id: int, limit: int = 10) -> list[BankStatement]:
    """The institution's latest imports, newest first."""
    return await BankStatement.filter(institution_id=institution_id).order_by("-id").limit(limit)


async def suggestions_for(line_ids: list[int]) -> dict[int, StatementMatch]:
    """What the matcher suggested (below its threshold) for each line, if anything."""
    rows = await StatementMatch.filter(line_id__in=line_ids, status=MatchStatus.SUGGESTED)
    return {row.line_id: row for row in rows}


def _facts(line: StatementLine, payout: str = "") -> BankFacts:
    return BankFacts(
        clave_rastreo=line.clave_rastreo,
        settled_on=line.value_date or line.booking_date,
        booked_on=line.booking_date,
        bank_reference=line.bank_reference,
        line_id=line.id,
        via_payout=payout,
    )


async def bank_facts_for_payments(
    payment_ids: list[int], *, rows: Sequence[Payment] = ()
) -> dict[int, BankFacts]:
    """The bank-side facts of each matched payment (absent: not on a statement yet).

    A payment matched by its own line (SPEI, a deposit, a remittance share) takes that
    line's facts; a card payment carried by a gateway payout takes the payout's line.
    ``rows``: the payments already read (all of ``payment_ids``), whose provider references
    are then not read again.
    """
    if not payment_ids:
        return {}
    found: dict[int, BankFacts] = {}
    matches = await StatementMatch.filter(
        payment_id__in=payment_ids, status=MatchStatus.BOOKED
    ).prefetch_related("line")
    for match in matches:
        if match.payment_id is not None:
            found.setdefault(match.payment_id, _facts(match.line))
    unmatched = [i for i in payment_ids if i not in found]
    known = {row.id: row for row in rows}
    rest: Sequence[tuple[Any, ...]]
    if unmatched and all(i in known for i in unmatched):
        rest = [
            (row.id, row.institution_id, row.provider, row.provider_reference)
            for row in (known[i] for i in unmatched)
            if row.provider_reference is not None
        ]
    elif unmatched:
        rest = await Payment.filter(id__in=unmatched, provider_reference__isnull=False).values_list(
            "id", "institution_id", "provider", "provider_reference"
        )
    else:
        rest = []
    wanted: dict[tuple[int, str], dict[str, int]] = {}
    for pk, institution_id, provider, reference in rest:
        wanted.setdefault((institution_id, str(provider)), {})[reference] = pk
    for (institution_id, provider), references in wanted.items():
        payouts = await GatewaySettlement.filter(
            institution_id=institution_id, provider=provider, line_id__isnull=False
        ).prefetch_related("line")
        for payout in payouts:
            for reference in payout.payment_references:
                if reference in references:
                    found.setdefault(references[reference], _facts(payout.line, payout.provider_id))
    return found
