"""GraphQL types of payments and saved payment methods (names fixed by the contract)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from puente.graphql.fiscal import Cep, Invoice, resolve_cep, resolve_invoice
from puente.graphql.types import Money, Node, PageInfo, encode_global_id, money
from puente.money import from_centavos
from puente.payments.models import Payment as PaymentModel
from puente.payments.models import PaymentMethod as PaymentMethodModel
from puente.providers.catalogue import BUILTIN_SPECS

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


# Derived from the built-in specs that name a GraphQL value (the contract fixes STRIPE …
# STP; a new built-in adds its value, and schema.graphql must be regenerated). Plug-in
# providers are not in the published schema: clients are written against it.
Provider = strawberry.enum(
    Enum(  # type: ignore[misc]
        "Provider",
        [(spec.graphql_name, spec.name) for spec in BUILTIN_SPECS if spec.graphql_name],
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

    @strawberry.field(description="The stamped CFDI 4.0 of the interest, fees and IVA it paid.")
    async def invoice(self, info: Info) -> Invoice | None:
        return await resolve_invoice(info, self.id)

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
    total_count: int


@strawberry.type(description="A saved way to pay; never a full card number or CLABE.")
class PaymentMethod(Node):
    method: PaymentMethodType
    provider: Provider
    label: str
    card_brand: str | None
    card_last4: str | None
    clabe_last4: str | None

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
        )
