"""GraphQL doors onto payments: createPayment and the live subscriptions."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from decimal import Decimal
from enum import Enum
from functools import partial
from typing import Annotated, TypeVar

import strawberry
from strawberry.types import Info

from puente.accounts.access import Session
from puente.accounts.models import User as UserModel
from puente.accounts.streams import SessionEnded, session_check, while_session_lasts
from puente.enums import PaymentMethodType as MethodEnum
from puente.events.fanout import reload_once, reload_soon
from puente.graphql.context import GraphQLContext
from puente.graphql.errors import UserFacingError
from puente.graphql.payment_types import Payment, PaymentMethodType, PrepaymentMode, Provider
from puente.graphql.permissions import IsAuthenticated, allow, refused_stream
from puente.graphql.types import Loan, Money, decode_global_id, encode_global_id, money
from puente.loans.access import can_see_loan
from puente.loans.engine import OverpaymentMode
from puente.loans.models import Loan as LoanModel
from puente.loans.state import load_loan_views
from puente.money import from_centavos
from puente.payments.change_notices import loan_channel, payment_channel
from puente.payments.checkout import PaymentRefused, PaymentRequest, create_payment
from puente.payments.disbursements import approve_and_disburse, disburse_loan
from puente.payments.models import Payment as PaymentModel
from puente.payments.refund_service import refund_payment
from puente.runtime import Runtime

__all__ = [
    "CreatePaymentInput",
    "CreatePaymentResult",
    "PaymentMutations",
    "StaffMutations",
    "Subscription",
    "subscriber",
    "while_subscribed",
]

PuenteInfo = Info[GraphQLContext, None]
T = TypeVar("T")


@strawberry.input
class CreatePaymentInput:
    loan_id: strawberry.ID
    amount: Decimal
    method: PaymentMethodType
    provider: Provider
    card_token: str | None = None
    payment_method_id: strawberry.ID | None = None
    idempotency_key: str
    prepayment_mode: PrepaymentMode | None = strawberry.field(
        default=None,
        description="What money beyond what is due does; omitted: the product's default.",
    )
    device_session_id: str | None = strawberry.field(
        default=None,
        description="The card gateway's antifraud device id from the payer's device "
        "(Openpay: openpay-data.js / the mobile SDK's getDeviceID); other gateways ignore it.",
    )
    return_url: str | None = strawberry.field(
        default=None,
        description="Where PayPal approval or 3-D Secure sends the payer back: one of the "
        "institution's allowed app deep links (e.g. puente-demo://pagos) or origins; any "
        "other is refused with RETURN_URL_NOT_ALLOWED.",
    )


@strawberry.type
class PaymentCreated:
    payment: Payment


@strawberry.type
class PaymentError:
    code: str
    message: str


CreatePaymentResult = Annotated[
    PaymentCreated | PaymentError, strawberry.union("CreatePaymentResult")
]


def _pk(value: str | None, type_name: str) -> int | None:
    if value is None:
        return None
    decoded = decode_global_id(value)
    if decoded is None or decoded[0] != type_name:
        return -1
    return decoded[1]


async def while_subscribed(
    info: PuenteInfo,
    session: Session,
    changes: AsyncIterator[T],
    prepare: Callable[[T], object] | None = None,
) -> AsyncIterator[T]:
    """``changes`` until the subscriber's token expires or its session is revoked.

    ``prepare(change)`` runs as a change is read, while the session is checked (see
    ``while_session_lasts``): the shared reload starts then (``reload_soon``).
    """
    ctx = info.context
    every = ctx.runtime.settings.session_recheck_seconds
    still_valid = session_check(ctx.auth, session)  # batched with the other streams
    try:
        async for item in while_session_lasts(changes, still_valid, every, prepare):
            yield item
    except SessionEnded:
        raise UserFacingError(
            "SESSION_ENDED", "La sesión expiró o se cerró. Vuelve a conectarte con un token nuevo."
        ) from None


async def subscriber(info: PuenteInfo) -> tuple[UserModel, Session]:
    """Who subscribes, and the session the stream lives and dies with (taken at the start)."""
    user = await info.context.acting_user()
    return user, await info.context.acting_session()


@strawberry.type
class PaymentMutations:
    @strawberry.mutation(
        description="Start a payment; the same idempotencyKey returns it again.",
        extensions=allow(
            IsAuthenticated(
                answer=lambda: PaymentError(
                    code="UNAUTHENTICATED", message="Inicia sesión para pagar."
                )
            )
        ),
    )
    async def create_payment(
        self, info: PuenteInfo, input: CreatePaymentInput
    ) -> CreatePaymentResult:
        user = await info.context.acting_user()
        loan_id = _pk(input.loan_id, "Loan")
        if loan_id is None or loan_id < 0:
            return PaymentError(code="LOAN_NOT_FOUND", message="El crédito no existe.")
        saved_id = _pk(input.payment_method_id, "PaymentMethod")
        if saved_id is not None and saved_id < 0:
            return PaymentError(code="PAYMENT_METHOD_NOT_FOUND", message="Método no encontrado.")
        request = PaymentRequest(
            loan_id=loan_id,
            amount=input.amount,
            method=MethodEnum(input.method.value),
            provider=input.provider.value,
            idempotency_key=input.idempotency_key,
            card_token=input.card_token,
            device_session_id=input.device_session_id,
            payment_method_id=saved_id,
            prepayment_mode=(
                OverpaymentMode(input.prepayment_mode.value) if input.prepayment_mode else None
            ),
            return_url=input.return_url,
        )
        ctx = info.context
        try:
            payment = await create_payment(ctx.runtime, ctx.gateways, user, request)
        except PaymentRefused as refused:
            return PaymentError(code=refused.code, message=refused.message)
        return PaymentCreated(payment=Payment.from_model(payment))


def _log_in_first() -> PaymentError:
    return PaymentError(code="UNAUTHENTICATED", message="Inicia sesión.")


@strawberry.enum(description="Where a payout stands.")
class DisbursementStatus(Enum):
    PENDING = "pending"  # recorded, not yet accepted by the bank
    SENT = "sent"  # accepted; waiting for settlement
    SETTLED = "settled"  # the borrower has the money
    RETURNED = "returned"  # devuelta or rejected
    FAILED = "failed"  # refused when sent


@strawberry.type
class Disbursement:
    id: strawberry.ID
    status: str = strawberry.field(deprecation_reason="Usa state (un enum).")
    state: DisbursementStatus
    amount: Money
    clabe_last4: str
    clave_rastreo: str


@strawberry.type
class DisbursementCreated:
    disbursement: Disbursement


DisburseLoanResult = Annotated[
    DisbursementCreated | PaymentError, strawberry.union("DisburseLoanResult")
]


@strawberry.type
class StaffMutations:
    @strawberry.mutation(
        description="Staff: refund all (no amount) or part of a paid payment.",
        extensions=allow(IsAuthenticated(answer=_log_in_first)),
    )
    async def refund_payment(
        self, info: PuenteInfo, payment_id: strawberry.ID, amount: Decimal | None = None
    ) -> CreatePaymentResult:
        user = await info.context.acting_user()
        pk = _pk(payment_id, "Payment")
        ctx = info.context
        try:
            await refund_payment(ctx.runtime, ctx.gateways, user, pk or 0, amount)
        except PaymentRefused as refused:
            return PaymentError(code=refused.code, message=refused.message)
        return PaymentCreated(payment=Payment.from_model(await PaymentModel.get(id=pk)))

    @strawberry.mutation(
        description="Staff: pay an approved loan out by SPEI (STP or bank).",
        extensions=allow(IsAuthenticated(answer=_log_in_first)),
    )
    async def disburse_loan(
        self,
        info: PuenteInfo,
        loan_id: strawberry.ID,
        clabe: str,
        beneficiary_name: str,
        provider: Provider = Provider.STP,
    ) -> DisburseLoanResult:
        return await _disburse(info, loan_id, clabe, beneficiary_name, provider, approve=False)

    @strawberry.mutation(
        description="Staff: approve an application and send its money by SPEI in one step.",
        extensions=allow(IsAuthenticated(answer=_log_in_first)),
    )
    async def approve_loan(
        self,
        info: PuenteInfo,
        loan_id: strawberry.ID,
        clabe: str,
        beneficiary_name: str,
        provider: Provider = Provider.STP,
    ) -> DisburseLoanResult:
        return await _disburse(info, loan_id, clabe, beneficiary_name, provider, approve=True)


async def _disburse(
    info: PuenteInfo,
    loan_id: str,
    clabe: str,
    beneficiary_name: str,
    provider: Provider,
    *,
    approve: bool,
) -> DisbursementCreated | PaymentError:
    user = await info.context.acting_user()
    pk = _pk(loan_id, "Loan")
    ctx = info.context
    action = approve_and_disburse if approve else disburse_loan
    try:
        made = await action(
            ctx.runtime,
            ctx.gateways,
            user,
            pk or 0,
            clabe=clabe,
            beneficiary_name=beneficiary_name,
            provider=provider.value,
        )
    except PaymentRefused as refused:
        return PaymentError(code=refused.code, message=refused.message)
    return DisbursementCreated(
        disbursement=Disbursement(
            id=encode_global_id("Disbursement", made.id),
            status=str(made.status.value),
            state=DisbursementStatus(str(made.status.value)),
            amount=money(from_centavos(made.amount_centavos)),
            clabe_last4=made.clabe_last4,
            clave_rastreo=made.clave_rastreo,
        )
    )


async def _reload_payment(payment_id: int) -> Payment:
    return Payment.from_model(await PaymentModel.get(id=payment_id))


async def _reload_loan(runtime: Runtime, loan_id: int) -> Loan:
    (view,) = await load_loan_views([await LoanModel.get(id=loan_id)], runtime.today())
    return Loan.from_view(view)


@strawberry.type
class Subscription:
    """Live state. A notice is shared by every subscriber of it in the process, so the
    state it announces is reloaded once for all of them (``reload_once``); strawberry then
    shapes that one object for each subscriber's own selection."""

    @strawberry.subscription(
        description="The payment's current state, then every change.",
        extensions=allow(IsAuthenticated(answer=refused_stream)),
    )
    async def payment_status(
        self, info: PuenteInfo, payment_id: strawberry.ID
    ) -> AsyncGenerator[Payment, None]:
        user, session = await subscriber(info)
        pk = _pk(payment_id, "Payment")
        payment = await PaymentModel.filter(id=pk or 0).prefetch_related("loan").first()
        if payment is None or not can_see_loan(user, payment.loan):
            raise UserFacingError("NOT_FOUND", "Ese pago no existe o no es tuyo.")
        bus = info.context.runtime.bus
        reload = partial(_reload_payment, payment.id)
        # Subscribe before reading, so a change between the read and the subscription is seen.
        key = ("payment", payment.id)
        early = partial(reload_soon, key=key, load=reload)
        async with bus.subscribe(payment_channel(payment.id)) as changes:
            yield Payment.from_model(payment)
            async for notice in while_subscribed(info, session, changes, early):
                yield await reload_once(notice, key, reload)

    @strawberry.subscription(
        description="The loan (balance, installments) now, then on change.",
        extensions=allow(IsAuthenticated(answer=refused_stream)),
    )
    async def loan_updated(
        self, info: PuenteInfo, loan_id: strawberry.ID
    ) -> AsyncGenerator[Loan, None]:
        user, session = await subscriber(info)
        pk = _pk(loan_id, "Loan")
        loan = await LoanModel.filter(id=pk or 0).first()
        if loan is None or not can_see_loan(user, loan):
            raise UserFacingError("NOT_FOUND", "Ese crédito no existe o no es tuyo.")
        runtime = info.context.runtime
        reload = partial(_reload_loan, runtime, loan.id)
        key = ("loan", loan.id)
        early = partial(reload_soon, key=key, load=reload)
        async with runtime.bus.subscribe(loan_channel(loan.id)) as changes:
            (view,) = await load_loan_views([loan], runtime.today())
            yield Loan.from_view(view)
            async for notice in while_subscribed(info, session, changes, early):
                yield await reload_once(notice, key, reload)
