"""Conekta: ``DELETE /customers/{id}/payment_sources/{source_id}``
(developers.conekta.com/reference/eliminarpaymentsource): answers the deleted source with
``"deleted": true`` and removes it from the customer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from puente_sandbox.conekta_objects import ConektaError

if TYPE_CHECKING:
    from puente_sandbox.conekta import ConektaSimulator

__all__ = ["conekta_vault_routes"]


def conekta_vault_routes(sim: ConektaSimulator) -> list[BaseRoute]:
    """The saved-card paths the Conekta simulator adds to its own."""

    def delete(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        state = sim.state
        customer = state.get("customers", str(request.path_params["id"]), "Customer")
        source_id = str(request.path_params["source_id"])
        source = state.store.get("payment_sources", source_id)
        if source is None or source.get("parent_id") != customer["id"]:
            raise ConektaError.not_found("PaymentSource", source_id)
        state.store.remove("payment_sources", source_id)
        state.card_of.pop(source_id, None)
        sources = customer["payment_sources"]
        sources["data"] = [s for s in sources["data"] if s["id"] != source_id]
        sources["total"] = len(sources["data"])
        if customer.get("default_payment_source_id") == source_id:
            customer["default_payment_source_id"] = (
                sources["data"][0]["id"] if sources["data"] else None
            )
        return {**source, "deleted": True}

    return [
        Route("/customers/{id}/payment_sources/{source_id}", sim._api(delete), methods=["DELETE"])
    ]
