"""GraphQL types of payments and saved payment methods (names fixed by the contract)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from puente.graphql.fiscal import (
    Cep,
    Invoice,
    resolve_cep,
    resolve_fiscal_documents,
    resolve_invoice,
)
from puente.graphql.values import (
    Count,
    Money,
    Node,
    PageInfo,
    encode_global_id,
    graphql_type,
    money,
    no_rows,
)
from puente.money import from_centavos
from puente.payments.failure_messages import failure_message
from puente.payments.models import Payment as PaymentModel
from puente.payments.models import PaymentMethod as PaymentMethodModel
from puente.providers.registry import provider_specs
from puente.statements.service import receipt_path

if TYPE_CHECKING:
    from puente.graphql.types import Loan

__all__ = [
    "NextActionType",
    "Payment",
    "PaymentConnection",
    "PaymentEdge",
    "PaymentMethod",
    "PaymentMethodType",
    "PaymentNextAction",
    "PaymentStatus",
    "PrepaymentMode",
    "Provider",
]


@strawberry.enum
class PaymentStatus(Enum):
    CREATED = "created"
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    CHARGED_BACK = "charged_back"


@strawberry.enum
class PaymentMethodType(Enum):
    CARD = "card"
    SPEI = "spei"
    CASH = "cash"
    PAYPAL = "paypal"


# Derived from the registered specs (``ProviderSpec.graphql_value``): every provider payers
# pay through, built-ins first in the catalogue's order (the contract's STRIPE … STP), then
# plug-ins found by entry point. A new built-in adds its value, and schema.graphql must be
# regenerated; the contract lets the enum grow only by addition.
Provider = strawberry.enum(
    Enum(  # type: ignore[misc]
        "Provider",
        [(value, spec.name) for spec in provider_specs() if (value := spec.graphql_value)],
        module=__name__,
    )
)


@strawberry.enum(description="What money beyond what is due does (mexico.md §2.5).")
class PrepaymentMode(Enum):
    ADVANCE = "ADVANCE"  # pago adelantado: held, applied to the next installments
    REDUCE_TERM = "REDUCE_TERM"  # pago anticipado: same installment, fewer of them
    REDUCE_INSTALLMENT = "REDUCE_INSTALLMENT"  # pago anticipado: same term, lower installment


@strawberry.enum
class NextActionType(Enum):
    NONE = "NONE"
    REDIRECT = "REDIRECT"
    SPEI_TRANSFER = "SPEI_TRANSFER"
    CASH_VOUCHER = "CASH_VOUCHER"


@strawberry.type
class PaymentNextAction:
    type: NextActionType
    redirect_url: str | None = None
    clabe: str | None = None
    bank: str | None = None
    reference: str | None = None
    expires_at: datetime | None = None
    voucher_url: str | None = None
    barcode_url: str | None = None


def _value(value: object) -> str:
    return value.value if isinstance(value, Enum) else str(value)


@strawberry.type(description="A part of a payment applied to one installment's component.")
class AppliedAmount:
    installment_number: int
    component: str = strawberry.field(
        description="PRINCIPAL, INTEREST, INTEREST_VAT, LATE_INTEREST(_VAT) (moratorium or "
        "recargo), FEE(_VAT) (fees; a colegiatura itself)."
    )
    amount: Money


@strawberry.type(description="Bank facts of a reconciled payment (from the statement).")
class BankFacts:
    clave_rastreo: str | None
    settlement_date: date | None
    reference: str | None


@strawberry.type
class Payment(Node):
    status: PaymentStatus
    amount: Money
    method: PaymentMethodType
    provider: Provider
    provider_reference: str | None
    next_action: PaymentNextAction | None
    created_at: datetime
    paid_at: datetime | None
    prepayment_mode: PrepaymentMode | None = strawberry.field(
        default=None,
        description="What money beyond what is due does with this payment: the payer's "
        "choice, or the product's default when they were not asked.",
    )
    failure_code: str | None = strawberry.field(
        default=None, description="Why it failed, as a code (normalised or the provider's)."
    )
    refunded_amount: Money = strawberry.field(
        default_factory=lambda: money(Decimal("0")), description="Refunded so far."
    )
    receipt_url: str | None = strawberry.field(
        default=None,
        description="Root-relative URL of the PDF receipt, only for a payment that received "
        "money; fetch it with the same Authorization: Bearer as /graphql.",
    )
    _model: strawberry.Private[PaymentModel | None] = None

    @strawberry.field(description="Why it failed, in Spanish, for the payer.")
    def failure_message(self) -> str | None:
        return failure_message(self.failure_code)

    @strawberry.field(description="The loan this payment is for.")
    def loan(
        self, info: strawberry.Info
    ) -> Annotated[Loan, strawberry.lazy("puente.graphql.types")]:
        assert self._model is not None
        loan_type: Any = graphql_type(info, "Loan")
        joined = getattr(self._model, "_loan", None)  # by the page (connections)
        if joined is not None:
            return loan_type.from_row(joined)

        async def read() -> Loan:
            return loan_type.from_row(await info.context.loan_rows.load(self._model.loan_id))

        return read()  # type: ignore[return-value]

    @strawberry.field(
        description="How the ledger applied it (prelación: moratorium and fees, then "
        "interest and IVA, then principal), per installment; empty until it is applied."
    )
    async def applied_to(self, info: strawberry.Info) -> list[AppliedAmount]:
        assert self._model is not None
        parts = await info.context.loaders.applied.load(self._model.id)
        return [
            AppliedAmount(
                installment_number=part.installment,
                component=part.component,
                amount=money(from_centavos(part.centavos)),
            )
            for part in parts
        ]

    @strawberry.field(description="What the bank statement says, once reconciled.")
    async def bank_facts(self, info: strawberry.Info) -> BankFacts | None:
        assert self._model is not None
        facts = await info.context.loaders.bank_facts.load(self._model)
        if facts is None:
            return None
        return BankFacts(
            clave_rastreo=facts.clave_rastreo or None,
            settlement_date=facts.settled_on,
            reference=facts.bank_reference or None,
        )

    @strawberry.field(description="The stamped CFDI 4.0 of the interest, fees and IVA it paid.")
    async def invoice(self, info: Info) -> Invoice | None:
        return await resolve_invoice(info, self.id)

    @strawberry.field(
        description="Every CFDI stamped for it, in the order issued (cancelled ones too): "
        "its ingreso, its Complemento de Pagos (and any that replaced it after a refund), "
        "its notas de crédito."
    )
    async def fiscal_documents(self, info: Info) -> list[Invoice]:
        return await resolve_fiscal_documents(info, self.id)

    @strawberry.field(description="Banxico's CEP, for a SPEI received.")
    async def cep(self) -> Cep | None:
        return await resolve_cep(self.id)

    @classmethod
    def from_model(cls, payment: PaymentModel) -> Payment:
        action = None
        if payment.next_action:
            data = dict(payment.next_action)
            expires = data.get("expires_at")
            action = PaymentNextAction(
                type=NextActionType(data.get("type", "NONE")),
                redirect_url=data.get("redirect_url"),
                clabe=data.get("clabe"),
                bank=data.get("bank"),
                reference=data.get("reference"),
                expires_at=datetime.fromisoformat(expires) if expires else None,
                voucher_url=data.get("voucher_url"),
                barcode_url=data.get("barcode_url"),
            )
        return cls(
            id=encode_global_id("Payment", payment.id),
            status=PaymentStatus(_value(payment.status)),
            amount=money(from_centavos(payment.amount_centavos)),
            method=PaymentMethodType(_value(payment.method)),
            provider=Provider(_value(payment.provider)),
            provider_reference=payment.provider_reference,
            next_action=action,
            created_at=payment.created_at,
            paid_at=payment.paid_at,
            prepayment_mode=_prepayment_mode(payment.prepayment_mode),
            failure_code=payment.failure_code,
            refunded_amount=money(from_centavos(payment.refunded_centavos or 0)),
            _model=payment,
            receipt_url=receipt_path(payment),
        )


def _prepayment_mode(value: str | None) -> PrepaymentMode | None:
    return PrepaymentMode(value) if value in PrepaymentMode._value2member_map_ else None


@strawberry.type
class PaymentEdge:
    cursor: str
    node: Payment


@strawberry.type
class PaymentConnection:
    edges: list[PaymentEdge]
    page_info: PageInfo
    _count: strawberry.Private[Count] = no_rows

    @strawberry.field(description="All payments the connection spans (counted only when asked).")
    async def total_count(self) -> int:
        return await self._count()


@strawberry.type(description="A saved way to pay; never a full card number or CLABE.")
class PaymentMethod(Node):
    method: PaymentMethodType
    provider: Provider
    label: str
    card_brand: str | None
    card_last4: str | None
    clabe_last4: str | None
    card_exp_month: int | None = None
    card_exp_year: int | None = None
    is_default: bool = False

    @classmethod
    def from_model(cls, method: PaymentMethodModel) -> PaymentMethod:
        return cls(
            id=encode_global_id("PaymentMethod", method.id),
            method=PaymentMethodType(_value(method.method)),
            provider=Provider(_value(method.provider)),
            label=method.label,
            card_brand=method.card_brand,
            card_last4=method.card_last4,
            clabe_last4=method.clabe_last4,
            card_exp_month=method.card_exp_month,
            card_exp_year=method.card_exp_year,
            is_default=method.is_default,
        )
