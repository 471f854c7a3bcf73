"""What an app needs to render a loan: its kind, a name, its product, its payments and, for
a school's account, the tuition facts priced for today.

Resolvers of ``types.Loan``; each reads through the request's loaders
(``graphql/loaders.py``) so a list of loans costs the same statements as one. Types of other
modules are named lazily (this module is imported by ``types``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import strawberry
from strawberry.types import Info

from puente.enums import JournalKind
from puente.graphql.values import graphql_type
from puente.loans.access import is_staff
from puente.loans.models import Loan as LoanModel
from puente.loans.models import LoanProduct as LoanProductRow
from puente.loans.state import LoanView
from puente.money import format_mxn, from_centavos
from puente.tuition.engine import ENROLMENT, amount_due_on
from puente.tuition.pricing import plan_from_settings

if TYPE_CHECKING:
    from puente.graphql.institution import Institution
    from puente.graphql.payment_types import PaymentConnection
    from puente.graphql.values import Money

__all__ = [
    "LoanActivity",
    "LoanActivityKind",
    "LoanKind",
    "LoanProduct",
    "TuitionDetails",
    "activity",
    "display_name",
    "institution",
    "institution_name",
    "kind",
    "loan_payments",
    "product",
    "tuition",
]

_Money = Annotated["Money", strawberry.lazy("puente.graphql.values")]


@strawberry.enum(description="What the loan is for (more may be added).")
class LoanKind(Enum):
    PERSONAL = "PERSONAL"
    PAYROLL = "PAYROLL"
    TUITION = "TUITION"
    OTHER = "OTHER"


_PRODUCT_KINDS = {
    "personal": LoanKind.PERSONAL,
    "payroll": LoanKind.PAYROLL,
    "nomina": LoanKind.PAYROLL,
    "tuition": LoanKind.TUITION,
}


@strawberry.type(description="The product a loan was granted under.")
class LoanProduct:
    id: strawberry.ID
    name: str
    kind: LoanKind


@strawberry.type(
    description="A colegiatura account's next charge, priced for today (pronto pago or recargo)."
)
class TuitionDetails:
    student: str
    school: str
    amount_due_today: _Money = strawberry.field(
        description="What the next open charge costs if paid today (0 when all is paid)."
    )
    cycle: str
    concept: str = strawberry.field(description='"Inscripción" or "Colegiatura 3 de 10".')
    month: date | None = strawberry.field(description="Due date of the next open charge.")
    list_price: _Money
    scholarship: _Money = strawberry.field(description="Beca.")
    early_payment_discount: _Money = strawberry.field(description="Pronto pago, if paid today.")
    surcharge: _Money = strawberry.field(description="Recargo (with its IVA), if paid today.")


# The journal's kinds (enums.JournalKind), as the API names them.
LoanActivityKind = strawberry.enum(
    Enum(  # type: ignore[misc]
        "LoanActivityKind",
        [(kind.name, kind.value) for kind in JournalKind],
        module=__name__,
    ),
    description="What a line of the loan's history is.",
)


@strawberry.type(description="One line of the loan's history, in the borrower's words.")
class LoanActivity:
    date: date
    kind: LoanActivityKind
    description: str = strawberry.field(
        description='e.g. "Pago recibido, aplicado a: interés $120.00 MXN, capital $880.00 MXN".'
    )
    amount: _Money
    installment_number: int | None
    payment_id: strawberry.ID | None


def _loan(root: Any) -> LoanModel:
    return root._model


# Resolvers below answer at once from what the page already read (the loan's product and
# institution joined to it, its view loaded for the whole page) and return an awaitable
# only when something is still to be read: a list of fifty loans then completes without
# fifty sets of tasks (graphql-core awaits whatever a resolver returns that is awaitable).
T = TypeVar("T")
Row = TypeVar("Row")


def _now_or_later(
    ready: Row | None, load: Callable[[], Awaitable[Row]], shape: Callable[[Row], T]
) -> T | Awaitable[T]:
    if ready is not None:
        return shape(ready)

    async def later() -> T:
        return shape(await load())

    return later()


async def loan_view(root: Any, info: Info) -> LoanView:
    """The loan's view (``loans.state``), loaded with the other loans of the list."""
    if root._view is None:
        root._view = await info.context.loan_views.load(_loan(root).id)
    return root._view


def with_view(root: Any, info: Info, shape: Callable[[LoanView], T]) -> T | Awaitable[T]:
    """``shape`` of the loan's view: at once when the page loaded the views of its loans
    (``connections.loan_connection``), else when ``loan_view`` has."""
    return _now_or_later(root._view, lambda: loan_view(root, info), shape)


def _with_product(
    root: Any, info: Info, shape: Callable[[LoanProductRow | None], T]
) -> T | Awaitable[T]:
    loan = _loan(root)
    joined = getattr(loan, "_product", None)  # select_related by the page
    return _now_or_later(joined, lambda: info.context.loaders.products.load(loan.product_id), shape)


def _kind_of(loan: LoanModel, product_kind: str | None) -> LoanKind:
    if plan_from_settings(loan.settings) is not None:
        return LoanKind.TUITION
    return _PRODUCT_KINDS.get((product_kind or "").lower(), LoanKind.OTHER)


def kind(root: strawberry.Parent[Any], info: Info) -> LoanKind:
    loan = _loan(root)
    return _with_product(root, info, lambda row: _kind_of(loan, row.kind if row else None))


def product(root: strawberry.Parent[Any], info: Info) -> LoanProduct | None:
    from puente.graphql.values import encode_global_id

    loan = _loan(root)

    def shape(row: LoanProductRow | None) -> LoanProduct | None:
        if row is None:
            return None
        return LoanProduct(
            id=encode_global_id("LoanProduct", row.id),
            name=row.name,
            kind=_kind_of(loan, row.kind),
        )

    return _with_product(root, info, shape)


def display_name(root: strawberry.Parent[Any], info: Info) -> str:
    """ "Colegiaturas de Sofía Hernández 2026-2027" or "Préstamo personal de $25,000.00 MXN"."""
    loan = _loan(root)
    plan = plan_from_settings(loan.settings)
    if plan is not None:
        return _tuition_name(loan, plan.cycle, info)  # type: ignore[return-value]
    return _with_product(
        root,
        info,
        lambda row: (
            f"{row.name if row else 'Crédito'} de "
            f"{format_mxn(from_centavos(loan.principal_centavos))}"
        ),
    )


async def _tuition_name(loan: LoanModel, cycle: str, info: Info) -> str:
    student = await info.context.loaders.users.load(loan.student_id or loan.borrower_id)
    who = student.full_name if student else ""
    return f"Colegiaturas de {who} {cycle}".replace("  ", " ").strip()


async def institution(
    root: strawberry.Parent[Any], info: Info
) -> Annotated[Institution, strawberry.lazy("puente.graphql.institution")] | None:
    """The lender or school, for its own staff; null for borrowers (they see its name in
    ``displayName`` and on their documents)."""
    user = await info.context.user()
    if user is None or not is_staff(user):
        return None
    row = await info.context.loaders.institutions.load(user.institution_id)
    return graphql_type(info, "Institution").from_model(row) if row else None  # type: ignore[attr-defined]


def institution_name(root: strawberry.Parent[Any], info: Info) -> str:
    """The lender's or school's name, for everyone who may see the loan."""
    loan = _loan(root)
    return _now_or_later(
        getattr(loan, "_institution", None),  # select_related by the page
        lambda: info.context.loaders.institutions.load(loan.institution_id),
        lambda row: row.name if row else "",
    )  # type: ignore[return-value]


async def loan_payments(
    root: strawberry.Parent[Any],
    info: Info,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Annotated[PaymentConnection, strawberry.lazy("puente.graphql.payment_types")]:
    """The loan's payments, newest first (whoever paid them: a guardian's show too)."""
    from puente.graphql.paging import checked_request, cursor, empty_page, page_info, slice_page
    from puente.graphql.payment_types import Payment, PaymentConnection, PaymentEdge

    loan = _loan(root)
    request = checked_request(info, first, after, last, before)
    if request is None:
        return PaymentConnection(edges=[], page_info=empty_page())
    rows = await info.context.loaders.payment_rows.load((loan.id, request))
    page = slice_page(rows, request, newest_first=True)

    async def count() -> int:
        return len(rows)  # every payment of the loan was read: counting them reads nothing

    return PaymentConnection(
        edges=[PaymentEdge(cursor=cursor(p.id), node=Payment.from_model(p)) for p in page.rows],
        page_info=page_info(page.rows, page.has_next, page.has_previous),
        _count=count,
    )


def tuition(root: strawberry.Parent[Any], info: Info) -> TuitionDetails | None:
    """Null unless the loan is a colegiatura account with its plan stored."""
    plan = plan_from_settings(_loan(root).settings)
    if plan is None:
        return None
    return _tuition(root, info, plan)  # type: ignore[return-value]


async def _tuition(root: Any, info: Info, plan: Any) -> TuitionDetails:
    from puente.graphql.values import money

    loan = _loan(root)
    student = await info.context.loaders.users.load(loan.student_id or loan.borrower_id)
    school = await info.context.loaders.institutions.load(loan.institution_id)
    upcoming = (await loan_view(root, info)).next_installment
    today = info.context.runtime.today()
    zero = Decimal("0")
    if upcoming is None:
        return TuitionDetails(
            student=student.full_name if student else "",
            school=school.name if school else "",
            amount_due_today=money(zero),
            cycle=plan.cycle,
            concept="Ciclo pagado",
            month=None,
            list_price=money(zero),
            scholarship=money(zero),
            early_payment_discount=money(zero),
            surcharge=money(zero),
        )
    # The breakdown comes from the engine's one price (tuition.engine.amount_due_on); the
    # amount due is the installment as every door offers it today (loans.state).
    charge = amount_due_on(plan, upcoming.number, today)
    count = len(plan.due_dates)
    concept = (
        "Inscripción"
        if upcoming.number == ENROLMENT
        else f"Colegiatura {upcoming.number} de {count}"
    )
    return TuitionDetails(
        student=student.full_name if student else "",
        school=school.name if school else "",
        amount_due_today=money(upcoming.outstanding),
        cycle=plan.cycle,
        concept=concept,
        month=upcoming.due_date,
        list_price=money(charge.list_price),
        scholarship=money(charge.scholarship),
        early_payment_discount=money(charge.discount),
        surcharge=money(charge.surcharge + charge.surcharge_vat),
    )


async def activity(root: strawberry.Parent[Any], info: Info) -> list[LoanActivity]:
    """The ledger history, oldest first (loans.history)."""
    from puente.graphql.values import encode_global_id, money

    rows = await info.context.loaders.history.load(_loan(root).id)
    return [
        LoanActivity(
            date=row.on,
            kind=LoanActivityKind(row.kind.value),
            description=row.description,
            amount=money(from_centavos(row.centavos)),
            installment_number=row.installment,
            payment_id=encode_global_id("Payment", row.payment_id) if row.payment_id else None,
        )
        for row in rows
    ]
