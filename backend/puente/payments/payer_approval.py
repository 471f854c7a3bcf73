"""Payments the payer finishes on the provider's own page.

* Hosted card form: the payer types the card on the provider's page, which sends back a
  single-use token that ``create_payment`` then charges. ``precheck_payment`` runs the same
  checks first, so nobody types a card for an amount we would refuse.
* PayPal: ``create_payment`` (``start_paypal_payment`` here) records the payment and creates a
  PayPal order whose approval link is the ``REDIRECT`` next action; PayPal sends the payer
  back with ``?token=<order id>`` and ``capture_paypal_payment`` captures it.

Validation and the idempotency rules are checkout's (``payments/checkout.py``), reused here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from puente.accounts.models import User
from puente.enums import PaymentMethodType
from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.loans.access import can_see_loan
from puente.money import from_centavos
from puente.payments.checkout import (
    PaymentRefused,
    PaymentRequest,
    create_payment,
    provider_connector,
    validate_payment_request,
)
from puente.payments.gateways import GatewayDirectory
from puente.payments.models import Payment
from puente.payments.outcomes import advance_and_notify, apply_provider_payment, fail_payment
from puente.providers.errors import InvalidRequest, PaymentDeclined, ProviderError
from puente.providers.values import ChargeRequest
from puente.runtime import Runtime

__all__ = [
    "cancel_paypal_payment",
    "capture_approved_order",
    "capture_paypal_payment",
    "precheck_payment",
    "start_paypal_payment",
]

logger = logging.getLogger("puente.payments")
HOSTED_CARD = "hosted-card-form"  # stands in for the token the payer has not typed yet


async def precheck_payment(runtime: Runtime, user: User, request: PaymentRequest) -> Decimal:
    """The amount, if ``create_payment`` would accept ``request`` once it has a card token."""
    if request.method is PaymentMethodType.CARD and not request.card_token:
        request = replace(request, card_token=HOSTED_CARD)
    _, amount = await validate_payment_request(user, request, runtime)
    return amount


async def start_paypal_payment(
    runtime: Runtime,
    gateways: GatewayDirectory,
    user: User,
    request: PaymentRequest,
    return_url: Callable[[int], str],
) -> Payment:
    """Record a PayPal payment and create the order the payer approves (``return_url(id)``)."""
    return await create_payment(
        runtime,
        gateways,
        user,
        replace(request, method=PaymentMethodType.PAYPAL),
        return_url=return_url,
    )


async def capture_paypal_payment(
    runtime: Runtime, gateways: GatewayDirectory, user: User, payment_id: int, order_id: str
) -> Payment:
    """Capture the order the payer approved; a repeat (reload, double click) changes nothing."""
    payment = await Payment.filter(id=payment_id).prefetch_related("loan").first()
    if payment is None or not can_see_loan(user, payment.loan):
        raise PaymentRefused("PAYMENT_NOT_FOUND", "Ese pago no existe.")
    return await capture_approved_order(runtime, gateways, payment, order_id)


async def capture_approved_order(
    runtime: Runtime, gateways: GatewayDirectory, payment: Payment, order_id: str
) -> Payment:
    """Capture an approved PayPal order: from the payer's return, or from PayPal's
    CHECKOUT.ORDER.APPROVED webhook when the payer never comes back (closed tab, app)."""
    if payment.method != PaymentMethodType.PAYPAL or payment.provider_reference != order_id:
        raise PaymentRefused("PAYMENT_MISMATCH", "La orden de PayPal no corresponde a este pago.")
    if S(payment.status) not in (S.REQUIRES_ACTION, S.PENDING):
        return payment
    institution = await Institution.get(id=payment.institution_id)
    connector = await provider_connector(gateways, institution, str(payment.provider))
    amount = from_centavos(payment.amount_centavos)
    now = runtime.now()
    try:
        result = await connector.charge(
            ChargeRequest(
                amount=amount,
                idempotency_key=f"puente-payment-{payment.id}-capture",
                token=order_id,
                description=f"Pago préstamo {payment.loan_id}",
                metadata={"puente_payment": str(payment.id)},
            )
        )
    except (PaymentDeclined, InvalidRequest) as exc:
        await fail_payment(runtime, payment.id, exc, at=now)
        return await Payment.get(id=payment.id)
    except ProviderError as exc:
        # Outcome unknown: the poller asks PayPal about the order later.
        logger.warning("payment %s: PayPal capture unanswered (%s)", payment.id, exc.code)
        return payment
    await apply_provider_payment(runtime, payment.id, result, source="provider-response", at=now)
    return await Payment.get(id=payment.id)


async def cancel_paypal_payment(user: User, runtime: Runtime, payment_id: int) -> Payment | None:
    """The payer came back from PayPal without approving: the attempt is canceled."""
    payment = await Payment.filter(id=payment_id).prefetch_related("loan").first()
    if payment is None or not can_see_loan(user, payment.loan):
        return None
    if S(payment.status) in (S.CREATED, S.REQUIRES_ACTION):
        await advance_and_notify(runtime, payment.id, S.CANCELED, source="payer", at=runtime.now())
    return await Payment.get(id=payment.id)
