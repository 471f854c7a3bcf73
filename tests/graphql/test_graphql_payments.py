"""createPayment and the paymentStatus subscription (contract names)."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from decimal import Decimal

import pyotp
import pytest
from starlette.testclient import TestClient
from tests.conftest import _init
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes
from tests.support.http import app_client, graphql

from puente.app import create_app
from puente.enums import PaymentStatus as S
from puente.graphql.types import encode_global_id
from puente.payments.change_notices import notify_transition
from puente.payments.gateways import store_credentials
from puente.payments.lifecycle_service import advance_payment

CREATE = """mutation($i: CreatePaymentInput!) { createPayment(input: $i) {
  __typename ... on PaymentCreated { payment { id status amount { amount } provider method
  providerReference nextAction { type clabe reference } } }
  ... on PaymentError { code message } } }"""


async def _setup(runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    return loan


async def _token(client) -> str:
    data = await graphql(
        client,
        'mutation { login(email: "ana@example.mx", password: "contrasena-segura-1") '
        "{ ... on AuthTokens { accessToken } } }",
    )
    return data["data"]["login"]["accessToken"]


def _input(loan, **changes):
    values = {
        "loanId": encode_global_id("Loan", loan.id),
        "amount": "1240.35",
        "method": "CARD",
        "provider": "STRIPE",
        "cardToken": "tok_visa",
        "idempotencyKey": "gql-1",
    }
    return {**values, **changes}


@pytest.mark.anyio
async def test_create_payment_pays_by_card_and_is_idempotent(db, runtime):
    loan = await _setup(runtime)
    box = sandboxes(runtime)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        token = await _token(client)
        first = await graphql(client, CREATE, {"i": _input(loan)}, token=token)
        again = await graphql(client, CREATE, {"i": _input(loan)}, token=token)
        clash = await graphql(client, CREATE, {"i": _input(loan, amount="10.00")}, token=token)
        anonymous = await graphql(client, CREATE, {"i": _input(loan, idempotencyKey="x")})
    created = first["data"]["createPayment"]
    assert created["__typename"] == "PaymentCreated"
    assert created["payment"]["status"] == "PAID"
    assert created["payment"]["providerReference"].startswith("pi_")
    assert again["data"]["createPayment"]["payment"]["id"] == created["payment"]["id"]
    assert clash["data"]["createPayment"] == {
        "__typename": "PaymentError",
        "code": "IDEMPOTENCY_CONFLICT",
        "message": "Esa clave de idempotencia ya se usó con otros datos de pago.",
    }
    assert anonymous["data"]["createPayment"]["code"] == "UNAUTHENTICATED"


@pytest.mark.anyio
async def test_spei_payment_returns_clabe_instructions(db, runtime):
    loan = await _setup(runtime)
    box = sandboxes(runtime)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        token = await _token(client)
        data = await graphql(
            client, CREATE, {"i": _input(loan, method="SPEI", cardToken=None)}, token=token
        )
    payment = data["data"]["createPayment"]["payment"]
    assert payment["status"] == "REQUIRES_ACTION"
    assert payment["nextAction"]["type"] == "SPEI_TRANSFER"
    assert len(payment["nextAction"]["clabe"]) == 18


def test_payment_status_subscription_emits_current_state_then_changes(database_url, runtime):
    async def seed():
        await _init(database_url)
        try:
            loan = await _setup(runtime)
            return loan.id
        finally:
            from tortoise import Tortoise

            await Tortoise.close_connections()

    loan_id = asyncio.run(seed())
    box = sandboxes(runtime)
    app = create_app(runtime, gateways=box.gateways, run_workers=False)
    with TestClient(app) as client:
        login = client.post(
            "/graphql",
            json={
                "query": 'mutation { login(email: "ana@example.mx", '
                'password: "contrasena-segura-1") { ... on AuthTokens { accessToken } } }'
            },
        ).json()
        token = login["data"]["login"]["accessToken"]
        created = client.post(
            "/graphql",
            json={
                "query": CREATE,
                "variables": {
                    "i": {
                        "loanId": encode_global_id("Loan", loan_id),
                        "amount": "1240.35",
                        "method": "SPEI",
                        "provider": "STRIPE",
                        "idempotencyKey": "sub-1",
                    }
                },
            },
            headers={"authorization": f"Bearer {token}"},
        ).json()
        payment_id = created["data"]["createPayment"]["payment"]["id"]
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            )
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json(
                {
                    "id": "s",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription($id: ID!) { paymentStatus(paymentId: $id) "
                        "{ id status } }",
                        "variables": {"id": payment_id},
                    },
                }
            )
            first = ws.receive_json()
            assert first["payload"]["data"]["paymentStatus"]["status"] == "REQUIRES_ACTION"

            async def pay():
                from puente.graphql.types import decode_global_id

                pk = decode_global_id(payment_id)[1]
                transition = await advance_payment(pk, S.PAID, source="test", at=runtime.now())
                await notify_transition(runtime.bus, transition)

            client.portal.call(pay)
            second = ws.receive_json()
            assert second["payload"]["data"]["paymentStatus"]["status"] == "PAID"


REFUND = """mutation($id: ID!, $amount: Decimal) { refundPayment(paymentId: $id, amount: $amount) {
  __typename ... on PaymentCreated { payment { status } } ... on PaymentError { code } } }"""


@pytest.mark.anyio
async def test_staff_refund_mutation_and_borrowers_are_refused(db, runtime):
    loan = await _setup(runtime)
    inst = await loan.institution
    _, secret = await factories.enrolled_staff(runtime, inst)
    box = sandboxes(runtime)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        token = await _token(client)
        created = await graphql(client, CREATE, {"i": _input(loan)}, token=token)
        payment_id = created["data"]["createPayment"]["payment"]["id"]
        as_borrower = await graphql(client, REFUND, {"id": payment_id}, token=token)
        staff = await graphql(
            client,
            'mutation($o: String) { login(email: "caja@example.mx", '
            'password: "contrasena-segura-1", otp: $o) { ... on AuthTokens { accessToken } } }',
            {"o": pyotp.TOTP(secret).at(runtime.now())},
        )
        staff_token = staff["data"]["login"]["accessToken"]
        partial = await graphql(
            client, REFUND, {"id": payment_id, "amount": "40.35"}, token=staff_token
        )
        rest = await graphql(client, REFUND, {"id": payment_id}, token=staff_token)
    assert as_borrower["data"]["refundPayment"]["code"] == "FORBIDDEN"
    assert partial["data"]["refundPayment"]["payment"]["status"] == "PARTIALLY_REFUNDED"
    assert rest["data"]["refundPayment"]["payment"]["status"] == "REFUNDED"


@pytest.mark.anyio
async def test_paypal_payment_redirects_to_the_approval_page(db, runtime):
    from puente_sandbox.paypal import DEFAULT_PAYPAL_CREDENTIALS

    loan = await _setup(runtime)
    await store_credentials(runtime, loan.institution_id, "paypal", DEFAULT_PAYPAL_CREDENTIALS)
    box = sandboxes(runtime, {"stripe": STRIPE, "paypal": dict(DEFAULT_PAYPAL_CREDENTIALS)})
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        token = await _token(client)
        data = await graphql(
            client,
            CREATE.replace(
                "nextAction { type clabe reference }", "nextAction { type redirectUrl }"
            ),
            {"i": _input(loan, method="PAYPAL", provider="PAYPAL", cardToken=None)},
            token=token,
        )
    payment = data["data"]["createPayment"]["payment"]
    assert payment["status"] == "REQUIRES_ACTION"
    assert payment["nextAction"]["type"] == "REDIRECT"
    assert payment["nextAction"]["redirectUrl"].startswith("http://sandbox.test/paypal/")


def test_someone_elses_payment_cannot_be_watched(database_url, runtime):
    async def seed():
        await _init(database_url)
        try:
            loan = await _setup(runtime)
            inst = await loan.institution
            await factories.user(runtime, inst, email="otro@example.mx")
            from puente.enums import PaymentMethodType, ProviderName
            from puente.payments.models import Payment

            payment = await Payment.create(
                institution_id=inst.id,
                loan_id=loan.id,
                user_id=loan.borrower_id,
                provider=ProviderName.STRIPE,
                method=PaymentMethodType.SPEI,
                amount_centavos=100,
                idempotency_key="watch",
                request_fingerprint="x",
            )
            return payment.id
        finally:
            from tortoise import Tortoise

            await Tortoise.close_connections()

    payment_id = asyncio.run(seed())
    app = create_app(runtime, gateways=sandboxes(runtime).gateways, run_workers=False)
    with TestClient(app) as client:
        login = client.post(
            "/graphql",
            json={
                "query": 'mutation { login(email: "otro@example.mx", '
                'password: "contrasena-segura-1") { ... on AuthTokens { accessToken } } }'
            },
        ).json()
        token = login["data"]["login"]["accessToken"]
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            )
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json(
                {
                    "id": "s",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription($id: ID!) { paymentStatus(paymentId: $id) "
                        "{ status } }",
                        "variables": {"id": encode_global_id("Payment", payment_id)},
                    },
                }
            )
            message = ws.receive_json()
    assert message["type"] == "error" or message["payload"].get("errors")
    assert "status" not in json.dumps(message.get("payload", {}).get("data") or {})


CREATE_MODE = """mutation($i: CreatePaymentInput!) { createPayment(input: $i) {
  __typename ... on PaymentCreated { payment { id status prepaymentMode } }
  ... on PaymentError { code message } } }"""


@pytest.mark.anyio
async def test_the_payer_chooses_what_extra_money_does_and_the_payment_says_so(db, runtime):
    from puente.loans.models import Installment

    loan = await _setup(runtime)
    box = sandboxes(runtime)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        token = await _token(client)
        chosen = _input(loan, amount="4240.35", prepaymentMode="REDUCE_TERM")
        data = await graphql(client, CREATE_MODE, {"i": chosen}, token=token)
    payment = data["data"]["createPayment"]["payment"]
    assert payment["status"] == "PAID" and payment["prepaymentMode"] == "REDUCE_TERM"
    rows = await Installment.filter(loan_id=loan.id, superseded_on__isnull=True)
    assert len(rows) < 12 and {row.version for row in rows} == {1, 2}


@pytest.mark.anyio
async def test_when_not_asked_the_product_default_applies_and_is_reported(db, runtime):
    from puente.loans.lifecycle import approve_loan
    from puente.loans.models import Installment, LoanProduct
    from puente.loans.origination import originate_loan, record_disbursement

    first = await _setup(runtime)
    await LoanProduct.filter(id=first.product_id).update(
        default_prepayment_mode="REDUCE_INSTALLMENT"
    )
    product = await LoanProduct.get(id=first.product_id)

    loan = await originate_loan(
        product=product,
        borrower_id=first.borrower_id,
        principal=Decimal("12000.00"),
        term_count=12,
        start_date=date(2026, 11, 2),
    )
    await approve_loan(loan)
    await record_disbursement(loan, on=date(2026, 11, 2))
    box = sandboxes(runtime)
    async with app_client(runtime, gateways=box.gateways, run_workers=False) as client:
        token = await _token(client)
        data = await graphql(
            client, CREATE_MODE, {"i": _input(loan, amount="4240.35")}, token=token
        )
        bad = await graphql(
            client,
            CREATE_MODE,
            {"i": _input(loan, prepaymentMode="LATER", idempotencyKey="b")},
            token=token,
        )
    payment = data["data"]["createPayment"]["payment"]
    assert payment["prepaymentMode"] == "REDUCE_INSTALLMENT"
    rows = await Installment.filter(loan_id=loan.id, superseded_on__isnull=True)
    assert len(rows) == 12 and {row.version for row in rows} == {1, 2}
    assert bad.get("errors")  # not a PrepaymentMode: refused by the schema, nothing created
