"""The GraphQL schema: queries and mutations (doors onto the services)."""

from __future__ import annotations

import functools
from decimal import Decimal

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
    query_depth_limiter,
)
from strawberry.extensions import max_aliases as aliases_limiter
from strawberry.types import Info

from graphql import ASTValidationRule
from puente.accounts.access import client_address
from puente.accounts.models import User as UserModel
from puente.collections.cards import list_cards
from puente.graphql.collections import CollectionMutations
from puente.graphql.compliance import (
    AmlAlertConnection,
    ComplianceMutations,
    aml_alert_connection,
    require_officer,
)
from puente.graphql.connections import PaymentFilter, loan_connection, payment_connection
from puente.graphql.context import GraphQLContext
from puente.graphql.errors import FieldErrors, UserFacingError, should_mask_error
from puente.graphql.hardening import HideSuggestions, MaskErrorsWhenAny, PuenteSchema
from puente.graphql.institution import Institution, institution_node, institution_of
from puente.graphql.institution_events import InstitutionSubscription
from puente.graphql.invoicing import InvoicingMutations
from puente.graphql.payment_types import (
    Payment,
    PaymentConnection,
    PaymentMethod,
)
from puente.graphql.payments import PaymentMutations, StaffMutations
from puente.graphql.payments import Subscription as PaymentSubscription
from puente.graphql.permissions import AllowAnyone, IsAuthenticated, allow
from puente.graphql.reconciliation import ReconciliationMutations, ReconciliationQueries
from puente.graphql.recovery import RecoveryMutations
from puente.graphql.scalars import SCALAR_OVERRIDES
from puente.graphql.sessions import SessionMutations, login_result
from puente.graphql.shared_results import SharedEventExecutor
from puente.graphql.types import (
    Loan,
    LoanConnection,
    LoanSimulation,
    LoanSimulationInput,
    LoginResult,
    Node,
    ScheduleRow,
    User,
    decode_global_id,
    money,
)
from puente.loans.access import can_see_loan, visible_loans
from puente.loans.engine import LoanTermsError
from puente.loans.simulation import simulate_loan
from puente.payments.history import visible_payments
from puente.payments.models import Payment as PaymentModel

__all__ = ["build_schema", "schema", "validation_rules"]

MAX_ALIASES = 15

PuenteInfo = Info[GraphQLContext, None]


def _user_type(user: UserModel) -> User:
    return User.from_model(user)


@strawberry.type
class Viewer:
    _user: strawberry.Private[UserModel]

    @strawberry.field
    def user(self) -> User:
        return _user_type(self._user)

    @strawberry.field
    async def loans(
        self,
        info: PuenteInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> LoanConnection:
        return await loan_connection(info, visible_loans(self._user), first, after, last, before)

    @strawberry.field
    async def payment_methods(self) -> list[PaymentMethod]:
        rows = await list_cards(self._user)  # the default first
        return [PaymentMethod.from_model(row) for row in rows]

    @strawberry.field(description="Payments the viewer may see (the portal's history).")
    async def payments(
        self,
        info: PuenteInfo,
        filter: PaymentFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> PaymentConnection:
        query = visible_payments(self._user)
        return await payment_connection(info, query, filter, first, after, last, before)

    @strawberry.field(description="Staff and admins: their institution; null for anyone else.")
    async def institution(self, info: PuenteInfo) -> Institution | None:
        return await institution_of(info, self._user)


@strawberry.type
class Query(ReconciliationQueries):
    @strawberry.field(
        description="The authenticated user; null when not authenticated.",
        extensions=allow(IsAuthenticated(answer=None)),
    )
    async def viewer(self, info: PuenteInfo) -> Viewer | None:
        return Viewer(_user=await info.context.acting_user())

    @strawberry.field(
        description="Fetch any object by its global id (if you may see it).",
        extensions=allow(IsAuthenticated(answer=None)),
    )
    async def node(self, info: PuenteInfo, id: strawberry.ID) -> Node | None:
        user = await info.context.acting_user()
        decoded = decode_global_id(id)
        if decoded is None:
            return None
        type_name, pk = decoded
        if type_name == "Loan":
            loan = await info.context.loan_rows.load(pk)
            if loan is None or not can_see_loan(user, loan):
                return None
            return Loan.from_row(loan)
        if type_name == "Payment":
            payment = await PaymentModel.filter(id=pk).prefetch_related("loan").first()
            if payment is None or not can_see_loan(user, payment.loan):
                return None
            return Payment.from_model(payment)
        if type_name == "Institution":
            return await institution_node(info, user, pk)
        if type_name == "User" and pk == user.id:
            return _user_type(user)
        return None

    @strawberry.field(
        description="Staff: the institution's AML alerts, newest first (until Institution "
        "exists, where the contract puts it as Institution.amlAlerts).",
        extensions=allow(IsAuthenticated()),
    )
    async def aml_alerts(
        self,
        info: PuenteInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> AmlAlertConnection:
        officer = await require_officer(info)
        return await aml_alert_connection(info, officer.institution_id, first, after, last, before)

    @strawberry.field(
        description="Public loan simulator: schedule, totals and CAT (no login).",
        extensions=allow(AllowAnyone()),
    )
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
class Mutation(
    PaymentMutations,
    CollectionMutations,
    StaffMutations,
    SessionMutations,
    ComplianceMutations,
    InvoicingMutations,
    ReconciliationMutations,
    RecoveryMutations,
):
    @strawberry.mutation(
        description="Password (and OTP when enrolled) for access+refresh tokens.",
        extensions=allow(AllowAnyone()),
    )
    async def login(
        self, info: PuenteInfo, email: str, password: str, otp: str | None = None
    ) -> LoginResult:
        address = client_address(info.context.request)
        return login_result(await info.context.auth.login(email, password, otp, client_ip=address))

    @strawberry.mutation(
        description="Rotate a refresh token; reusing a spent one ends the session.",
        extensions=allow(AllowAnyone()),
    )
    async def refresh_token(self, info: PuenteInfo, refresh_token: str) -> LoginResult:
        return login_result(await info.context.auth.refresh(refresh_token))


@strawberry.type
class Subscription(PaymentSubscription, InstitutionSubscription):
    pass


@functools.cache
def validation_rules(
    *, max_depth: int, max_aliases: int = MAX_ALIASES
) -> tuple[type[ASTValidationRule], ...]:
    """The depth and alias limits as rule classes, built once per limit.

    strawberry's ``ValidationCache`` keys its LRU on the rule classes as well as the
    document: ``QueryDepthLimiter``/``MaxAliasesLimiter`` build new classes each time they
    are constructed (once per request as factories), so the cache never hit and every
    request paid for validation again (issue 15 #1).
    """
    return (
        query_depth_limiter.create_validator(max_depth, None, None),
        aliases_limiter.create_validator(max_aliases),
    )


def build_schema(
    *,
    debug: bool = False,
    max_depth: int = 10,
    introspection: bool = True,
    share_subscription_results: bool = True,
) -> strawberry.Schema:
    """The schema; ``introspection=False`` refuses introspection and hides suggestions.

    ``share_subscription_results=False`` executes every subscriber's event on its own (the
    behaviour before issue 15 #5; the benchmark's baseline).
    """
    limits = list(validation_rules(max_depth=max_depth))
    # Factories, not instances: an extension instance would be shared by concurrent
    # requests (strawberry #4369). Each factory reuses the same rule classes.
    extensions: list = [
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: AddValidationRules(limits),
        lambda: MaxTokensLimiter(max_token_count=2000),
        FieldErrors,
    ]
    if not introspection:
        extensions += [DisableIntrospection, HideSuggestions]
    if not debug:
        extensions.append(lambda: MaskErrorsWhenAny(should_mask_error=should_mask_error))
    return PuenteSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Loan, Payment, User, Institution],
        extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,
        execution_context_class=SharedEventExecutor if share_subscription_results else None,
    )


schema = build_schema()
_ = Decimal  # Decimal scalar is used through the types module
