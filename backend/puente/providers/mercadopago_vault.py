"""Mercado Pago's saved cards: a customer's card.

https://www.mercadopago.com.mx/developers/es/reference/cards/_customers_customer_id_cards_id/delete
"""

from puente.providers.vault import VaultRoutes

__all__ = ["MERCADOPAGO_VAULT"]

MERCADOPAGO_VAULT = VaultRoutes("DELETE", "/v1/customers/{customer}/cards/{card}")
