"""Openpay's saved cards: a customer's card under the merchant's path.

https://documents.openpay.mx/docs/api/#eliminar-una-tarjeta-de-un-cliente
"""

from puente.providers.vault import VaultRoutes

__all__ = ["OPENPAY_VAULT"]

OPENPAY_VAULT = VaultRoutes(
    "DELETE",
    "/v1/{merchant_id}/customers/{customer}/cards/{card}",
    path_credentials=("merchant_id",),
)
