"""The Stripe simulator's card form and /v1/tokens: test numbers become single-use tokens."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx
import pytest

from puente.providers.base import ChargeRequest, ProviderConfig
from puente.providers.errors import InsufficientFunds, InvalidRequest
from puente.providers.stripe import StripeConnector
from puente_sandbox.stripe import DEFAULT_STRIPE_CREDENTIALS, create_stripe_sandbox

pytestmark = pytest.mark.anyio
AUTH = {"authorization": f"Bearer {DEFAULT_STRIPE_CREDENTIALS['secret_key']}"}


@pytest.fixture
def sandbox():
    app = create_stripe_sandbox({}, None, seed=7)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stripe.test")


def connector(client: httpx.AsyncClient) -> StripeConnector:
    return StripeConnector(
        ProviderConfig(
            credentials=DEFAULT_STRIPE_CREDENTIALS,
            base_url="http://stripe.test",
            transport=client._transport,
        )
    )


async def token(client, number: str, exp_year: str = "2034") -> httpx.Response:
    card = {"card[number]": number, "card[exp_month]": "12", "card[exp_year]": exp_year}
    return await client.post("/v1/tokens", data={**card, "card[cvc]": "123"}, headers=AUTH)


async def test_a_test_card_becomes_a_token_that_charges_once(sandbox):
    async with sandbox:
        made = await token(sandbox, "4242 4242 4242 4242")
        body = made.json()
        assert made.status_code == 200 and body["id"].startswith("tok_")
        assert body["card"]["last4"] == "4242" and "number" not in body["card"]
        stripe = connector(sandbox)
        paid = await stripe.charge(
            ChargeRequest(amount=Decimal("250.00"), idempotency_key="t-1", token=body["id"])
        )
        assert paid.status.value == "succeeded"
        with pytest.raises(InvalidRequest):
            await stripe.charge(
                ChargeRequest(amount=Decimal("250.00"), idempotency_key="t-2", token=body["id"])
            )
        await stripe.aclose()


async def test_decline_numbers_tokenise_and_decline_when_charged(sandbox):
    async with sandbox:
        made = (await token(sandbox, "4000000000009995")).json()
        stripe = connector(sandbox)
        with pytest.raises(InsufficientFunds):
            await stripe.charge(
                ChargeRequest(amount=Decimal("250.00"), idempotency_key="t-3", token=made["id"])
            )
        await stripe.aclose()


@pytest.mark.parametrize(
    ("number", "year", "code"),
    [
        ("4242424242424241", "2034", "incorrect_number"),
        ("4111111111111111", "2034", "card_declined"),  # a real-looking card in test mode
        ("4242424242424242", "2001", "invalid_expiry_year"),
    ],
)
async def test_wrong_cards_get_stripes_card_errors(sandbox, number, year, code):
    async with sandbox:
        refused = await token(sandbox, number, year)
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == code and number not in refused.text


async def test_the_hosted_form_sends_the_payer_back_with_a_token_never_the_number(sandbox):
    back_to = "https://puente.test/prestamos/1/pagar/tarjeta?monto=10.00"
    async with sandbox:
        page = await sandbox.get("/_checkout/card", params={"return_url": back_to})
        assert page.status_code == 200 and 'autocomplete="cc-number"' in page.text
        bad = await sandbox.post(
            "/_checkout/card",
            data={"return_url": back_to, "number": "4242 4242 4242 4241", "exp": "12/34"},
        )
        assert bad.status_code == 402 and "El número de tarjeta no es válido." in bad.text
        assert "4241" not in bad.text
        good = await sandbox.post(
            "/_checkout/card",
            data={"return_url": back_to, "number": "4242424242424242", "exp": "12/34", "cvc": "1"},
        )
        assert good.status_code == 402  # a one-digit CVC
        good = await sandbox.post(
            "/_checkout/card",
            data={"return_url": back_to, "number": "4242424242424242", "exp": "1/34", "cvc": "123"},
        )
        no_return = await sandbox.get("/_checkout/card", params={"return_url": "javascript:x"})
    # Back to the merchant by a form POST: the token is in the body, never in a URL.
    assert good.status_code == 200 and "location" not in good.headers
    assert f'<form method="post" action="{back_to}" id="volver">' in good.text
    assert re.search(r'name="token" value="tok_\w+"', good.text)
    assert 'name="brand" value="visa"' in good.text and 'name="last4" value="4242"' in good.text
    assert "4242424242424242" not in good.text
    assert no_return.status_code == 400
