"""GraphQL and authentication: one user per request, no id oracle on refunds."""

from __future__ import annotations

import pytest
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes
from tests.support.http import app_client, graphql

from puente.enums import PaymentMethodType, ProviderName
from puente.graphql.types import encode_global_id
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"

LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
  __typename ... on AuthTokens { accessToken refreshToken } ... on AuthError { code } } }"""


async def login(client, email: str = "ana@example.mx") -> str:
    data = await graphql(client, LOGIN, {"e": email, "p": PASSWORD})
    assert data["data"]["login"]["__typename"] == "AuthTokens", data
    return data["data"]["login"]["accessToken"]


async def test_two_root_fields_in_one_query_see_the_same_user(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=runtime.today())
    loan_id = encode_global_id("Loan", loan.id)
    query = """query($id: ID!) { viewer { user { email } } node(id: $id) { id }
      again: viewer { user { email } } }"""
    async with app_client(runtime) as client:
        token = await login(client)
        data = await graphql(client, query, {"id": loan_id}, token=token)
    assert data["data"] == {
        "viewer": {"user": {"email": "ana@example.mx"}},
        "node": {"id": loan_id},
        "again": {"user": {"email": "ana@example.mx"}},
    }


REFUND = """mutation($id: ID!) { refundPayment(paymentId: $id) {
  __typename ... on PaymentError { code message } } }"""


async def test_a_refund_does_not_tell_someone_elses_payment_from_a_missing_one(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)  # ana, who probes
    beto = await factories.user(runtime, inst, email="beto@example.mx")
    loan = await factories.active_loan(inst, beto, start=runtime.today())
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    payment = await Payment.create(
        institution_id=inst.id,
        loan_id=loan.id,
        user_id=beto.id,
        provider=ProviderName.STRIPE,
        method=PaymentMethodType.CARD,
        amount_centavos=100_00,
        idempotency_key="beto-1",
        request_fingerprint="x",
    )
    box = sandboxes(runtime)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        token = await login(client)
        existing = await graphql(
            client, REFUND, {"id": encode_global_id("Payment", payment.id)}, token=token
        )
        missing = await graphql(
            client, REFUND, {"id": encode_global_id("Payment", payment.id + 1000)}, token=token
        )
    assert existing["data"]["refundPayment"]["__typename"] == "PaymentError"
    assert existing == missing


def _watch_payment(database_url, runtime, end_session) -> list[dict]:
    """Subscribe to a payment over graphql-transport-ws, end the session, return what follows."""
    import asyncio as aio

    from starlette.testclient import TestClient
    from tests.conftest import _init

    from puente.accounts.service import AuthService
    from puente.app import create_app

    runtime.settings = runtime.settings.with_overrides(session_recheck_seconds=0.1)

    async def seed():
        await _init(database_url)
        try:
            inst = await factories.institution()
            ana = await factories.user(runtime, inst)
            loan = await factories.active_loan(inst, ana, start=runtime.today())
            payment = await Payment.create(
                institution_id=inst.id,
                loan_id=loan.id,
                user_id=ana.id,
                provider=ProviderName.STRIPE,
                method=PaymentMethodType.SPEI,
                amount_centavos=100,
                idempotency_key="watch",
                request_fingerprint="x",
            )
            tokens = await AuthService(runtime).login("ana@example.mx", PASSWORD)
            return payment.id, tokens
        finally:
            from tortoise import Tortoise

            await Tortoise.close_connections()

    payment_id, tokens = aio.run(seed())
    app = create_app(runtime, run_workers=False)
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json(
            {
                "type": "connection_init",
                "payload": {"authorization": f"Bearer {tokens.access_token}"},
            }
        )
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json(
            {
                "id": "s",
                "type": "subscribe",
                "payload": {
                    "query": "subscription($id: ID!) { paymentStatus(paymentId: $id) { status } }",
                    "variables": {"id": encode_global_id("Payment", payment_id)},
                },
            }
        )
        first = ws.receive_json()
        assert first["payload"]["data"]["paymentStatus"]["status"] == "CREATED"
        client.portal.call(end_session, tokens)
        return [ws.receive_json(), ws.receive_json()]


def _assert_ended(messages: list[dict]) -> None:
    error, complete = messages
    assert error["type"] == "next" and error["payload"]["data"] is None
    assert error["payload"]["errors"][0]["extensions"]["code"] == "SESSION_ENDED"
    assert complete == {"id": "s", "type": "complete"}


def test_a_subscription_ends_when_its_session_is_revoked(database_url, runtime):
    from puente.accounts.service import AuthService

    async def logout(tokens):
        await AuthService(runtime).logout(tokens.refresh_token)

    _assert_ended(_watch_payment(database_url, runtime, logout))


def test_a_subscription_ends_when_its_token_expires(database_url, runtime, clock):
    from datetime import timedelta

    async def expire(tokens):
        clock.now += timedelta(seconds=tokens.expires_in + 1)

    _assert_ended(_watch_payment(database_url, runtime, expire))


async def test_change_password_mutation_returns_new_tokens_and_ends_the_old_ones(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    change = """mutation($c: String!, $n: String!) { changePassword(currentPassword: $c,
      newPassword: $n) { __typename ... on AuthTokens { accessToken scope }
      ... on AuthError { code } } }"""
    viewer = "{ viewer { user { email } } }"
    async with app_client(runtime) as client:
        old = await login(client)
        weak = await graphql(client, change, {"c": PASSWORD, "n": "corta"}, token=old)
        changed = await graphql(
            client, change, {"c": PASSWORD, "n": "nueva-contrasena-9"}, token=old
        )
        new = changed["data"]["changePassword"]["accessToken"]
        as_old = await graphql(client, viewer, token=old)
        as_new = await graphql(client, viewer, token=new)
        logout = await graphql(client, "mutation { logout }", token=new)
        after_logout = await graphql(client, viewer, token=new)
    assert weak["data"]["changePassword"] == {"__typename": "AuthError", "code": "WEAK_PASSWORD"}
    assert changed["data"]["changePassword"]["scope"] == "FULL"
    assert as_old["data"]["viewer"] is None
    assert as_new["data"]["viewer"]["user"]["email"] == "ana@example.mx"
    assert logout["data"]["logout"] is True and after_logout["data"]["viewer"] is None
