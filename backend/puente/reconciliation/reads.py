"""What staff read of reconciliation (statements, lines with filters, the open queue)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tortoise.queryset import QuerySet

from puente.reconciliation.enums import ExceptionStatus, LineStatus, MatchStatus
from puente.reconciliation.models import (
    BankStatement,
    ReconciliationException,
    StatementLine,
    StatementMatch,
)

__all__ = [
    "LineFilter",
    "exception_of",
    "line_page",
    "recent_statements",
    "suggestions_for",
]


@dataclass(frozen=True, slots=True)
class LineFilter:
    """Which lines: by status, statement, value-date range, or only the open queue."""

    statuses: tuple[LineStatus, ...] = ()
    statement_id: int | None = None
    since: date | None = None
    until: date | None = None
    open_exceptions: bool = False


def _lines(institution_id: int, wanted: LineFilter) -> QuerySet[StatementLine]:
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


async def line_page(
    institution_id: int, wanted: LineFilter, *, after_id: int, size: int
) -> tuple[list[StatementLine], bool, int]:
    """One page of lines (oldest first, after ``after_id``), whether more follow, the total."""
    query = _lines(institution_id, wanted)
    total = await query.count()
    rows = await query.filter(id__gt=after_id).order_by("id").limit(size + 1)
    return rows[:size], len(rows) > size, total


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
