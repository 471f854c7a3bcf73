"""What staff read of reconciliation (statements, lines with filters, the open queue)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tortoise.queryset import QuerySet

from puente.reconciliation.enums import ExceptionStatus, LineStatus
from puente.reconciliation.models import ReconciliationException, StatementLine

__all__ = ["LineFilter", "exception_of", "lines"]


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
