"""No secret in any log: a representative run (a GraphQL login with a wrong password inline,
documents that fail validation, a card payment from the portal, an Openpay webhook)
captured at DEBUG, then grepped for every secret it handled."""

from __future__ import annotations

import json
import logging

import pytest
from tests.support.portal_pay import (
    PASSWORD,
    confirm_page_after_card_form,
    hidden_fields,
    login,
    pay_world,
    sandbox_runtime,
    start_payment,
)

from puente.providers.openpay_webhooks import basic_authorization
from puente.sandbox_hook import demo_credentials

pytestmark = pytest.mark.anyio

LOGGERS = ("puente", "strawberry", "uvicorn.access", "uvicorn.error", "httpx")
INLINE_PASSWORD = "Contrasena-Inline-Secreta-7781"
INLINE_CARD_TOKEN = "tok_inline_secret_4242_9931"
CLABE = "646180111805034237"


@pytest.fixture
def runtime(database_url, clock):
    return sandbox_runtime(database_url, clock)


async def graphql_with_secrets(client) -> None:
    documents = [
        # A wrong password, inline: a normal refusal.
        f'mutation {{ login(email: "ana@example.mx", password: "{INLINE_PASSWORD}") '
        "{ __typename } }",
        # The same inside a document that fails validation (an unknown argument).
        f'mutation {{ login(email: "ana@example.mx", password: "{INLINE_PASSWORD}", otp: 1, '
        "extra: true) { __typename } }",
        # A card token inline in a document that fails validation.
        f'mutation {{ createPayment(input: {{loanId: "1", amount: "10", method: CARD, '
        f'provider: STRIPE, cardToken: "{INLINE_CARD_TOKEN}", idempotencyKey: 5}}) '
        "{ __typename } }",
        # And as variables, with a wrong type.
        'mutation L($p: Int!) { login(email: "a", password: $p) { __typename } }',
    ]
    variables = [{}, {}, {}, {"p": INLINE_PASSWORD}]
    for query, values in zip(documents, variables, strict=True):
        answer = await client.post("/graphql", json={"query": query, "variables": values})
        assert answer.status_code in (200, 400), answer.text


async def card_payment(world) -> None:
    started = await start_payment(world, opcion="card:stripe")
    confirm = await confirm_page_after_card_form(
        world, started.headers["location"], "4242 4242 4242 4242"
    )
    assert confirm.status_code == 200, confirm.text
    done = await world.client.post(
        f"/prestamos/{world.loan.id}/pagar/tarjeta", data=hidden_fields(confirm.text)
    )
    assert done.status_code == 303


async def openpay_webhook(world) -> str:
    credentials = demo_credentials()["openpay"]
    body = json.dumps(
        {
            "type": "spei.received",
            "event_date": "2026-11-27T10:00:00-06:00",
            "transaction": {"id": "trlog0001", "amount": 10, "clabe": CLABE},
        }
    ).encode()
    authorization = basic_authorization(
        credentials["webhook_user"], credentials["webhook_password"]
    )
    answer = await world.client.post(
        "/webhooks/openpay",
        content=body,
        headers={"authorization": authorization, "content-type": "application/json"},
    )
    assert answer.status_code in (200, 400)
    return credentials["webhook_password"]


async def test_a_representative_run_logs_no_secret(db, runtime, caplog):
    from puente.payments.gateways import store_credentials

    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    world = await pay_world(runtime)
    await store_credentials(
        runtime, world.loan.institution_id, "openpay", demo_credentials()["openpay"]
    )
    async with world.client, world.sandbox:
        await graphql_with_secrets(world.client)
        await login(world.client)
        await card_payment(world)
        webhook_password = await openpay_webhook(world)
    stripe = world.box.simulator("stripe")
    card_tokens = [token["id"] for token in stripe.state.store.all("tokens")]
    assert card_tokens  # the flow did mint a token
    secrets = {
        "inline password": INLINE_PASSWORD,
        "inline card token": INLINE_CARD_TOKEN,
        "login password": PASSWORD,
        "clabe": CLABE,
        "openpay webhook password": webhook_password,
        "stripe secret key": demo_credentials()["stripe"]["secret_key"],
        "stripe webhook secret": demo_credentials()["stripe"]["webhook_secret"],
        "secret key": runtime.settings.secret_key,
        **{f"card token {n}": token for n, token in enumerate(card_tokens)},
    }
    records = [r for r in caplog.records if r.name.startswith(LOGGERS)]
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in records)
    assert len(records) > 5  # the run did log (requests, payments, webhooks)
    found = {name for name, secret in secrets.items() if secret and secret in logged}
    assert not found, found
