"""Conekta's saved cards: a customer's payment source; deleting it removes the card.

https://developers.conekta.com/reference/eliminarpaymentsource
"""

from puente.providers.vault import VaultRoutes

__all__ = ["CONEKTA_VAULT"]

CONEKTA_VAULT = VaultRoutes("DELETE", "/customers/{customer}/payment_sources/{card}")
