"""Loan and payment connections as every door lists them (viewer, institution, a loan).

Thin: who may see what is ``loans.access``/``payments.history``; the filter is
``payments.history.filtered_payments``, the same the portal's history uses.
"""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry.types import Info
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from puente.enums import PaymentMethodType as MethodEnum
from puente.enums import PaymentStatus as StatusEnum
from puente.graphql.errors import UserFacingError, report_field_error
from puente.graphql.paging import (
    checked_request,
    cursor,
    empty_page,
    fetch_page,
    page_info,
)
from puente.graphql.payment_types import (
    Payment,
    PaymentConnection,
    PaymentEdge,
    PaymentMethodType,
    PaymentStatus,
    Provider,
)
from puente.graphql.selection import selects
from puente.graphql.types import (
    Count,
    DelinquencyBucket,
    Loan,
    LoanConnection,
    LoanEdge,
    LoanStatus,
    decode_global_id,
)
from puente.loans.models import Loan as LoanModel
from puente.payments.history import HistoryQuery, filtered_payments
from puente.payments.models import Payment as PaymentModel

__all__ = [
    "LoanFilter",
    "PaymentFilter",
    "loan_connection",
    "payment_connection",
    "payment_history_query",
]


@strawberry.input(description="Which payments to list; dates are Mexico City calendar days.")
class PaymentFilter:
    status: list[PaymentStatus] | None = None
    method: PaymentMethodType | None = None
    provider: Provider | None = None
    loan_id: strawberry.ID | None = None
    from_: date | None = strawberry.field(default=None, name="from")
    to: date | None = None
    search: str | None = strawberry.field(
        default=None,
        description="The provider's reference, or the payer's name or email (contains).",
    )


@strawberry.input(description="Which loans to list (staff).")
class LoanFilter:
    status: list[LoanStatus] | None = None
    bucket: DelinquencyBucket | None = strawberry.field(
        default=None, description="Delinquency bucket as of today."
    )
    search: str | None = strawberry.field(
        default=None, description="Borrower's name or email (contains, any case)."
    )


def payment_history_query(wanted: PaymentFilter | None) -> HistoryQuery:
    """The filter as ``payments.history`` reads it, or a ``UserFacingError`` on a field."""
    if wanted is None:
        return HistoryQuery()
    loan_id = None
    if wanted.loan_id is not None:
        decoded = decode_global_id(wanted.loan_id)
        if decoded is None or decoded[0] != "Loan":
            raise UserFacingError(
                "BAD_FILTER", "'loanId' no es el id de un crédito.", field="loanId"
            )
        loan_id = decoded[1]
    if wanted.from_ and wanted.to and wanted.from_ > wanted.to:
        raise UserFacingError("BAD_FILTER", "'from' no puede ser posterior a 'to'.", field="from")
    return HistoryQuery(
        statuses=tuple(StatusEnum(s.value) for s in wanted.status or ()),
        method=MethodEnum(wanted.method.value) if wanted.method else None,
        provider=wanted.provider.value if wanted.provider else None,
        since=wanted.from_,
        until=wanted.to,
        loan_id=loan_id,
        search=wanted.search,
    )


async def payment_connection(
    info: Info,
    query: QuerySet[PaymentModel],
    wanted: PaymentFilter | None,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> PaymentConnection:
    """Payments of ``query`` (already limited to what the caller may see), newest first.

    Reads only what the query asks: the count with the page (``fetch_page``) when
    ``totalCount`` is asked, each payment's loan and product joined to the page when
    ``loan`` is (the loan's own fields then read nothing more).
    """
    request = checked_request(info, first, after, last, before)
    history = HistoryQuery()
    try:
        history = payment_history_query(wanted)
        narrowed = filtered_payments(query, history)
    except UserFacingError as refused:
        report_field_error(info, refused)
        request = None
    if request is None:
        return PaymentConnection(edges=[], page_info=empty_page())
    with_loans = selects(info, "edges", "node", "loan")
    # A date filter's pay_date cannot share a statement with a join (history.with_pay_date).
    joined = with_loans and history.since is None and history.until is None
    page_query = narrowed.select_related("loan__product") if joined else narrowed
    page = await fetch_page(
        page_query, request, newest_first=True, count=selects(info, "totalCount")
    )
    if joined:
        info.context.remember_loans(p.loan for p in page.rows)
    elif with_loans and page.rows:
        ids = sorted({p.loan_id for p in page.rows})
        info.context.remember_loans(await LoanModel.filter(id__in=ids).select_related("product"))
    return PaymentConnection(
        edges=[PaymentEdge(cursor=cursor(p.id), node=Payment.from_model(p)) for p in page.rows],
        page_info=page_info(page.rows, page.has_next, page.has_previous),
        _count=_counted(page.total, narrowed),
    )


def _counted(total: int | None, query: QuerySet) -> Count:
    """The connection's ``totalCount``: counted with the page, or by its own statement."""
    if total is None:
        return query.count

    async def known() -> int:
        return total

    return known


# Fields of a loan read from its view (``loans.state``): a page that shows one of them
# loads the views of all its loans at once, before its loans' fields resolve.
_FROM_VIEWS = ("balance", "nextInstallment", "installments", "nextPaymentDue", "tuition")


async def loan_connection(
    info: Info,
    query: QuerySet[LoanModel],
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    wanted: LoanFilter | None = None,
) -> LoanConnection:
    """Loans of ``query`` (already limited to what the caller may see), oldest first.

    One statement reads the page with each loan's product (and its institution, when the
    query shows it) and, when ``totalCount`` is asked, the count; the loans' views (balance,
    installments) are read below, all at once, only if a field asks for them.
    """
    request = checked_request(info, first, after, last, before)
    if request is None:
        return LoanConnection(edges=[], page_info=empty_page())
    narrowed = await _filtered_loans(info, query, wanted)
    joins = ["product"]
    if selects(info, "edges", "node", "institutionName") or selects(
        info, "edges", "node", "tuition"
    ):
        joins.append("institution")
    page = await fetch_page(
        narrowed.select_related(*joins), request, count=selects(info, "totalCount")
    )
    info.context.remember_loans(page.rows)
    nodes = [Loan.from_row(loan) for loan in page.rows]
    if any(selects(info, "edges", "node", name) for name in _FROM_VIEWS):
        views = await info.context.loan_views.load_many([loan.id for loan in page.rows])
        for node, view in zip(nodes, views, strict=True):
            node._view = view
    return LoanConnection(
        edges=[LoanEdge(cursor=cursor(node._model.id), node=node) for node in nodes],
        page_info=page_info(page.rows, page.has_next, page.has_previous),
        _count=_counted(page.total, narrowed),
    )


async def _filtered_loans(
    info: Info, query: QuerySet[LoanModel], wanted: LoanFilter | None
) -> QuerySet[LoanModel]:
    if wanted is None:
        return query
    if wanted.status:
        query = query.filter(status__in=[s.value for s in wanted.status])
    if wanted.search and wanted.search.strip():
        term = wanted.search.strip()
        query = query.filter(
            Q(borrower__full_name__icontains=term) | Q(borrower__email__icontains=term)
        )
    if wanted.bucket is not None:
        # The bucket is derived from the ledger as of today (loans.state), not stored:
        # read the views of the candidates and keep the ids in that bucket.
        ids = [loan.id for loan in await query.only("id")]
        views = await info.context.loan_views.load_many(ids)
        query = query.filter(
            id__in=[v.loan.id for v in views if v.balance.bucket.value == wanted.bucket.value]
        )
    return query
