"""What the ledger says happened to each installment, optionally as of a day.

Postings tagged with an installment number and component are folded into four buckets:
``billed`` (the contract falling due), ``charged`` (moratorium, late fees, recargos, and
negative adjustments such as a pronto-pago discount or interest waived on payoff),
``paid`` (payments and applied advances, net of refunds and chargebacks) and ``written_off``
(castigo). The accrual job needs the state "at the start of a day", so rows can keep their
effective date and be folded with ``before``.

Undated rows come from the ledger's read model (``loan_installment_totals``, kept by
``post_entry``): their number follows the loan's installments, not its history. Dated rows
are summed from the postings, and only from a day on when ``since`` is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Sum

from puente.enums import JournalKind
from puente.ledger.models import InstallmentTotal, Posting

__all__ = [
    "ActivityRow",
    "InstallmentActivity",
    "activity_rows",
    "fold_activity",
    "stored_date",
]

PAYMENT_KINDS = frozenset({JournalKind.PAYMENT, JournalKind.REFUND, JournalKind.CHARGEBACK})


@dataclass(frozen=True, slots=True)
class ActivityRow:
    """Sum of one loan's postings for (installment, component, kind[, effective date])."""

    loan_id: int
    number: int
    component: str
    kind: JournalKind
    centavos: int  # debit positive, as posted on the loan's receivable accounts
    effective_date: date | None = None


@dataclass(slots=True)
class InstallmentActivity:
    """Centavos per component in each bucket, in the natural sign of the bucket."""

    billed: dict[str, int] = field(default_factory=dict)
    charged: dict[str, int] = field(default_factory=dict)
    paid: dict[str, int] = field(default_factory=dict)
    written_off: dict[str, int] = field(default_factory=dict)

    def add(self, kind: JournalKind, component: str, centavos: int) -> None:
        if kind in PAYMENT_KINDS:
            bucket, amount = self.paid, -centavos
        elif kind is JournalKind.BILLING:
            bucket, amount = self.billed, centavos
        elif kind is JournalKind.WRITE_OFF:
            bucket, amount = self.written_off, -centavos
        else:
            bucket, amount = self.charged, centavos
        bucket[component] = bucket.get(component, 0) + amount


async def activity_rows(
    loan_ids: Sequence[int],
    conn: BaseDBAsyncClient | None = None,
    *,
    dated: bool = False,
    since: date | None = None,
) -> dict[int, list[ActivityRow]]:
    """Per loan, its tagged postings summed by installment, component and entry kind (and by
    effective date when ``dated``, only of entries effective on or after ``since`` when
    given); one query for many loans."""
    result: dict[int, list[ActivityRow]] = {loan_id: [] for loan_id in loan_ids}
    if not loan_ids:
        return result
    if not dated:
        # Plain SQL: a long-paid loan has thousands of these rows, and the ORM's per-field
        # conversion of each would cost more than reading them.
        client = conn if conn is not None else InstallmentTotal._meta.db
        postgres = client.capabilities.dialect == "postgres"
        ids = list(loan_ids)
        marks = ", ".join(f"${n + 1}" if postgres else "?" for n in range(len(ids)))
        _, rows = await client.execute_query(
            "SELECT loan_id, installment_number, component, kind, centavos "
            f"FROM loan_installment_totals WHERE loan_id IN ({marks})",
            ids,
        )
        kinds = {kind.value: kind for kind in JournalKind}
        for loan_id, number, component, kind, centavos in rows:
            result[loan_id].append(
                ActivityRow(loan_id, number, component or "unknown", kinds[kind], int(centavos))
            )
        return result
    keys = ["account__loan_id", "installment_number", "component", "entry__kind"]
    keys.append("entry__effective_date")
    postings = Posting.filter(account__loan_id__in=list(loan_ids), installment_number__isnull=False)
    if since is not None:
        postings = postings.filter(entry__effective_date__gte=since)
    rows = (
        await postings.using_db(conn)
        .annotate(total=Sum("amount_centavos"))
        .group_by(*keys)
        .values(*keys, "total")
    )
    for row in rows:
        result[row["account__loan_id"]].append(
            ActivityRow(
                loan_id=row["account__loan_id"],
                number=row["installment_number"],
                component=row["component"] or "unknown",
                kind=JournalKind(row["entry__kind"]),
                centavos=int(row["total"] or 0),
                effective_date=stored_date(row.get("entry__effective_date")),
            )
        )
    return result


def fold_activity(
    rows: Iterable[ActivityRow],
    before: date | None = None,
    *,
    minus: Iterable[ActivityRow] = (),
) -> dict[int, InstallmentActivity]:
    """Buckets per installment number; with ``before``, only entries effective before it.

    ``minus`` rows are taken away: all-time totals minus the dated rows effective on or
    after a day are the state before that day, without reading the older history.
    """
    result: dict[int, InstallmentActivity] = {}
    for row in rows:
        if before is not None and row.effective_date is not None and row.effective_date >= before:
            continue
        activity = result.get(row.number)
        if activity is None:
            activity = result[row.number] = InstallmentActivity()
        activity.add(row.kind, row.component, row.centavos)
    taken = False
    for row in minus:
        taken = True
        activity = result.get(row.number)
        if activity is None:
            activity = result[row.number] = InstallmentActivity()
        activity.add(row.kind, row.component, -row.centavos)
    if taken:  # what cancelled out reads as never there, as when folding only earlier rows
        for number in list(result):
            activity = result[number]
            for bucket in (activity.billed, activity.charged, activity.paid, activity.written_off):
                for name in [name for name, centavos in bucket.items() if not centavos]:
                    del bucket[name]
            if not (activity.billed or activity.charged or activity.paid or activity.written_off):
                del result[number]
    return result


def stored_date(value: object) -> date | None:
    """A date column as read back from any backend (SQLite hands dates back as text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
