"""Redirect flows for apps: ``createPayment(returnUrl)`` against the institution's allow-list,
and a 3-D Secure card in the Stripe sandbox that sends the payer back to the app."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes
from tests.support.http import app_client, graphql

from puente.accounts.service import AuthService
from puente.graphql.types import encode_global_id
from puente.institutions.return_urls import (
    RETURN_URLS_KEY,
    ReturnUrlRefused,
    allowed_return_url,
)
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment
from puente.providers.circuit import DEFAULT_BREAKERS

pytestmark = pytest.mark.anyio
ALLOWED = ["puente-demo://", "https://app.financiera.mx"]

CREATE = """mutation($i: CreatePaymentInput!) { createPayment(input: $i) { __typename
  ... on PaymentCreated { payment { id status failureCode
    nextAction { type redirectUrl } } }
  ... on PaymentError { code message } } }"""
STATUS = "query($id: ID!) { node(id: $id) { ... on Payment { status } } }"


@pytest.mark.parametrize(
    "url",
    [
        "puente-demo://pagos/123",
        "https://app.financiera.mx/pagos/volver?x=1",
        "HTTPS://APP.FINANCIERA.MX/",
    ],
)
def test_allowed_return_urls(url):
    assert allowed_return_url(url, ALLOWED) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://app.financiera.mx.evil.com/",  # a look-alike host
        "http://app.financiera.mx/",  # the origin is https only
        "https://evil.com/?next=https://app.financiera.mx",
        "otra-app://pagos",
        "javascript:alert(1)",
        "puente-demo://pagos con espacio",
        "",
    ],
)
def test_other_return_urls_are_refused_in_spanish(url):
    with pytest.raises(ReturnUrlRefused) as refused:
        allowed_return_url(url, ALLOWED)
    assert "URL de regreso" in str(refused.value)


@pytest.fixture(autouse=True)
def closed_circuits():
    DEFAULT_BREAKERS.clear()
    yield
    DEFAULT_BREAKERS.clear()


async def _world(runtime):
    inst = await factories.institution()
    inst.settings = {RETURN_URLS_KEY: ALLOWED}
    await inst.save(update_fields=["settings"])
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    token = (await AuthService(runtime).login("ana@example.mx", "contrasena-segura-1")).access_token
    return loan, token


def _card(loan, key: str, token: str, return_url: str) -> dict:
    return {
        "i": {
            "loanId": encode_global_id("Loan", loan.id),
            "amount": "1240.35",
            "method": "CARD",
            "provider": "STRIPE",
            "cardToken": token,
            "idempotencyKey": key,
            "returnUrl": return_url,
        }
    }


async def test_a_return_url_outside_the_allow_list_is_refused_and_nothing_is_charged(db, runtime):
    loan, token = await _world(runtime)
    box = sandboxes(runtime)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        answer = await graphql(
            client, CREATE, _card(loan, "k1", "tok_visa", "https://evil.com/robar"), token=token
        )
    refused = answer["data"]["createPayment"]
    assert refused["code"] == "RETURN_URL_NOT_ALLOWED"
    assert "no está autorizada" in refused["message"]
    assert await Payment.all().count() == 0
    assert box.simulator("stripe").store.all("payment_intents") == []


async def _three_d_secure(runtime, outcome: str) -> tuple[dict, str, str]:
    """Pay with a card that requires 3-D Secure; the payer answers ``outcome`` on the
    issuer's page. Returns the payment as created, where the payer lands, its final status."""
    loan, token = await _world(runtime)
    box = sandboxes(runtime)
    client = app_client(runtime, gateways=box.gateways, run_workers=False)
    box.inbox.target = client._transport  # the sandbox's webhooks reach our /webhooks
    back = "puente-demo://pagos/resultado"
    async with (
        client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=box.app), base_url="http://sandbox.test"
        ) as payer,
    ):
        created = await graphql(
            client, CREATE, _card(loan, "k3ds", "tok_threeDSecure2Required", back), token=token
        )
        payment = created["data"]["createPayment"]["payment"]
        challenge = payment["nextAction"]["redirectUrl"]
        page = await payer.get(challenge)
        assert page.status_code == 200 and "Autenticar" in page.text
        answered = await payer.post(challenge, data={"outcome": outcome})
        await client._transport.app.state.inbox.process_due()
        final = await graphql(client, STATUS, {"id": payment["id"]}, token=token)
    assert answered.status_code == 303
    return payment, answered.headers["location"], final["data"]["node"]["status"]


async def test_a_three_d_secure_card_returns_the_payer_to_the_app_and_is_paid(db, runtime):
    payment, landing, status = await _three_d_secure(runtime, "authenticate")
    assert payment["status"] == "REQUIRES_ACTION"
    assert payment["nextAction"]["type"] == "REDIRECT"
    assert "/_3ds/pi_" in payment["nextAction"]["redirectUrl"]
    assert landing.startswith("puente-demo://pagos/resultado?")
    query = parse_qs(urlsplit(landing).query)
    assert query["redirect_status"] == ["succeeded"] and query["payment_intent"][0].startswith(
        "pi_"
    )
    assert status == "PAID"


async def test_a_failed_challenge_returns_to_the_app_and_the_payment_fails(db, runtime):
    _, landing, status = await _three_d_secure(runtime, "fail")
    assert parse_qs(urlsplit(landing).query)["redirect_status"] == ["failed"]
    assert status == "FAILED"


async def test_paypal_approval_returns_the_payer_to_the_app(db, runtime):
    from puente_sandbox.paypal import DEFAULT_PAYPAL_CREDENTIALS

    loan, token = await _world(runtime)
    await store_credentials(runtime, loan.institution_id, "paypal", DEFAULT_PAYPAL_CREDENTIALS)
    box = sandboxes(runtime, {"stripe": STRIPE, "paypal": dict(DEFAULT_PAYPAL_CREDENTIALS)})
    variables = _card(loan, "kpp", "", "https://app.financiera.mx/pagos/volver")
    variables["i"] |= {"method": "PAYPAL", "provider": "PAYPAL", "cardToken": None}
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        answer = await graphql(client, CREATE, variables, token=token)
    payment = answer["data"]["createPayment"]["payment"]
    assert payment["nextAction"]["type"] == "REDIRECT"
    (order,) = box.simulator("paypal").store.all("orders")
    back, cancel = order["_return"]
    assert back == "https://app.financiera.mx/pagos/volver"
    assert cancel.startswith(back)
