"""GraphQL: save a card, sign and revoke a domiciliación, pay with the saved card, delete it."""

from __future__ import annotations

from datetime import date

import pytest
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes
from tests.support.http import app_client, graphql

from puente.audit.models import AuditEvent
from puente.collections.models import Mandate, MandateStatus
from puente.graphql.types import encode_global_id
from puente.payments.gateways import store_credentials
from puente.payments.models import PaymentMethod

pytestmark = pytest.mark.anyio

SAVE = """mutation($i: SavePaymentMethodInput!) { savePaymentMethod(input: $i) {
  __typename ... on PaymentMethodSaved { paymentMethod { id cardBrand cardLast4 isDefault } }
  ... on PaymentError { code message } } }"""
SET = """mutation($i: DomiciliacionInput!) { setDomiciliacion(input: $i) {
  __typename ... on DomiciliacionSet { enabled loan { id domiciliacion { enabled status
  textVersion attempts { attempt } } } }
  ... on PaymentError { code message } } }"""
DELETE = """mutation($id: ID!) { deletePaymentMethod(id: $id) {
  __typename ... on PaymentMethodDeleted { id } ... on PaymentError { code message } } }"""
PAY = """mutation($i: CreatePaymentInput!) { createPayment(input: $i) {
  __typename ... on PaymentCreated { payment { status } } ... on PaymentError { code } } }"""
METHODS = "{ viewer { paymentMethods { id cardLast4 isDefault } } }"


async def _login(client) -> str:
    data = await graphql(
        client,
        'mutation { login(email: "ana@example.mx", password: "contrasena-segura-1") '
        "{ ... on AuthTokens { accessToken } } }",
    )
    return data["data"]["login"]["accessToken"]


async def test_card_saved_used_for_domiciliacion_paid_with_and_deleted(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    box = sandboxes(runtime)
    loan_id = encode_global_id("Loan", loan.id)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        token = await _login(client)
        bad = await graphql(
            client, SAVE, {"i": {"provider": "STRIPE", "cardToken": ""}}, token=token
        )
        assert bad["data"]["savePaymentMethod"]["code"] == "CARD_REQUIRED"
        saved = await graphql(
            client, SAVE, {"i": {"provider": "STRIPE", "cardToken": "tok_visa"}}, token=token
        )
        card = saved["data"]["savePaymentMethod"]["paymentMethod"]
        assert (card["cardBrand"], card["cardLast4"], card["isDefault"]) == ("visa", "4242", True)
        listed = await graphql(client, METHODS, token=token)
        assert [m["id"] for m in listed["data"]["viewer"]["paymentMethods"]] == [card["id"]]

        signed = await graphql(
            client,
            SET,
            {"i": {"loanId": loan_id, "paymentMethodId": card["id"], "enabled": True}},
            token=token,
        )
        result = signed["data"]["setDomiciliacion"]
        assert result["enabled"] is True and result["loan"]["domiciliacion"]["enabled"] is True
        mandate = await Mandate.get(loan_id=loan.id)
        assert mandate.signed_origin.startswith("graphql")
        assert await AuditEvent.filter(action="mandate.signed").count() == 1

        paid = await graphql(
            client,
            PAY,
            {
                "i": {
                    "loanId": loan_id,
                    "amount": "100.00",
                    "method": "CARD",
                    "provider": "STRIPE",
                    "paymentMethodId": card["id"],
                    "idempotencyKey": "saved-1",
                }
            },
            token=token,
        )
        assert paid["data"]["createPayment"]["payment"]["status"] == "PAID"

        revoked = await graphql(
            client,
            SET,
            {"i": {"loanId": loan_id, "paymentMethodId": card["id"], "enabled": False}},
            token=token,
        )
        assert revoked["data"]["setDomiciliacion"]["loan"]["domiciliacion"]["status"] == "revoked"
        assert (await Mandate.get(id=mandate.id)).status is MandateStatus.REVOKED

        gone = await graphql(client, DELETE, {"id": card["id"]}, token=token)
        assert gone["data"]["deletePaymentMethod"] == {
            "__typename": "PaymentMethodDeleted",
            "id": card["id"],
        }
        again = await graphql(client, DELETE, {"id": card["id"]}, token=token)
        assert again["data"]["deletePaymentMethod"]["code"] == "PAYMENT_METHOD_NOT_FOUND"
        anonymous = await graphql(client, DELETE, {"id": card["id"]})
        assert anonymous["data"]["deletePaymentMethod"]["code"] == "UNAUTHENTICATED"
    assert not await PaymentMethod.filter(is_active=True).exists()


async def test_someone_elses_loan_or_card_changes_nothing(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    eva = await factories.user(runtime, inst, email="eva@example.mx")
    loan = await factories.active_loan(inst, eva, start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    box = sandboxes(runtime)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        token = await _login(client)
        saved = await graphql(
            client, SAVE, {"i": {"provider": "STRIPE", "cardToken": "tok_visa"}}, token=token
        )
        card = saved["data"]["savePaymentMethod"]["paymentMethod"]
        refused = await graphql(
            client,
            SET,
            {
                "i": {
                    "loanId": encode_global_id("Loan", loan.id),
                    "paymentMethodId": card["id"],
                    "enabled": True,
                }
            },
            token=token,
        )
    assert refused["data"]["setDomiciliacion"]["code"] == "LOAN_NOT_FOUND"
    assert not await Mandate.exists()
    assert ana.id != eva.id


DEFAULT = """mutation($id: ID!) { setDefaultPaymentMethod(id: $id) {
  __typename ... on PaymentMethodSaved { paymentMethod { id isDefault } }
  ... on PaymentError { code } } }"""


async def test_an_app_makes_another_saved_card_the_default(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    box = sandboxes(runtime)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        token = await _login(client)
        ids = []
        for card_token in ("tok_visa", "tok_mastercard"):
            saved = await graphql(
                client, SAVE, {"i": {"provider": "STRIPE", "cardToken": card_token}}, token=token
            )
            ids.append(saved["data"]["savePaymentMethod"]["paymentMethod"]["id"])
        made = await graphql(client, DEFAULT, {"id": ids[1]}, token=token)
        unknown = await graphql(
            client, DEFAULT, {"id": encode_global_id("PaymentMethod", 999)}, token=token
        )
        listed = await graphql(client, METHODS, token=token)
    assert made["data"]["setDefaultPaymentMethod"]["paymentMethod"] == {
        "id": ids[1],
        "isDefault": True,
    }
    assert unknown["data"]["setDefaultPaymentMethod"]["code"] == "PAYMENT_METHOD_NOT_FOUND"
    methods = listed["data"]["viewer"]["paymentMethods"]
    assert [(m["id"], m["isDefault"]) for m in methods] == [(ids[1], True), (ids[0], False)]
