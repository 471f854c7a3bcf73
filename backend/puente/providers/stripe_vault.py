"""Stripe's saved cards: a PaymentMethod attached to a Customer; detaching removes it.

https://docs.stripe.com/api/payment_methods/detach
"""

from puente.providers.vault import VaultRoutes

__all__ = ["STRIPE_VAULT"]

STRIPE_VAULT = VaultRoutes("POST", "/v1/payment_methods/{card}/detach")
