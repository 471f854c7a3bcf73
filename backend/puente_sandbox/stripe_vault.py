"""Stripe: ``POST /v1/payment_methods/{id}/detach`` (docs.stripe.com/api/payment_methods/detach).

Detaching answers the PaymentMethod with ``customer: null``; a detached method cannot be
attached or charged again, as at Stripe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from puente_sandbox.stripe_objects import StripeError

if TYPE_CHECKING:
    from puente_sandbox.stripe import StripeSimulator

__all__ = ["stripe_vault_routes"]


def stripe_vault_routes(sim: StripeSimulator) -> list[BaseRoute]:
    """The saved-card paths the Stripe simulator adds to its own."""

    def detach(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        pm_id = str(request.path_params["id"])
        pm = sim.state.resolve_payment_method(pm_id, "payment_method")
        if not pm.get("customer"):
            raise StripeError(
                400,
                f"The payment method {pm_id} is not attached to a customer.",
                code="payment_method_unexpected_state",
            )
        pm["customer"] = None
        sim.state.detached.add(pm["id"])
        sim.state.event("payment_method.detached", pm)
        return pm

    return [Route("/v1/payment_methods/{id}/detach", sim._api(detach), methods=["POST"])]
