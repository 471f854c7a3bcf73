"""The figures ``/metrics`` reads from the database at scrape time.

They describe the shared state of the book, so any replica answers the same: the webhook
queue (depth, age, dead letters), payments by provider and status over the last day, and
the last run of each scheduled job.

It reads payments, webhooks and job runs, so it sits above them, beside the app that serves
``/metrics``; ``observability`` stays below every package it instruments.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.functions import Count, Max, Min

from puente.enums import ProviderEventStatus as E
from puente.observability.metrics import DatabaseSnapshot
from puente.payments.models import Payment
from puente.scheduling.models import JobRun, JobRunStatus
from puente.webhooks.models import ProviderEvent

__all__ = ["PAYMENTS_WINDOW", "read_snapshot"]

# Payments are counted over a rolling day: the table only grows, and "how are today's
# payments doing, per gateway" is the question an operator's dashboard asks.
PAYMENTS_WINDOW = timedelta(hours=24)
_QUEUED = (E.RECEIVED, E.FAILED)


async def read_snapshot(now: datetime, into: DatabaseSnapshot | None = None) -> DatabaseSnapshot:
    """Read the current figures (a handful of grouped queries on indexed columns)."""
    snapshot = into or DatabaseSnapshot()
    rows = (
        await Payment.filter(created_at__gte=now - PAYMENTS_WINDOW)
        .annotate(n=Count("id"))
        .group_by("provider", "status")
        .values("provider", "status", "n")
    )
    snapshot.payments = {(str(r["provider"]), str(r["status"])): int(r["n"]) for r in rows}
    rows = (
        await ProviderEvent.filter(status__in=[*_QUEUED, E.DEAD])
        .annotate(n=Count("id"))
        .group_by("provider", "status")
        .values("provider", "status", "n")
    )
    snapshot.webhook_events = {(str(r["provider"]), str(r["status"])): int(r["n"]) for r in rows}
    oldest = (
        await ProviderEvent.filter(status__in=list(_QUEUED))
        .annotate(oldest=Min("received_at"))
        .values("oldest")
    )
    first = _as_datetime(oldest[0]["oldest"]) if oldest else None
    snapshot.webhook_oldest_pending_seconds = (
        max((now - first).total_seconds(), 0.0) if first is not None else 0.0
    )
    rows = (
        await JobRun.filter(finished_at__isnull=False)
        .annotate(last=Max("finished_at"))
        .group_by("job", "status")
        .values("job", "status", "last")
    )
    snapshot.job_last_run = {
        (str(r["job"]), str(r["status"])): when.timestamp()
        for r in rows
        if (when := _as_datetime(r["last"])) is not None
    }
    rows = (
        await JobRun.filter(status=JobRunStatus.FAILED)
        .annotate(n=Count("id"))
        .group_by("job")
        .values("job", "n")
    )
    snapshot.job_failures = {str(r["job"]): int(r["n"]) for r in rows}
    return snapshot


def _as_datetime(value: object) -> datetime | None:
    """An aggregate's datetime (SQLite hands MIN/MAX of a datetime back as text)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        moment = datetime.fromisoformat(value)
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
