"""A loan's domiciliación as the API shows it: the mandate in force and every charge attempt.

Read by ``Loan.domiciliacion``; kept apart from the collections mutations so that the loan
type can point here without an import cycle (this module needs only ``graphql.values``).
"""

from __future__ import annotations

from datetime import date

import strawberry

from puente.collections.mandates import active_mandate
from puente.collections.models import ChargeAttempt as AttemptModel
from puente.collections.models import Mandate as MandateModel
from puente.collections.models import MandateStatus
from puente.graphql.values import Money, encode_global_id, money
from puente.money import from_centavos

__all__ = ["ChargeAttempt", "Domiciliacion", "domiciliacion_of"]


@strawberry.type(description="One try at charging a domiciliación (visible to staff and payer).")
class ChargeAttempt:
    installment_number: int
    attempt: int
    scheduled_for: date
    status: str
    amount: Money | None
    decline_code: str | None
    next_step: str | None = strawberry.field(description="Spanish: what happens next.")


@strawberry.type(description="A loan's domiciliación: the mandate in force and its attempts.")
class Domiciliacion:
    enabled: bool
    status: str
    payment_method_id: strawberry.ID | None
    valid_until: date | None
    text_version: str | None
    attempts: list[ChargeAttempt]


async def domiciliacion_of(loan_id: int) -> Domiciliacion:
    """The loan's domiciliación as the API shows it (the mandate, every attempt)."""
    mandate = await active_mandate(loan_id)
    if mandate is None:
        mandate = await MandateModel.filter(loan_id=loan_id).order_by("-id").first()
    attempts = await AttemptModel.filter(loan_id=loan_id).order_by("-id").limit(100)
    return Domiciliacion(
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
                amount=money(from_centavos(a.amount_centavos))
                if a.amount_centavos is not None
                else None,
                decline_code=a.decline_code,
                next_step=a.detail,
            )
            for a in attempts
        ],
    )
