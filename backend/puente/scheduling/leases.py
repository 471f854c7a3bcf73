"""Leases on job runs, so a job scheduled on every replica runs on exactly one of them.

A run is a row (job, run_key). Taking it is an INSERT, or, when the row exists, a
conditional UPDATE that succeeds only if the run is finished or its lease has lapsed (its
holder died): both are single statements, so two replicas racing for the same run cannot
both win, on SQLite or PostgreSQL. The holder renews the lease while it works; a holder
that was killed simply stops renewing, and the run is taken over once the lease expires.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from puente.scheduling.models import JobRun, JobRunStatus

__all__ = ["Lease", "LeaseLost", "acquire_lease", "process_holder_id"]

_PROCESS_HOLDER = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def process_holder_id() -> str:
    """Names this process as a lease holder (host, pid and a random part)."""
    return _PROCESS_HOLDER


class LeaseLost(RuntimeError):
    """Another process took the run over: this one must stop working on it."""


@dataclass(slots=True)
class Lease:
    """A held run; renew it while working and finish it once."""

    run_id: int
    job: str
    run_key: str
    holder: str
    ttl: timedelta

    async def renew(self, now: datetime) -> None:
        """Push the lease out by ``ttl``; raise ``LeaseLost`` if the run is no longer ours."""
        updated = await JobRun.filter(
            id=self.run_id, holder=self.holder, status=JobRunStatus.RUNNING
        ).update(lease_until=now + self.ttl)
        if updated != 1:
            raise LeaseLost(f"{self.job} {self.run_key} was taken over by another process")

    async def finish(self, now: datetime, *, succeeded: bool, detail: str = "") -> None:
        """Record how the run ended (only while it is still ours)."""
        await JobRun.filter(id=self.run_id, holder=self.holder).update(
            status=JobRunStatus.SUCCEEDED if succeeded else JobRunStatus.FAILED,
            finished_at=now,
            lease_until=now,
            detail=detail[:2000] or None,
        )


async def acquire_lease(
    job: str, run_key: str, now: datetime, *, ttl: timedelta, holder: str | None = None
) -> Lease | None:
    """Take the run ``(job, run_key)``, or None while another live holder has it.

    A finished run may be taken again: the jobs are idempotent, and an operator re-running a
    day after fixing a failure must not be refused.
    """
    holder = holder or process_holder_id()
    try:
        run = await JobRun.create(
            job=job, run_key=run_key, holder=holder, lease_until=now + ttl, started_at=now
        )
        return Lease(run.id, job, run_key, holder, ttl)
    except IntegrityError:
        pass
    taken = (
        await JobRun.filter(job=job, run_key=run_key)
        .filter(Q(status__not=JobRunStatus.RUNNING) | Q(lease_until__lt=now))
        .update(
            holder=holder,
            status=JobRunStatus.RUNNING,
            lease_until=now + ttl,
            started_at=now,
            finished_at=None,
            attempts=F("attempts") + 1,
        )
    )
    if taken != 1:
        return None
    run = await JobRun.get(job=job, run_key=run_key)
    return Lease(run.id, job, run_key, holder, ttl)
