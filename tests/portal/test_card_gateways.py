"""Cards through every card gateway's own tokenisation (issue 10 item 4).

In the sandbox each gateway's simulator hosts its card page and POSTs its own token format
back; outside the sandbox the portal loads the gateway's script with the institution's
public key, and that page's CSP allows exactly the gateway's origin.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from tests.conftest import make_settings
from tests.support.portal_pay import (
    BASE_URL,
    confirm_page_after_card_form,
    hidden_fields,
    login,
    pay_world,
    sandbox_runtime,
    start_payment,
)

from puente.enums import PaymentMethodType
from puente.enums import PaymentStatus as S
from puente.payments.models import Payment
from puente.providers.registry import provider_spec
from puente.runtime import Runtime
from puente.security.passwords import FAST_TEST_POLICY

pytestmark = pytest.mark.anyio

# provider -> (a test number that is approved, the cardholder name, its token's format)
CARD_GATEWAYS = {
    "stripe": ("4242424242424242", "Ana Prueba", r"tok_[A-Za-z0-9]+"),
    "conekta": ("4242424242424242", "Ana Prueba", r"tok_test_visa_4242"),
    "openpay": ("4111111111111111", "Ana Prueba", r"[a-z0-9]{20}"),
    "mercadopago": ("4075595716483764", "APRO", r"[0-9a-z]{32}"),
}
SCRIPTS = {
    "stripe": ("https://js.stripe.com/v3/", "https://js.stripe.com"),
    "conekta": ("https://cdn.conekta.io/js/latest/conekta.js", "https://cdn.conekta.io"),
    "openpay": ("https://js.openpay.mx/openpay.v1.min.js", "https://js.openpay.mx"),
    "mercadopago": ("https://sdk.mercadopago.com/js/v2", "https://sdk.mercadopago.com"),
}

SECRETS = {
    "stripe": "secret_key",
    "conekta": "private_key",
    "openpay": "private_key",
    "mercadopago": "access_token",
}


def card_only_through(provider: str) -> dict[str, object]:
    return {"payment_providers": {"card": [provider], "spei": ["stripe"]}}


def production_runtime(database_url, clock) -> Runtime:
    settings = make_settings(database_url, sandbox=False, base_url=BASE_URL)
    return Runtime.from_settings(settings, password_policy=FAST_TEST_POLICY, clock=clock)


@pytest.mark.parametrize("provider", sorted(CARD_GATEWAYS))
async def test_card_payment_through_each_gateways_own_card_page(db, database_url, clock, provider):
    number, name, token_format = CARD_GATEWAYS[provider]
    world = await pay_world(
        sandbox_runtime(database_url, clock),
        providers=tuple({provider, "stripe"}),
        institution_settings=card_only_through(provider),
    )
    async with world.client, world.sandbox:
        await login(world.client)
        started = await start_payment(world, opcion=f"card:{provider}")
        assert started.status_code == 303, started.text
        location = started.headers["location"]
        # The simulator's page of that very gateway; what comes back is never in a URL.
        assert urlsplit(location).path == f"/sandbox/{provider}/_checkout/card"
        return_url = re.search(r"return_url=([^&]+)", location).group(1)
        assert "token" not in return_url
        confirm = await confirm_page_after_card_form(world, location, number, name)
        assert confirm.status_code == 200, confirm.text
        token = hidden_fields(confirm.text)["token"]
        assert re.fullmatch(token_format, token), token
        assert number not in confirm.text
        done = await world.client.post(
            f"/prestamos/{world.loan.id}/pagar/tarjeta", data=hidden_fields(confirm.text)
        )
        assert done.status_code == 303, done.text
    payment = await Payment.get(loan_id=world.loan.id)
    assert payment.provider == provider and payment.method == PaymentMethodType.CARD
    assert payment.status == S.PAID


async def test_openpays_device_session_travels_from_the_card_page_to_the_charge(
    db, database_url, clock
):
    world = await pay_world(
        sandbox_runtime(database_url, clock),
        providers=("openpay", "stripe"),
        institution_settings=card_only_through("openpay"),
    )
    async with world.client, world.sandbox:
        await login(world.client)
        started = await start_payment(world, opcion="card:openpay")
        confirm = await confirm_page_after_card_form(
            world, started.headers["location"], "4111111111111111", "Ana Prueba"
        )
        fields = hidden_fields(confirm.text)
        device = fields["device_session_id"]  # openpay-data.js's, carried by the page
        assert re.fullmatch(r"[A-Za-z0-9]{32}", device), device
        tampered = await world.client.post(
            f"/prestamos/{world.loan.id}/pagar/tarjeta",
            data=fields | {"device_session_id": "no válido"},
        )
        assert tampered.status_code == 400
        assert "identificador del dispositivo" in tampered.text
        assert not await Payment.filter(loan_id=world.loan.id).exists()  # nothing changed
        done = await world.client.post(f"/prestamos/{world.loan.id}/pagar/tarjeta", data=fields)
        assert done.status_code == 303, done.text
    payment = await Payment.get(loan_id=world.loan.id)
    assert payment.status == S.PAID
    sessions = world.box.simulator("openpay").state.device_sessions
    assert sessions == {payment.provider_reference: device}  # Openpay got the browser's id


async def test_the_token_comes_back_by_post_only(db, database_url, clock):
    world = await pay_world(sandbox_runtime(database_url, clock))
    async with world.client, world.sandbox:
        await login(world.client)
        started = await start_payment(world, opcion="card:stripe")
        back = urlsplit(re.search(r"return_url=([^&]+)", started.headers["location"]).group(1))
        from urllib.parse import unquote

        path = unquote(back.path) + "?" + unquote(back.query)
        as_get = await world.client.get(path + "&token=tok_visa")
    assert as_get.status_code == 405  # a GET with the token in the URL is not a door


@pytest.mark.parametrize("provider", sorted(SCRIPTS))
async def test_production_with_a_public_key_offers_cards_through_the_gateways_script(
    db, database_url, clock, provider
):
    script, origin = SCRIPTS[provider]
    world = await pay_world(
        production_runtime(database_url, clock),
        providers=tuple({provider, "stripe"}),
        institution_settings=card_only_through(provider),
        extra_credentials={provider: {"public_key": f"pk_test_{provider}_123"}},
    )
    async with world.client, world.sandbox:
        await login(world.client)
        form = await world.client.get(f"/prestamos/{world.loan.id}/pagar")
        assert f'value="card:{provider}"' in form.text
        page = await start_payment(world, opcion=f"card:{provider}")
    assert page.status_code == 200, page.text
    assert f'<script src="{script}"' in page.text
    assert "/static/js/card-form.js" in page.text
    assert f'data-public-key="pk_test_{provider}_123"' in page.text
    secret = world.box.credentials[provider][SECRETS[provider]]
    assert secret not in page.text
    csp = dict(
        (part.split(" ", 1) + [""])[:2]
        for part in page.headers["content-security-policy"].split("; ")
    )
    assert csp["script-src"] == f"'self' {origin}"
    # The card inputs have no name: the browser never sends the number to Puente.
    assert not re.search(r'<input[^>]*autocomplete="cc-number"[^>]*name=', page.text)
    assert 'action="http://testserver/prestamos/' in page.text
    assert "<script>" not in page.text


@pytest.mark.parametrize("provider", sorted(SCRIPTS))
async def test_production_without_a_public_key_offers_no_card(db, database_url, clock, provider):
    world = await pay_world(
        production_runtime(database_url, clock),
        providers=tuple({provider, "stripe"}),
        institution_settings=card_only_through(provider),
    )
    async with world.client, world.sandbox:
        await login(world.client)
        form = await world.client.get(f"/prestamos/{world.loan.id}/pagar")
        assert 'value="spei:stripe"' in form.text  # the page works, only the card is gone
        assert "card:" not in form.text
        refused = await start_payment(world, opcion=f"card:{provider}")
    assert refused.status_code == 400
    assert await Payment.filter(loan_id=world.loan.id).count() == 0


async def test_other_pages_keep_the_strict_csp(db, database_url, clock):
    world = await pay_world(
        production_runtime(database_url, clock),
        extra_credentials={"stripe": {"public_key": "pk_test_stripe_123"}},
    )
    async with world.client, world.sandbox:
        await login(world.client)
        form = await world.client.get(f"/prestamos/{world.loan.id}/pagar")
    assert "script-src 'self';" in form.headers["content-security-policy"]
    assert "stripe.com" not in form.headers["content-security-policy"]


def test_every_card_gateway_names_its_script_and_public_key() -> None:
    for provider, (script, origin) in SCRIPTS.items():
        form = provider_spec(provider).card_form
        assert form is not None and form.script == script and form.script_origin == origin
        assert "public_key" in provider_spec(provider).optional_credentials
