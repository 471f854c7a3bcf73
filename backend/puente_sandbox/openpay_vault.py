"""Openpay: ``DELETE /v1/{merchant}/customers/{customer}/cards/{card}``
(documents.openpay.mx, "Eliminar una tarjeta de un cliente"): 204 without a body."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from puente_sandbox.openpay import OpenpaySimulator

__all__ = ["openpay_vault_routes"]


def openpay_vault_routes(sim: OpenpaySimulator) -> list[BaseRoute]:
    """The saved-card paths the Openpay simulator adds to its own."""

    def delete(request: Request, params: dict[str, Any]) -> None:
        state = sim.state
        customer_id = str(request.path_params["customer"])
        card_id = str(request.path_params["card"])
        state.get("cards", card_id, "card", customer_id)  # 1005 when not this customer's
        state.store.remove("cards", card_id)
        state.card_numbers.pop(card_id, None)
        return None

    return [
        Route(
            "/v1/{merchant}/customers/{customer}/cards/{card}",
            sim._api(delete),
            methods=["DELETE"],
        )
    ]
