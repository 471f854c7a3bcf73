"""GraphQL object types (names fixed by ../shared/contract.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import strawberry

from puente.accounts.models import User as UserModel
from puente.collections.models import MandateStatus
from puente.collections.reads import LoanDomiciliacion, loan_domiciliacion
from puente.graphql import loan_fields
from puente.graphql.values import (
    MAX_ID,
    Count,
    Money,
    Node,
    PageInfo,
    decode_global_id,
    encode_global_id,
    money,
    no_rows,
)
from puente.loans.models import Loan as LoanModel
from puente.loans.payoff import payoff_quote
from puente.loans.state import InstallmentView, LoanBalanceView, LoanView
from puente.money import from_centavos
from puente.statements.data import parse_period, statement_periods
from puente.statements.service import statement_path

__all__ = [
    "AmortizationMethod",
    "AuthError",
    "AuthTokens",
    "DayCount",
    "DelinquencyBucket",
    "Installment",
    "InstallmentStatus",
    "Loan",
    "LoanBalance",
    "LoanConnection",
    "LoanEdge",
    "LoanSimulation",
    "LoanSimulationInput",
    "LoanStatus",
    "LoginResult",
    "MAX_ID",
    "Money",
    "Node",
    "PageInfo",
    "Periodicity",
    "ScheduleRow",
    "Count",
    "no_rows",
    "TokenScope",
    "User",
    "UserRole",
    "decode_global_id",
    "encode_global_id",
    "money",
]


@strawberry.enum
class LoanStatus(Enum):
    APPLICATION = "application"
    APPROVED = "approved"
    DISBURSED = "disbursed"
    ACTIVE = "active"
    PAID_OFF = "paid_off"
    DEFAULTED = "defaulted"
    WRITTEN_OFF = "written_off"
    RESTRUCTURED = "restructured"


@strawberry.enum
class InstallmentStatus(Enum):
    PENDING = "PENDING"
    PARTIAL = "PARTIAL"
    PAID = "PAID"
    OVERDUE = "OVERDUE"
    WRITTEN_OFF = "WRITTEN_OFF"


@strawberry.enum(description="Aging by days past due: current, 1-29, 30-59, 60-89, 90+.")
class DelinquencyBucket(Enum):
    CURRENT = "CURRENT"
    DPD_1_29 = "DPD_1_29"
    DPD_30_59 = "DPD_30_59"
    DPD_60_89 = "DPD_60_89"
    DPD_90_PLUS = "DPD_90_PLUS"


@strawberry.enum
class Periodicity(Enum):
    WEEKLY = "WEEKLY"
    BIWEEKLY = "BIWEEKLY"
    SEMIMONTHLY = "SEMIMONTHLY"
    MONTHLY = "MONTHLY"


@strawberry.enum
class AmortizationMethod(Enum):
    FRENCH = "FRENCH"
    GERMAN = "GERMAN"


@strawberry.enum
class DayCount(Enum):
    PERIODIC = "PERIODIC"
    ACTUAL_360 = "ACTUAL_360"
    ACTUAL_365 = "ACTUAL_365"


@strawberry.enum(description="What a person is to the institution.")
class UserRole(Enum):
    BORROWER = "borrower"
    GUARDIAN = "guardian"  # a parent or tutor paying a student's tuition
    STUDENT = "student"
    STAFF = "staff"
    ADMIN = "admin"


@strawberry.type
class User(Node):
    email: str
    full_name: str
    role: str = strawberry.field(deprecation_reason="Usa userRole (un enum).")
    user_role: UserRole

    @classmethod
    def from_model(cls, user: UserModel) -> User:
        role = str(getattr(user.role, "value", user.role))
        return cls(
            id=encode_global_id("User", user.id),
            email=user.email,
            full_name=user.full_name,
            role=role,
            user_role=UserRole(role),
        )


@strawberry.type
class Installment:
    number: int
    due_date: date
    total: Money
    paid: Money
    status: InstallmentStatus
    principal: Money
    interest: Money
    vat: Money
    charges: Money = strawberry.field(description="Moratorium interest, late fees and their IVA.")
    outstanding: Money

    @classmethod
    def from_view(cls, view: InstallmentView) -> Installment:
        return cls(
            number=view.number,
            due_date=view.due_date,
            total=money(view.total),
            paid=money(view.paid),
            status=InstallmentStatus(view.status.value),
            principal=money(view.principal),
            interest=money(view.interest),
            vat=money(view.vat),
            charges=money(view.charges),
            outstanding=money(view.outstanding),
        )


@strawberry.type(
    description=(
        "What settles the loan today: principal plus interest and IVA earned to date, "
        "charges and moratorium, less advances held (from the contract and the ledger)."
    )
)
class LoanBalance:
    total: Money
    principal: Money
    interest: Money
    vat: Money
    late_interest: Money
    fees: Money
    overdue: Money
    days_past_due: int
    advance: Money = strawberry.field(description="Advance payments held for next installments.")
    bucket: DelinquencyBucket = strawberry.field(description="Delinquency aging bucket.")

    @classmethod
    def from_view(cls, view: LoanBalanceView) -> LoanBalance:
        return cls(
            total=money(view.total),
            principal=money(view.principal),
            interest=money(view.interest),
            vat=money(view.vat),
            late_interest=money(view.late_interest),
            fees=money(view.fees),
            overdue=money(view.overdue),
            days_past_due=view.days_past_due,
            advance=money(view.advance),
            bucket=DelinquencyBucket(view.bucket.value),
        )


@strawberry.type(description="One try at charging a domiciliación (visible to staff and payer).")
class ChargeAttempt:
    installment_number: int
    attempt: int
    scheduled_for: date
    status: str
    amount: Money | None
    decline_code: str | None = strawberry.field(description="The provider's own code.")
    next_step: str | None = strawberry.field(description="Spanish: what happens next.")


@strawberry.type(description="A loan's domiciliación: the mandate in force and its attempts.")
class Domiciliacion:
    enabled: bool
    status: str = strawberry.field(description="none, active, revoked or needs_method.")
    payment_method_id: strawberry.ID | None
    valid_until: date | None
    text_version: str | None
    attempts: list[ChargeAttempt]

    @classmethod
    def from_read(cls, read: LoanDomiciliacion) -> Domiciliacion:
        mandate = read.mandate
        return cls(
            enabled=mandate is not None and mandate.status is MandateStatus.ACTIVE,
            status=mandate.status.value if mandate else "none",
            payment_method_id=(
                encode_global_id("PaymentMethod", mandate.payment_method_id) if mandate else None
            ),
            valid_until=mandate.valid_until if mandate else None,
            text_version=mandate.text_version if mandate else None,
            attempts=[
                ChargeAttempt(
                    installment_number=a.installment_number,
                    attempt=a.attempt,
                    scheduled_for=a.scheduled_for,
                    status=a.status.value,
                    amount=(
                        money(from_centavos(a.amount_centavos))
                        if a.amount_centavos is not None
                        else None
                    ),
                    decline_code=a.decline_code,
                    next_step=a.detail,
                )
                for a in read.attempts
            ],
        )


@strawberry.type
class AccountStatement:
    """An estado de cuenta: one calendar month of a loan, cut on its last day."""

    period: str = strawberry.field(description="YYYY-MM")
    cut_date: date = strawberry.field(description="Fecha de corte.")
    pdf_url: str = strawberry.field(
        description="Root-relative URL of the PDF; same Authorization: Bearer as /graphql."
    )


def _balance(root: strawberry.Parent[Any], info: strawberry.Info) -> LoanBalance:
    return loan_fields.with_view(root, info, lambda view: LoanBalance.from_view(view.balance))  # type: ignore[return-value]


def _upcoming(view: LoanView) -> Installment | None:
    upcoming = view.next_installment
    return Installment.from_view(upcoming) if upcoming else None


def _next_installment(root: strawberry.Parent[Any], info: strawberry.Info) -> Installment | None:
    return loan_fields.with_view(root, info, _upcoming)  # type: ignore[return-value]


def _installments(root: strawberry.Parent[Any], info: strawberry.Info) -> list[Installment]:
    return loan_fields.with_view(  # type: ignore[return-value]
        root, info, lambda view: [Installment.from_view(i) for i in view.installments]
    )


def _due(view: LoanView) -> Money | None:
    due = view.next_payment_due
    return money(due) if due is not None else None


def _next_payment_due(root: strawberry.Parent[Any], info: strawberry.Info) -> Money | None:
    return loan_fields.with_view(root, info, _due)  # type: ignore[return-value]


@strawberry.type
class Loan(Node):
    """A loan as the API shows it, built from its row; what comes from the read model
    (balance, installments, next payment) is computed only when the query asks for it,
    for every loan of a list at once (``GraphQLContext.loan_views``)."""

    status: LoanStatus
    principal: Money
    cat: Decimal = strawberry.field(description="CAT in percent, one decimal, without IVA.")

    balance: LoanBalance = strawberry.field(resolver=_balance)
    next_installment: Installment | None = strawberry.field(resolver=_next_installment)
    installments: list[Installment] = strawberry.field(resolver=_installments)
    next_payment_due: Money | None = strawberry.field(
        resolver=_next_payment_due,
        description="The next installment's outstanding less advance payments already held "
        'for it: what the borrower still has to pay for it (the portal\'s "Próximo pago").',
    )
    start_date: date
    term_count: int
    periodicity: Periodicity
    annual_rate: Decimal
    _model: strawberry.Private[LoanModel]
    _view: strawberry.Private[LoanView | None] = None
    kind = strawberry.field(resolver=loan_fields.kind)
    display_name = strawberry.field(
        resolver=loan_fields.display_name, description="A name to show the person."
    )
    product = strawberry.field(resolver=loan_fields.product)
    institution = strawberry.field(
        resolver=loan_fields.institution,
        description="The lender or school, for its staff (null for borrowers: see "
        "institutionName).",
    )
    institution_name = strawberry.field(resolver=loan_fields.institution_name)
    payments = strawberry.field(resolver=loan_fields.loan_payments)
    tuition = strawberry.field(resolver=loan_fields.tuition)
    activity = strawberry.field(
        resolver=loan_fields.activity,
        description="The ledger history in the borrower's words, oldest first.",
    )

    @strawberry.field(
        description="What settles the loan on asOf (default today): principal, interest earned "
        "to that day with its IVA, fees and moratorium, less advance payments held."
    )
    async def payoff(self, info: strawberry.Info, as_of: date | None = None) -> Money:
        day = as_of or info.context.runtime.today()
        return money((await payoff_quote(self._model, day)).total)

    @strawberry.field(
        description="The domiciliación: the mandate in force and every scheduled charge attempt."
    )
    async def domiciliacion(self) -> Domiciliacion:
        return Domiciliacion.from_read(await loan_domiciliacion(self._model.id))

    @strawberry.field(description="Monthly estados de cuenta already cut, oldest first.")
    def statements(self, info: strawberry.Info) -> list[AccountStatement]:
        loan = self._model
        return [
            AccountStatement(
                period=period,
                cut_date=bounds[1],
                pdf_url=statement_path(loan.id, period),
            )
            for period in statement_periods(loan, info.context.runtime.today())
            if (bounds := parse_period(period)) is not None
        ]

    @classmethod
    def from_row(cls, loan: LoanModel) -> Loan:
        """The loan of a row; its view is loaded when a field needs it."""
        return cls(
            id=encode_global_id("Loan", loan.id),
            status=LoanStatus(loan.status.value if isinstance(loan.status, Enum) else loan.status),
            principal=money(from_centavos(loan.principal_centavos)),
            cat=Decimal(loan.cat or 0),
            start_date=loan.start_date,
            term_count=loan.term_count,
            periodicity=Periodicity(loan.periodicity),
            annual_rate=Decimal(loan.annual_rate),
            _model=loan,
        )

    @classmethod
    def from_view(cls, view: LoanView) -> Loan:
        """The loan of a view already computed (a mutation's answer, a subscription)."""
        loan = cls.from_row(view.loan)
        loan._view = view
        return loan


@strawberry.type
class LoanEdge:
    cursor: str
    node: Loan


@strawberry.type
class LoanConnection:
    edges: list[LoanEdge]
    page_info: PageInfo
    _count: strawberry.Private[Count] = no_rows

    @strawberry.field(description="All loans the connection spans (counted only when asked).")
    async def total_count(self) -> int:
        return await self._count()


@strawberry.input
class LoanSimulationInput:
    principal: Decimal
    annual_rate: Decimal = strawberry.field(description="0.36 = 36 % nominal annual, before IVA")
    term_count: int
    periodicity: Periodicity
    method: AmortizationMethod = AmortizationMethod.FRENCH
    vat_rate: Decimal = Decimal("0.16")
    opening_fee_rate: Decimal = strawberry.field(
        default=Decimal("0"), description="The fee is withheld from the disbursement."
    )
    day_count: DayCount = DayCount.PERIODIC
    start_date: date | None = None


@strawberry.type
class ScheduleRow:
    number: int
    due_date: date
    principal: Money
    interest: Money
    vat: Money
    total: Money
    balance: Money


@strawberry.type
class LoanSimulation:
    installment_amount: Money
    total_interest: Money
    total_vat: Money
    total_paid: Money
    cat: Decimal = strawberry.field(description='Percent, one decimal, e.g. "79.6".')
    schedule: list[ScheduleRow]
    opening_fee: Money
    disbursed_amount: Money


@strawberry.enum(description="What a token opens: everything, or only MFA enrolment.")
class TokenScope(Enum):
    FULL = "full"
    MFA_ENROLMENT = "mfa_enrolment"


@strawberry.type
class AuthTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    scope: TokenScope = strawberry.field(
        description="MFA_ENROLMENT: staff must enrol (startMfaEnrolment) before anything else."
    )


@strawberry.type
class AuthError:
    code: str
    message: str


LoginResult = Annotated[AuthTokens | AuthError, strawberry.union("LoginResult")]
