"""Mercado Pago: ``DELETE /v1/customers/{id}/cards/{card_id}`` (developers reference,
"Eliminar tarjeta"): answers the deleted card and removes it from the customer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from puente_sandbox.mercadopago import MercadoPagoSimulator

__all__ = ["mercadopago_vault_routes"]


def mercadopago_vault_routes(sim: MercadoPagoSimulator) -> list[BaseRoute]:
    """The saved-card paths the Mercado Pago simulator adds to its own."""

    def delete(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        state = sim.state
        customer_id = str(request.path_params["id"])
        card = state.card_of(customer_id, str(request.path_params["card_id"]))  # 404 otherwise
        state.store.remove("cards", card["id"])
        state.cards_seen.pop(card["id"], None)
        customer = state.get("customers", customer_id, "Customer", 2002)
        customer["cards"] = [c for c in customer["cards"] if c["id"] != card["id"]]
        if customer.get("default_card") == card["id"]:
            customer["default_card"] = customer["cards"][0]["id"] if customer["cards"] else None
        return card

    return [Route("/v1/customers/{id}/cards/{card_id}", sim._api(delete), methods=["DELETE"])]
