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
