"""The loans' daily work (``puente jobs daily``, ``puente.daily``): bill what falls due,
apply held advances, accrue.

Safe to run more than once for a day, and to run late: billing, advance application and
every moratorium charge carry idempotency keys, and accrual catches up missed days.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from tortoise.exceptions import OperationalError

from puente.config import Settings
from puente.ledger.balances import fold_institution_deltas
from puente.loans.application import apply_advances
from puente.loans.billing import bill_installments
from puente.loans.delinquency_service import accrue_loan
from puente.loans.lifecycle import OPEN_STATUSES
from puente.loans.models import Loan
from puente.money import ZERO, format_mxn
from puente.observability.context import bound_request_id
from puente.runtime import utcnow
from puente.scheduling.leases import acquire_lease

__all__ = [
    "DailyReport",
    "DailyStep",
    "register_daily_step",
    "run_daily",
    "run_daily_once",
]

log = logging.getLogger(__name__)


@dataclass
class DailyReport:
    """What one run did; ``failures`` are (loan id, error) for loans left for the next run."""

    day: date
    loans: int = 0
    billed: int = 0
    advances_applied: Decimal = ZERO
    charges_posted: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    # What each registered step did (e.g. {"notices": 3}), by the step's name.
    steps: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.day.isoformat()}: {self.loans} loans, {self.billed} installments billed, "
            f"{format_mxn(self.advances_applied)} of advances applied, "
            f"{self.charges_posted} late charges posted, {len(self.failures)} failures"
            + "".join(f", {count} {name}" for name, count in self.steps.items())
        )


# A step packages above loans add to the day (notices, scheduled charges): it runs after
# the loans are billed and accrued, with the day and the settings, and says how many
# things it did. It must be idempotent per day, as the rest of the job.
DailyStep = Callable[[date, Settings], Awaitable[int]]
_STEPS: dict[str, DailyStep] = {}


def register_daily_step(name: str, step: DailyStep) -> None:
    """Add ``step`` to every daily run (registering a name again replaces it)."""
    _STEPS[name] = step


async def _fold_balances(day: date, settings: Settings) -> int:
    """Institution-wide balances: the rows each entry appended, added into one per account
    (``ledger/balances.py``), so reading them stays short."""
    return await fold_institution_deltas()


register_daily_step("balance rows folded", _fold_balances)

DAILY_JOB = "daily"
LEASE_TTL = timedelta(minutes=10)
RENEW_EVERY = 50  # loans between lease renewals (each loan takes milliseconds)


async def run_daily_once(
    day: date, clock: Callable[[], datetime] = utcnow, settings: Settings | None = None
) -> DailyReport | None:
    """Run the day's jobs unless another process is running them now (then None).

    Every replica may schedule the daily job; the lease on (daily, day) lets one run it.
    """
    lease = await acquire_lease(DAILY_JOB, day.isoformat(), clock(), ttl=LEASE_TTL)
    if lease is None:
        return None
    with bound_request_id(f"job-daily-{day.isoformat()}-{lease.run_id}"):
        report = DailyReport(day=day)
        try:
            await run_daily(
                day, report=report, renew=lambda: lease.renew(clock()), settings=settings
            )
        except BaseException as exc:
            await lease.finish(clock(), succeeded=False, detail=f"{type(exc).__name__}")
            raise
        await lease.finish(clock(), succeeded=not report.failures, detail=report.summary())
    log.info("daily job %s", report.summary())
    return report


# SQLite allows one writer: a transaction that read before another process wrote is refused
# at once ("database is locked") rather than made to wait. A loan's day is idempotent
# (billing, advances and moratorium carry keys), so it is simply done again, a few times.
BUSY_RETRIES = (0.2, 0.5, 1.0, 2.0)


def _database_busy(exc: Exception) -> bool:
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


async def _loan_day(loan_id: int, day: date, report: DailyReport) -> None:
    """Bill, apply advances and accrue one loan for ``day``, again while SQLite is busy."""
    for pause in (*BUSY_RETRIES, None):
        try:  # each part counts what it did as it commits (a retry redoes nothing twice)
            loan = await Loan.get(id=loan_id)
            report.billed += await bill_installments(loan, day)
            report.advances_applied += await apply_advances(loan, day)
            report.charges_posted += await accrue_loan(loan, day)
            return
        except Exception as exc:
            if pause is None or not _database_busy(exc):
                raise
            log.warning("database busy for loan %s; again in %.1f s", loan_id, pause)
            await asyncio.sleep(pause)


async def run_daily(
    day: date,
    *,
    report: DailyReport | None = None,
    renew: Callable[[], Awaitable[None]] | None = None,
    settings: Settings | None = None,
) -> DailyReport:
    """Run the day's work on every open loan, each loan in its own transactions, then the
    registered steps (when ``settings`` are given: a step may need to build links)."""
    report = report or DailyReport(day=day)
    ids = (
        await Loan.filter(status__in=list(OPEN_STATUSES))
        .order_by("id")
        .values_list("id", flat=True)
    )
    for index, loan_id in enumerate(ids):
        if renew is not None and index and index % RENEW_EVERY == 0:
            await renew()  # LeaseLost stops the run: another process took it over
        report.loans += 1
        try:
            await _loan_day(loan_id, day, report)
        except Exception as exc:  # one bad loan must not stop the book; the rerun retries it
            log.exception("daily job failed for loan %s", loan_id)
            report.failures.append((loan_id, type(exc).__name__))
    for name, step in _STEPS.items() if settings is not None else ():
        try:
            report.steps[name] = await step(day, settings)
        except Exception as exc:  # a step's failure is reported; the rerun retries it
            log.exception("daily step %s failed", name)
            report.failures.append((0, f"{name}: {type(exc).__name__}"))
    return report
