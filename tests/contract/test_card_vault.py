"""Saved cards through ``CardVault`` against every card provider's simulator.

Removing a card goes through each provider's own path (Stripe detach, Conekta payment
source DELETE, Openpay and Mercado Pago card DELETE): afterwards it cannot be charged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from puente.providers.base import ChargeRequest, CustomerInfo, InvalidRequest
from puente.providers.vault import CardVault, card_vault

if TYPE_CHECKING:
    from tests.contract.conftest import Harness

pytestmark = pytest.mark.anyio


async def test_saved_card_is_kept_charged_and_forgotten(harness: Harness) -> None:
    async with harness.connector() as connector:
        vault = card_vault(connector)
        if vault is None:
            assert harness.case.name == "paypal"  # the one gateway that keeps no cards here
            return
        assert isinstance(vault, CardVault)
        customer = await vault.open_customer(
            CustomerInfo(name="Eva", email="eva@example.mx"), idempotency_key="cus-v1"
        )
        card = await vault.keep_card(
            customer.provider_id, harness.case.success_token, idempotency_key="pm-v1"
        )
        assert card.last4 and len(card.last4) == 4 and card.brand
        assert card.exp_month and card.exp_year
        await vault.forget_card(customer.provider_id, card.provider_id)
        with pytest.raises(InvalidRequest):
            await connector.charge(
                ChargeRequest(
                    amount=Decimal("99.00"),
                    payment_method_id=card.provider_id,
                    customer_id=customer.provider_id,
                    idempotency_key="pay-forgotten",
                )
            )
        await vault.forget_card(customer.provider_id, card.provider_id)  # again: still done
