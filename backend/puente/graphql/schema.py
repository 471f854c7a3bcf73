"""The GraphQL schema: queries and mutations (doors onto the services)."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.types import Info

from puente.accounts.access import client_address
from puente.accounts.models import User as UserModel
from puente.graphql.context import GraphQLContext
from puente.graphql.errors import UserFacingError, should_mask_error
from puente.graphql.hardening import HideSuggestions, PuenteSchema
from puente.graphql.paging import after_id, cursor, page_size
from puente.graphql.payment_types import (
    Payment,
    PaymentConnection,
    PaymentEdge,
    PaymentMethod,
)
from puente.graphql.payments import PaymentMutations, StaffMutations, Subscription
from puente.graphql.reconciliation import ReconciliationMutations, ReconciliationQueries
from puente.graphql.scalars import SCALAR_OVERRIDES
from puente.graphql.sessions import SessionMutations, login_result
from puente.graphql.types import (
    Loan,
    LoanConnection,
    LoanEdge,
    LoanSimulation,
    LoanSimulationInput,
    LoginResult,
    Node,
    PageInfo,
    ScheduleRow,
    User,
    decode_global_id,
    encode_global_id,
    money,
)
from puente.loans.access import can_see_loan, visible_loans
from puente.loans.engine import LoanTermsError
from puente.loans.models import Loan as LoanModel
from puente.loans.simulation import simulate_loan
from puente.payments.history import visible_payments
from puente.payments.models import Payment as PaymentModel
from puente.payments.models import PaymentMethod as PaymentMethodModel

__all__ = ["build_schema", "schema"]

PuenteInfo = Info[GraphQLContext, None]


def _user_type(user: UserModel) -> User:
    return User(
        id=encode_global_id("User", user.id),
        email=user.email,
        full_name=user.full_name,
        role=str(user.role.value if hasattr(user.role, "value") else user.role),
    )


@strawberry.type
class Viewer:
    _user: strawberry.Private[UserModel]

    @strawberry.field
    def user(self) -> User:
        return _user_type(self._user)

    @strawberry.field
    async def loans(
        self, info: PuenteInfo, first: int | None = None, after: str | None = None
    ) -> LoanConnection:
        size = page_size(first)
        query = visible_loans(self._user)
        total = await query.count()
        rows = await query.filter(id__gt=after_id(after)).order_by("id").limit(size + 1)
        page = rows[:size]
        views = await info.context.loan_views.load_many([loan.id for loan in page])
        edges = [LoanEdge(cursor=cursor(v.loan.id), node=Loan.from_view(v)) for v in views]
        return LoanConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=total,
        )

    @strawberry.field
    async def payment_methods(self) -> list[PaymentMethod]:
        rows = await PaymentMethodModel.filter(user_id=self._user.id, is_active=True).order_by("id")
        return [PaymentMethod.from_model(row) for row in rows]

    @strawberry.field
    async def payments(
        self, first: int | None = None, after: str | None = None
    ) -> PaymentConnection:
        size = page_size(first)
        query = visible_payments(self._user)  # the portal's history lists the same
        total = await query.count()
        last_id = after_id(after)
        # Newest first: cursor walks down the ids.
        filtered = query.filter(id__lt=last_id) if last_id else query
        rows = await filtered.order_by("-id").limit(size + 1)
        page = rows[:size]
        edges = [PaymentEdge(cursor=cursor(p.id), node=Payment.from_model(p)) for p in page]
        return PaymentConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=total,
        )


@strawberry.type
class Query(ReconciliationQueries):
    @strawberry.field(description="The authenticated user; null when not authenticated.")
    async def viewer(self, info: PuenteInfo) -> Viewer | None:
        user = await info.context.user()
        return Viewer(_user=user) if user else None

    @strawberry.field(description="Fetch any object by its global id (if you may see it).")
    async def node(self, info: PuenteInfo, id: strawberry.ID) -> Node | None:
        user = await info.context.user()
        decoded = decode_global_id(id)
        if user is None or decoded is None:
            return None
        type_name, pk = decoded
        if type_name == "Loan":
            loan = await LoanModel.filter(id=pk).first()
            if loan is None or not can_see_loan(user, loan):
                return None
            return Loan.from_view(await info.context.loan_views.load(loan.id))
        if type_name == "Payment":
            payment = await PaymentModel.filter(id=pk).prefetch_related("loan").first()
            if payment is None or not can_see_loan(user, payment.loan):
                return None
            return Payment.from_model(payment)
        if type_name == "User" and pk == user.id:
            return _user_type(user)
        return None

    @strawberry.field(description="Public loan simulator: schedule, totals and CAT (no login).")
    def simulate_loan(self, info: PuenteInfo, input: LoanSimulationInput) -> LoanSimulation:
        try:
            result = simulate_loan(
                principal=input.principal,
                annual_rate=input.annual_rate,
                term_count=input.term_count,
                periodicity=input.periodicity.value,
                method=input.method.value,
                vat_rate=input.vat_rate,
                opening_fee_rate=input.opening_fee_rate,
                day_count=input.day_count.value,
                start_date=input.start_date or info.context.runtime.today(),
            )
        except LoanTermsError as exc:
            field = input_field_name(exc.field)
            raise UserFacingError(
                "INVALID_LOAN_TERMS", f"{field}: {exc.message}", field=field
            ) from None
        schedule = result.schedule
        return LoanSimulation(
            installment_amount=money(schedule.installment_amount),
            total_interest=money(schedule.total_interest),
            total_vat=money(schedule.total_vat),
            total_paid=money(schedule.total_paid),
            cat=result.cat,
            schedule=[
                ScheduleRow(
                    number=row.number,
                    due_date=row.due_date,
                    principal=money(row.principal),
                    interest=money(row.interest),
                    vat=money(row.vat),
                    total=money(row.total),
                    balance=money(row.balance),
                )
                for row in schedule.rows
            ],
            opening_fee=money(schedule.opening_fee + schedule.opening_fee_vat),
            disbursed_amount=money(schedule.disbursed_amount),
        )


def input_field_name(engine_field: str) -> str:
    """The engine's field (``term_count``) as the input names it (``termCount``)."""
    head, *rest = engine_field.split("_")
    return head + "".join(part.title() for part in rest)


@strawberry.type
class Mutation(PaymentMutations, StaffMutations, SessionMutations, ReconciliationMutations):
    @strawberry.mutation(description="Password (and OTP when enrolled) for access+refresh tokens.")
    async def login(
        self, info: PuenteInfo, email: str, password: str, otp: str | None = None
    ) -> LoginResult:
        address = client_address(info.context.request)
        return login_result(await info.context.auth.login(email, password, otp, client_ip=address))

    @strawberry.mutation(
        description="Rotate a refresh token; reusing a spent one ends the session."
    )
    async def refresh_token(self, info: PuenteInfo, refresh_token: str) -> LoginResult:
        return login_result(await info.context.auth.refresh(refresh_token))


def build_schema(
    *, debug: bool = False, max_depth: int = 10, introspection: bool = True
) -> strawberry.Schema:
    """The schema; ``introspection=False`` refuses introspection and hides suggestions."""
    extensions: list = [
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: QueryDepthLimiter(max_depth=max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=15),
        lambda: MaxTokensLimiter(max_token_count=2000),
    ]
    if not introspection:
        extensions += [DisableIntrospection, HideSuggestions]
    if not debug:
        extensions.append(lambda: MaskErrors(should_mask_error=should_mask_error))
    return PuenteSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Loan, Payment, User],
        extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,
    )


schema = build_schema()
_ = Decimal  # Decimal scalar is used through the types module
