"""Asking the provider for a payment, as many times as it takes, charging at most once.

One request per payment, always under the provider idempotency key ``puente-payment-<id>``
and always with the same parameters (what is not derived from the payment row is kept in
``Payment.provider_request``). So the request can be sent again whenever its outcome is
unknown (a timeout, a lost answer, a crash between recording and asking):

* ``create_payment`` sends it first;
* a retry of ``create_payment`` with the same idempotency key sends it again;
* the poller sends it again for payments left CREATED without a provider reference.

The provider answers a repeat with the original payment, never a second charge, and the
answer goes through the funnel (``payments/outcomes.py``) like any other.
"""

from __future__ import annotations

import logging
from typing import Any

from puente.enums import PaymentMethodType
from puente.enums import PaymentStatus as S
from puente.money import from_centavos
from puente.payments.models import Payment
from puente.payments.outcomes import apply_provider_payment, fail_payment
from puente.providers.base import PaymentGateway
from puente.providers.errors import InvalidRequest, PaymentDeclined, ProviderError
from puente.providers.values import (
    PUENTE_PAYMENT_KEY,
    ChargeRequest,
    CustomerInfo,
    ProviderPayment,
    ReferenceRequest,
)
from puente.runtime import Runtime

__all__ = [
    "UNKNOWN_OUTCOME",
    "outcome_unknown",
    "provider_key",
    "provider_request_of",
    "submit_payment",
]

logger = logging.getLogger("puente.payments")

UNKNOWN_OUTCOME = "proveedor no disponible; se reintentará"


def provider_key(payment_id: int) -> str:
    """The provider idempotency key of a payment: stable, so a repeat never charges twice."""
    return f"puente-payment-{payment_id}"


def provider_request_of(
    *,
    card_token: str | None,
    saved_token: str | None,
    saved_customer: str | None,
    customer: CustomerInfo,
    return_url: str,
    device_session_id: str | None = None,
) -> dict[str, Any]:
    """What a payment's request carries beyond its row, to be sent again identically."""
    return {
        "card_token": card_token if saved_token is None else None,
        "device_session_id": device_session_id,
        "payment_method": saved_token,
        "customer_id": saved_customer,
        "customer": {
            "name": customer.name,
            "email": customer.email,
            "external_id": customer.external_id,
        },
        "return_url": return_url,
    }


def outcome_unknown(payment: Payment) -> bool:
    """True while we do not know what the provider did with the payment's request.

    Asking again is always safe (same key, same parameters), so a payment still CREATED with
    no provider reference is simply asked about again.
    """
    return S(payment.status) is S.CREATED and not payment.provider_reference


async def submit_payment(runtime: Runtime, connector: PaymentGateway, payment: Payment) -> None:
    """Send (or send again) the payment's request; the answer moves the payment forward."""
    sent = payment.provider_request or {}
    method = PaymentMethodType(payment.method)
    now = runtime.now()
    try:
        result = await _ask(connector, payment, method, sent)
    except PaymentDeclined as exc:
        declined = exc.payment.provider_id if exc.payment else None
        await fail_payment(runtime, payment.id, exc, at=now, provider_reference=declined)
        return
    except InvalidRequest as exc:
        await fail_payment(runtime, payment.id, exc, at=now)
        return
    except ProviderError as exc:
        # Outcome unknown (timeout, outage, lost answer): stay CREATED; a retry with the same
        # idempotency key, the webhook (matched by our id in metadata) or the poller settles it.
        logger.warning("payment %s: provider did not answer (%s)", payment.id, exc.code)
        await Payment.filter(id=payment.id, status=S.CREATED).update(
            failure_code=str(exc.code), failure_message=UNKNOWN_OUTCOME
        )
        return
    await apply_provider_payment(
        runtime, payment.id, result, source="provider-response", at=now, method=method
    )


async def _ask(
    connector: PaymentGateway,
    payment: Payment,
    method: PaymentMethodType,
    sent: dict[str, Any],
) -> ProviderPayment:
    key = provider_key(payment.id)
    amount = from_centavos(payment.amount_centavos)
    metadata = {PUENTE_PAYMENT_KEY: str(payment.id), "puente_loan": str(payment.loan_id)}
    description = f"Pago préstamo {payment.loan_id}"
    if method is PaymentMethodType.PAYPAL:
        back = str(sent.get("return_url") or "")
        return await connector.create_order(
            amount,
            idempotency_key=key,
            description=description,
            metadata=metadata,
            return_url=back,
            cancel_url=f"{back}?cancelado=1",
        )
    if method is PaymentMethodType.CARD:
        return await connector.charge(
            ChargeRequest(
                amount=amount,
                idempotency_key=key,
                token=sent.get("card_token"),
                payment_method_id=sent.get("payment_method"),
                customer_id=sent.get("customer_id"),
                description=description,
                metadata=metadata,
                device_session_id=sent.get("device_session_id"),
                return_url=sent.get("return_url") or None,  # where 3-D Secure returns
            )
        )
    who = sent.get("customer") or {}
    reference = ReferenceRequest(
        amount=amount,
        idempotency_key=key,
        customer=CustomerInfo(
            name=str(who.get("name") or ""),
            email=who.get("email"),
            external_id=who.get("external_id"),
        ),
        description=description,
        metadata=metadata,
    )
    if method is PaymentMethodType.SPEI:
        return await connector.create_spei_reference(reference)
    return await connector.create_cash_reference(reference)
