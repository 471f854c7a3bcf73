"""In `puente demo`, every gateway and STP takes a payment that ends applied to the loan.

A real demo server (subprocess): for each provider a GraphQL client creates a payment, a
subscriber watches `paymentStatus`, the payer completes it inside that provider's sandbox
(SPEI transfer, store payment, PayPal approval, card), the signed webhook comes back, and the
subscriber sees the payment become PAID. Then the books balance to the centavo and a staff
member refunds a card payment at each gateway.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3

import httpx
import pyotp
import websockets

from puente.demo import DEMO_ADMIN_TOTP_SECRET

LOGIN = """mutation($e: String!, $p: String!, $o: String) {
  login(email: $e, password: $p, otp: $o) {
  ... on AuthTokens { accessToken } ... on AuthError { code } } }"""
CREATE = """mutation($i: CreatePaymentInput!) { createPayment(input: $i) { __typename
  ... on PaymentCreated { payment { id status providerReference
  nextAction { type clabe reference redirectUrl } } }
  ... on PaymentError { code message } } }"""
REFUND = """mutation($id: ID!) { refundPayment(paymentId: $id) { __typename
  ... on PaymentCreated { payment { status } } ... on PaymentError { code } } }"""
WATCH = "subscription($id: ID!) { paymentStatus(paymentId: $id) { status } }"

# (provider, method, how the payer completes it in the sandbox)
FLOWS = [
    ("STRIPE", "SPEI", "reference"),
    ("CONEKTA", "CASH", "reference"),
    ("OPENPAY", "CASH", "reference"),
    ("MERCADO_PAGO", "SPEI", "reference"),
    ("PAYPAL", "PAYPAL", "approve"),
    ("STP", "SPEI", "abono"),
]
CARDS = [
    ("STRIPE", "tok_visa"),
    ("CONEKTA", "tok_test_visa_4242"),
    ("OPENPAY", "tok_test_4111111111111111"),
    ("MERCADO_PAGO", "test_visa_APRO"),
]


async def _gql(client: httpx.AsyncClient, query: str, variables: dict, token: str) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    answer = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body = answer.json()
    assert "errors" not in body, body
    return body["data"]


async def _token(
    client: httpx.AsyncClient, email: str, password: str, otp: str | None = None
) -> str:
    data = await _gql(client, LOGIN, {"e": email, "p": password, "o": otp}, "")
    return data["login"]["accessToken"]


async def _watch(url: str, token: str, payment_id: str, seen: list[str], ready: asyncio.Event):
    async with websockets.connect(
        url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        await ws.recv()
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": WATCH, "variables": {"id": payment_id}},
                }
            )
        )
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 20))
            seen.append(message["payload"]["data"]["paymentStatus"]["status"])
            ready.set()
            if seen[-1] == "PAID":
                return


async def _complete(client: httpx.AsyncClient, provider: str, how: str, payment: dict) -> None:
    slug = provider.lower().replace("_", "")
    if how == "reference":
        answer = await client.post(
            f"/sandbox/{slug}/_references/{payment['providerReference']}/pay"
        )
    elif how == "approve":
        answer = await client.post(
            f"/sandbox/paypal/_orders/{payment['providerReference']}/approve"
        )
    else:
        action = payment["nextAction"]
        abono = await client.post(
            "/sandbox/stp/_abonos",
            json={
                "cuentaBeneficiario": action["clabe"],
                "monto": "150.00",
                "referenciaNumerica": action["reference"],
            },
        )
        assert abono.status_code < 300, abono.text
        answer = await client.post(f"/sandbox/stp/_references/{abono.json()['id']}/pay")
    assert answer.status_code < 300, answer.text


def test_every_gateway_and_stp_take_a_payment_that_lands_on_the_loan(demo):
    async def scenario() -> dict[str, list[str]]:
        seen_by_provider: dict[str, list[str]] = {}
        async with httpx.AsyncClient(base_url=demo.url, timeout=30) as client:
            token = await _token(client, "ana@demo.puente.mx", "ana-demo-2026")
            data = await _gql(client, "{ viewer { loans { edges { node { id } } } } }", {}, token)
            loan_id = data["viewer"]["loans"]["edges"][0]["node"]["id"]
            for provider, method, how in FLOWS:
                created = await _gql(
                    client,
                    CREATE,
                    {
                        "i": {
                            "loanId": loan_id,
                            "amount": "150.00",
                            "method": method,
                            "provider": provider,
                            "idempotencyKey": f"e2e-{provider}-{method}",
                        }
                    },
                    token,
                )
                payment = created["createPayment"]["payment"]
                assert payment["status"] == "REQUIRES_ACTION", (provider, created)
                seen: list[str] = []
                ready = asyncio.Event()
                watcher = asyncio.create_task(_watch(demo.url, token, payment["id"], seen, ready))
                await asyncio.wait_for(ready.wait(), 20)
                await _complete(client, provider, how, payment)
                await asyncio.wait_for(watcher, 30)
                seen_by_provider[provider] = seen
            code = pyotp.TOTP(DEMO_ADMIN_TOTP_SECRET).now()  # the demo runs on the real clock
            staff = await _token(client, "admin@demo.puente.mx", "admin-demo-2026", code)
            for provider, card in CARDS:
                created = await _gql(
                    client,
                    CREATE,
                    {
                        "i": {
                            "loanId": loan_id,
                            "amount": "200.00",
                            "method": "CARD",
                            "provider": provider,
                            "cardToken": card,
                            # Openpay's antifraud id (its SDK's, on the payer's device);
                            # the other gateways ignore it.
                            "deviceSessionId": "e2eDeviceSession0000000000000001",
                            "idempotencyKey": f"e2e-card-{provider}",
                        }
                    },
                    token,
                )
                payment = created["createPayment"]["payment"]
                assert payment["status"] == "PAID", (provider, created)
                refunded = await _gql(client, REFUND, {"id": payment["id"]}, staff)
                assert refunded["refundPayment"]["payment"]["status"] == "REFUNDED", provider
        return seen_by_provider

    seen = asyncio.run(scenario())
    for provider, _, _ in FLOWS:
        assert seen[provider][0] == "REQUIRES_ACTION" and seen[provider][-1] == "PAID", seen
    with sqlite3.connect(demo.database) as conn:
        (books,) = conn.execute("SELECT COALESCE(SUM(amount_centavos), 0) FROM postings").fetchone()
        paid = conn.execute(
            "SELECT COUNT(*) FROM payments WHERE idempotency_key LIKE 'e2e-%' AND status='paid'"
        ).fetchone()[0]
        per_payment = conn.execute(
            "SELECT COUNT(*) FROM journal_entries WHERE kind='payment' AND payment_id IN "
            "(SELECT id FROM payments WHERE idempotency_key LIKE 'e2e-%')"
        ).fetchone()[0]
    assert books == 0  # every entry balanced to the centavo
    assert paid == len(FLOWS)  # the card payments are refunded, the rest paid
    assert per_payment == len(FLOWS) + len(CARDS)  # each payment applied exactly once
