"""DataLoaders: what a list of loans or payments needs, fetched once per request.

Every field below a list (a loan's product, its payments, a payment's prelación) asks one of
these; the loader gathers the ids of the whole list and answers them with one statement, so
a dashboard costs the same number of statements for one loan or fifty
(``tests/graphql/test_graphql_statements.py``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from strawberry.dataloader import DataLoader
from tortoise.functions import Sum

from puente.accounts.models import User
from puente.enums import JournalKind
from puente.graphql.paging import PageRequest
from puente.institutions.models import Institution
from puente.ledger.models import Posting
from puente.loans.history import HistoryRow, loan_history
from puente.loans.models import LoanProduct
from puente.payments.models import Payment
from puente.reconciliation.reads import BankFacts, bank_facts_for_payments

__all__ = ["AppliedPart", "Loaders"]


@dataclass(frozen=True, slots=True)
class AppliedPart:
    """Centavos of a payment applied to one component of one installment."""

    installment: int
    component: str
    centavos: int


def _by_id(model: Any) -> DataLoader[int, Any]:
    async def load(ids: list[int]) -> list[Any]:
        rows = {row.id: row for row in await model.filter(id__in=ids)}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


async def _payment_pages(keys: list[tuple[int, PageRequest]]) -> list[list[Payment]]:
    """All payments of the loans asked for, newest first; ``slice_page`` cuts each page
    (a loan's history is short: one statement beats one per loan)."""
    ids = sorted({loan_id for loan_id, _ in keys})
    by_loan: dict[int, list[Payment]] = defaultdict(list)
    for row in await Payment.filter(loan_id__in=ids).order_by("-id"):
        by_loan[row.loan_id].append(row)
    return [by_loan[loan_id] for loan_id, _ in keys]


async def _applied(payment_ids: list[int]) -> list[list[AppliedPart]]:
    """The prelación as the ledger booked it: each payment's credits to installment parts."""
    keys = ["entry__payment_id", "installment_number", "component"]
    rows = (
        await Posting.filter(
            entry__payment_id__in=payment_ids,
            entry__kind=JournalKind.PAYMENT,
            installment_number__isnull=False,
        )
        .annotate(total=Sum("amount_centavos"))
        .group_by(*keys)
        .values(*keys, "total")
    )
    parts: dict[int, list[AppliedPart]] = defaultdict(list)
    for row in rows:
        centavos = -int(row["total"] or 0)  # a payment credits the receivable
        if centavos:
            parts[row["entry__payment_id"]].append(
                AppliedPart(row["installment_number"], row["component"] or "", centavos)
            )
    return [
        sorted(parts[i], key=lambda p: (p.installment, _PRELACION.get(p.component, 99)))
        for i in payment_ids
    ]


# The order the prelación applies components in (loans.engine.allocation), for display.
_PRELACION = {
    "LATE_INTEREST_VAT": 0,
    "LATE_INTEREST": 1,
    "FEE_VAT": 2,
    "FEE": 3,
    "INTEREST_VAT": 4,
    "INTEREST": 5,
    "PRINCIPAL": 6,
}


async def _bank_facts(payments: list[Payment]) -> list[BankFacts | None]:
    ids = [payment.id for payment in payments]
    # The portal reads the same; the rows already read are not read again.
    facts = await bank_facts_for_payments(ids, rows=payments)
    return [facts.get(i) for i in ids]


async def _history(loan_ids: list[int]) -> list[list[HistoryRow]]:
    rows = await loan_history(loan_ids)
    return [rows[i] for i in loan_ids]


class Loaders:
    """One set per request (``GraphQLContext.loaders``)."""

    def __init__(self) -> None:
        self.products: DataLoader[int, LoanProduct | None] = _by_id(LoanProduct)
        self.institutions: DataLoader[int, Institution | None] = _by_id(Institution)
        self.users: DataLoader[int, User | None] = _by_id(User)
        self.payment_rows: DataLoader[tuple[int, PageRequest], list[Payment]] = DataLoader(
            load_fn=_payment_pages
        )
        self.applied: DataLoader[int, list[AppliedPart]] = DataLoader(load_fn=_applied)
        self.bank_facts: DataLoader[Payment, BankFacts | None] = DataLoader(
            load_fn=_bank_facts, cache_key_fn=lambda payment: payment.id
        )
        self.history: DataLoader[int, list[HistoryRow]] = DataLoader(load_fn=_history)
