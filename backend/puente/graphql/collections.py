"""GraphQL doors onto collections: saved cards and the domiciliación of a loan."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from puente.accounts.access import client_address
from puente.collections import cards
from puente.collections.errors import CollectionRefused
from puente.collections.mandates import revoke_mandate, sign_mandate
from puente.graphql.context import GraphQLContext
from puente.graphql.payment_types import PaymentMethod, Provider
from puente.graphql.payments import PaymentError
from puente.graphql.permissions import IsAuthenticated, allow
from puente.graphql.types import Loan, decode_global_id
from puente.loans.models import Loan as LoanModel
from puente.loans.state import load_loan_views

__all__ = ["CollectionMutations"]

PuenteInfo = Info[GraphQLContext, None]


@strawberry.input
class SavePaymentMethodInput:
    provider: Provider
    card_token: str
    make_default: bool | None = True


@strawberry.input
class DomiciliacionInput:
    loan_id: strawberry.ID
    payment_method_id: strawberry.ID
    enabled: bool


@strawberry.type
class PaymentMethodSaved:
    payment_method: PaymentMethod


@strawberry.type
class PaymentMethodDeleted:
    id: strawberry.ID


@strawberry.type
class DomiciliacionSet:
    loan: Loan
    enabled: bool


SavePaymentMethodResult = Annotated[
    PaymentMethodSaved | PaymentError, strawberry.union("SavePaymentMethodResult")
]
DeletePaymentMethodResult = Annotated[
    PaymentMethodDeleted | PaymentError, strawberry.union("DeletePaymentMethodResult")
]
DomiciliacionResult = Annotated[
    DomiciliacionSet | PaymentError, strawberry.union("DomiciliacionResult")
]


def _pk(value: str, type_name: str) -> int:
    decoded = decode_global_id(value)
    return decoded[1] if decoded is not None and decoded[0] == type_name else -1


def _refused(exc: CollectionRefused) -> PaymentError:
    return PaymentError(code=exc.code, message=exc.message)


def _log_in() -> PaymentError:
    return PaymentError(code="UNAUTHENTICATED", message="Inicia sesión.")


@strawberry.type
class CollectionMutations:
    @strawberry.mutation(
        description="Save a card (a single-use token from the provider's script) for later.",
        extensions=allow(IsAuthenticated(answer=_log_in)),
    )
    async def save_payment_method(
        self, info: PuenteInfo, input: SavePaymentMethodInput
    ) -> SavePaymentMethodResult:
        user = await info.context.acting_user()
        try:
            method = await cards.save_card(
                info.context.gateways,
                user,
                input.provider.value,
                input.card_token,
                make_default=input.make_default is not False,
            )
        except CollectionRefused as exc:
            return _refused(exc)
        return PaymentMethodSaved(payment_method=PaymentMethod.from_model(method))

    @strawberry.mutation(
        description="Delete a saved card here and at the provider; its domiciliación stops.",
        extensions=allow(IsAuthenticated(answer=_log_in)),
    )
    async def delete_payment_method(
        self, info: PuenteInfo, id: strawberry.ID
    ) -> DeletePaymentMethodResult:
        user = await info.context.acting_user()
        try:
            await cards.delete_card(info.context.gateways, user, _pk(id, "PaymentMethod"))
        except CollectionRefused as exc:
            return _refused(exc)
        return PaymentMethodDeleted(id=id)

    @strawberry.mutation(
        description="Make a saved card the one offered first (and charged by new mandates).",
        extensions=allow(IsAuthenticated(answer=_log_in)),
    )
    async def set_default_payment_method(
        self, info: PuenteInfo, id: strawberry.ID
    ) -> SavePaymentMethodResult:
        user = await info.context.acting_user()
        try:
            method = await cards.make_default(user, _pk(id, "PaymentMethod"))
        except CollectionRefused as exc:
            return _refused(exc)
        return PaymentMethodSaved(payment_method=PaymentMethod.from_model(method))

    @strawberry.mutation(
        description="Sign (enabled) or revoke the domiciliación of a loan on a saved card.",
        extensions=allow(IsAuthenticated(answer=_log_in)),
    )
    async def set_domiciliacion(
        self, info: PuenteInfo, input: DomiciliacionInput
    ) -> DomiciliacionResult:
        ctx = info.context
        user = await ctx.acting_user()
        loan_id = _pk(input.loan_id, "Loan")
        origin = f"graphql {client_address(ctx.request) or '-'}"
        try:
            if input.enabled:
                await sign_mandate(
                    ctx.runtime,
                    user,
                    loan_id,
                    _pk(input.payment_method_id, "PaymentMethod"),
                    origin=origin,
                )
            else:
                await revoke_mandate(ctx.runtime, user, loan_id, origin=origin)
        except CollectionRefused as exc:
            return _refused(exc)
        loan = await LoanModel.get(id=loan_id)
        view = (await load_loan_views([loan], ctx.runtime.today()))[0]
        return DomiciliacionSet(loan=Loan.from_view(view), enabled=input.enabled)
