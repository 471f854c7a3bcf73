"""Reconciliation for staff: statement lines (filters, Relay paging), the exceptions queue,
and ``resolveStatementLine``. Thin: every decision is in ``puente.reconciliation``.

The contract's ``Institution.reconciliationExceptions`` waits for the ``Institution`` type
(not in the schema yet); until then the same connection is the staff root field
``reconciliationExceptions``.
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from puente.accounts.models import User as UserModel
from puente.graphql.context import GraphQLContext
from puente.graphql.errors import UserFacingError
from puente.graphql.paging import checked_request, cursor, empty_page, fetch_page, page_info
from puente.graphql.payments import PaymentError
from puente.graphql.permissions import IsAuthenticated, allow
from puente.graphql.types import (
    Count,
    Money,
    PageInfo,
    decode_global_id,
    encode_global_id,
    money,
    no_rows,
)
from puente.loans.access import is_staff
from puente.money import from_centavos
from puente.reconciliation.enums import LineStatus, Resolution
from puente.reconciliation.exceptions import ResolutionRefused, resolve_exception
from puente.reconciliation.models import ReconciliationException as ExceptionModel
from puente.reconciliation.models import StatementLine as LineModel
from puente.reconciliation.reads import LineFilter, exception_of, lines

__all__ = [
    "OPEN_QUEUE",
    "ReconciliationMutations",
    "ReconciliationQueries",
    "StatementLineConnection",
    "line_connection",
]

OPEN_QUEUE = LineFilter(open_exceptions=True)  # the exceptions queue

Info_ = Info[GraphQLContext, None]


@strawberry.enum
class StatementLineStatus(Enum):
    UNMATCHED = "unmatched"
    MATCHED = "matched"
    SUGGESTED = "suggested"
    EXCEPTION = "exception"
    RESOLVED = "resolved"


@strawberry.enum(description="What staff decided an exception was.")
class ExceptionResolution(Enum):
    MATCHED_BY_HAND = "matched_by_hand"
    APPLIED_TO_LOAN = "applied_to_loan"
    RETURNED = "returned"
    NOT_A_LOAN_PAYMENT = "not_a_loan_payment"
    SPLIT_BY_REMITTANCE = strawberry.enum_value(
        "split_by_remittance",
        description="A payroll deposit its remittance file explained (set by the import).",
    )


@strawberry.type
class ReconciliationException:
    id: strawberry.ID
    reason: str
    detail: str
    status: str
    resolution: ExceptionResolution | None
    note: str

    @classmethod
    def from_model(cls, row: ExceptionModel) -> ReconciliationException:
        return cls(
            id=encode_global_id("ReconciliationException", row.id),
            reason=row.reason,
            detail=row.detail,
            status=row.status.value,
            resolution=ExceptionResolution(row.resolution) if row.resolution else None,
            note=row.note,
        )


@strawberry.type
class StatementLine:
    id: strawberry.ID
    statement_id: strawberry.ID
    direction: str = strawberry.field(description="credit (money in) or debit (money out)")
    amount: Money
    booking_date: date | None
    value_date: date | None
    clave_rastreo: str
    reference: str
    concept: str
    counterparty_name: str
    status: StatementLineStatus
    exception: ReconciliationException | None

    @classmethod
    def from_model(cls, row: LineModel, exc: ExceptionModel | None) -> StatementLine:
        return cls(
            id=encode_global_id("StatementLine", row.id),
            statement_id=encode_global_id("BankStatement", row.statement_id),
            direction=row.direction.value,
            amount=money(from_centavos(row.amount_centavos)),
            booking_date=row.booking_date,
            value_date=row.value_date,
            clave_rastreo=row.clave_rastreo,
            reference=row.reference,
            concept=row.concept,
            counterparty_name=row.counterparty_name,
            status=StatementLineStatus(row.status.value),
            exception=ReconciliationException.from_model(exc) if exc else None,
        )


@strawberry.type
class StatementLineEdge:
    cursor: str
    node: StatementLine


@strawberry.type
class StatementLineConnection:
    edges: list[StatementLineEdge]
    page_info: PageInfo
    _count: strawberry.Private[Count] = no_rows

    @strawberry.field(description="All lines the connection spans (counted only when asked).")
    async def total_count(self) -> int:
        return await self._count()


@strawberry.input
class StatementLineFilter:
    status: list[StatementLineStatus] | None = None
    statement_id: strawberry.ID | None = None
    from_: date | None = strawberry.field(default=None, name="from")
    to: date | None = None


@strawberry.input
class ResolveStatementLineInput:
    line_id: strawberry.ID
    resolution: ExceptionResolution
    note: str
    payment_id: strawberry.ID | None = None
    loan_id: strawberry.ID | None = None


@strawberry.type
class StatementLineResolved:
    line: StatementLine


ResolveStatementLineResult = Annotated[
    StatementLineResolved | PaymentError, strawberry.union("ResolveStatementLineResult")
]


def _pk(value: str | None, type_name: str) -> int | None:
    if value is None:
        return None
    decoded = decode_global_id(value)
    return decoded[1] if decoded and decoded[0] == type_name else -1


def _log_in_first() -> PaymentError:
    """The answer to a call without a session that may act (the union's error member)."""
    return PaymentError(code="UNAUTHENTICATED", message="Inicia sesión.")


async def _staff(info: Info_) -> UserModel:
    user = await info.context.user()
    if user is None or not is_staff(user):
        raise UserFacingError("FORBIDDEN", "Solo el personal de la institución.")
    return user


async def _connection(
    info: Info_,
    wanted: LineFilter,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> StatementLineConnection:
    user = await _staff(info)
    return await line_connection(info, user.institution_id, wanted, first, after, last, before)


async def line_connection(
    info: Info_,
    institution_id: int,
    wanted: LineFilter,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> StatementLineConnection:
    """The institution's lines ``wanted`` selects, oldest first (Relay paging)."""
    request = checked_request(info, first, after, last, before)
    if request is None:
        return StatementLineConnection(edges=[], page_info=empty_page())
    query = lines(institution_id, wanted)
    page = await fetch_page(query, request)
    exceptions = await exception_of([row.id for row in page.rows])
    edges = [
        StatementLineEdge(
            cursor=cursor(row.id), node=StatementLine.from_model(row, exceptions.get(row.id))
        )
        for row in page.rows
    ]
    return StatementLineConnection(
        edges=edges,
        page_info=page_info(page.rows, page.has_next, page.has_previous),
        _count=query.count,
    )


@strawberry.type
class ReconciliationQueries:
    @strawberry.field(
        description="Staff: statement lines, filtered, oldest first.",
        extensions=allow(IsAuthenticated()),
    )
    async def statement_lines(
        self,
        info: Info_,
        filter: StatementLineFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> StatementLineConnection:
        wanted = filter or StatementLineFilter()
        statement = _pk(wanted.statement_id, "BankStatement")
        return await _connection(
            info,
            LineFilter(
                statuses=tuple(LineStatus(s.value) for s in wanted.status or ()),
                statement_id=statement,
                since=wanted.from_,
                until=wanted.to,
            ),
            first,
            after,
            last,
            before,
        )

    @strawberry.field(
        description="Staff: lines whose exception is open (the queue).",
        extensions=allow(IsAuthenticated()),
    )
    async def reconciliation_exceptions(
        self,
        info: Info_,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> StatementLineConnection:
        return await _connection(info, OPEN_QUEUE, first, after, last, before)


@strawberry.type
class ReconciliationMutations:
    @strawberry.mutation(
        description="Staff: say what an unexplained statement line is.",
        extensions=allow(IsAuthenticated(answer=_log_in_first)),
    )
    async def resolve_statement_line(
        self, info: Info_, input: ResolveStatementLineInput
    ) -> ResolveStatementLineResult:
        user = await info.context.user()
        if user is None:
            return PaymentError(code="UNAUTHENTICATED", message="Inicia sesión.")
        if not is_staff(user):
            return PaymentError(code="FORBIDDEN", message="Solo el personal de la institución.")
        line_id = _pk(input.line_id, "StatementLine") or 0
        open_exc = (
            await ExceptionModel.filter(line_id=line_id, institution_id=user.institution_id)
            .order_by("-id")
            .first()
        )
        if open_exc is None:
            return PaymentError(code="NOT_FOUND", message="No existe ese movimiento.")
        try:
            await resolve_exception(
                info.context.runtime,
                open_exc.id,
                Resolution(input.resolution.value),
                actor_id=user.id,
                institution_id=user.institution_id,
                note=input.note,
                at=info.context.runtime.now(),
                payment_id=_pk(input.payment_id, "Payment"),
                loan_id=_pk(input.loan_id, "Loan"),
            )
        except ResolutionRefused as refused:
            return PaymentError(code="RESOLUTION_REFUSED", message=str(refused))
        line = await LineModel.get(id=line_id)
        exceptions = await exception_of([line.id])
        return StatementLineResolved(line=StatementLine.from_model(line, exceptions.get(line.id)))
