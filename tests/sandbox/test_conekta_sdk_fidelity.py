"""Fidelity: the official conekta-python SDK, pointed at the simulator, does what Puente does.

``conekta`` is a dev dependency, imported plainly so a broken install fails, not skips. The
SDK takes its host from ``conekta.Configuration(host=...)``, so it runs unchanged against the
simulator on a loopback socket. The SDK has no webhook verifier: the check below is the one
Conekta documents (``Digest`` = base64 RSA PKCS#1 v1.5 / SHA-256 signature of the raw body,
checked with the public key ``POST /webhook_keys`` returns), written with ``cryptography``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import conekta
import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from tests.sandbox.loopback import serve_on_loopback, wait_until

from puente_sandbox.conekta import create_conekta_sandbox

KEY = "key_sdk_fidelity_0000000000000"
EXPIRES_AT = 1_900_000_000  # unix seconds, years after the fixed test clock
NOW = 1_800_000_000.0


class Sandbox:
    """The SDK's client on the simulator, and the webhooks the simulator sent."""

    def __init__(self, base_url: str, received: list[httpx.Request]) -> None:
        self.base_url = base_url
        self.received = received
        self.client = conekta.ApiClient(conekta.Configuration(host=base_url, access_token=KEY))
        self.orders = conekta.OrdersApi(self.client)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    received: list[httpx.Request] = []

    def inbox(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    app = create_conekta_sandbox(
        {"private_key": KEY},
        "http://puente.test/webhooks/conekta",
        httpx.MockTransport(inbox),
        lambda: NOW,
        seed=7,
    )
    with serve_on_loopback(app) as base_url:
        yield Sandbox(base_url, received)


def order_request(payment_method: object, amount: int = 15000) -> object:
    """An order of one line item paid by one charge, as Puente's connector builds it."""
    return conekta.OrderRequest(
        currency="MXN",
        customer_info=conekta.OrderRequestCustomerInfo(
            conekta.CustomerInfo(name="Ana López", email="ana@example.mx", phone="5512345678")
        ),
        line_items=[conekta.Product(name="Colegiatura", unit_price=amount, quantity=1)],
        charges=[
            conekta.ChargeRequest(
                amount=amount,
                payment_method=conekta.ChargeRequestPaymentMethod(payment_method),
            )
        ],
        metadata={"puente_key": "sdk-1"},
    )


def card(token: str) -> object:
    return conekta.PaymentMethodGeneralRequest(type="card", token_id=token)


def test_sdk_card_order_refund_and_lists(sandbox: Sandbox) -> None:
    paid = sandbox.orders.create_order(order_request(card("tok_test_visa_4242")))
    assert paid.payment_status == "paid"
    charge = paid.charges.data[0]
    assert charge.status == "paid"
    assert isinstance(charge.payment_method.actual_instance, conekta.PaymentMethodCard)
    assert charge.payment_method.actual_instance.last4 == "4242"

    again = sandbox.orders.get_order_by_id(paid.id)
    assert (again.id, again.amount, again.metadata) == (paid.id, 15000, {"puente_key": "sdk-1"})

    refunded = sandbox.orders.order_refund(
        paid.id, conekta.OrderRefundRequest(amount=5000, reason="requested_by_client")
    )
    assert (refunded.payment_status, refunded.amount_refunded) == ("partially_refunded", 5000)

    with pytest.raises(conekta.ApiException) as caught:
        sandbox.orders.create_order(order_request(card("tok_test_card_declined")))
    assert caught.value.status == 402
    assert caught.value.data.type == "processing_error"
    assert caught.value.data.details[0].code.startswith("conekta.errors.processing")

    listed = sandbox.orders.get_orders(limit=20)
    assert {o.payment_status for o in listed.data} == {"partially_refunded", "declined"}
    paid_only = sandbox.orders.get_orders(limit=20, payment_status="partially_refunded")
    assert [o.id for o in paid_only.data] == [paid.id]

    lines = conekta.TransactionsApi(sandbox.client).get_transactions(limit=50)
    assert sorted(line.type for line in lines.data) == ["capture", "refund"]
    assert all(line.charge == charge.id for line in lines.data)

    wrong = conekta.ApiClient(conekta.Configuration(host=sandbox.base_url, access_token="key_x"))
    with pytest.raises(conekta.exceptions.UnauthorizedException):
        conekta.OrdersApi(wrong).get_orders()


def test_sdk_saved_card_pays_an_order(sandbox: Sandbox) -> None:
    customer = conekta.CustomersApi(sandbox.client).create_customer(
        conekta.Customer(name="Luis Pérez", email="luis@example.mx", phone="5587654321")
    )
    source = conekta.PaymentMethodsApi(sandbox.client).create_customer_payment_methods(
        customer.id,
        conekta.CreateCustomerPaymentMethodsRequest(
            conekta.PaymentMethodTokenRequest(type="card", token_id="tok_test_mastercard_4444")
        ),
    )
    saved = source.actual_instance
    assert (saved.type, saved.last4) == ("card", "4444")

    order = conekta.OrderRequest(
        currency="MXN",
        customer_info=conekta.OrderRequestCustomerInfo(
            conekta.CustomerInfoCustomerId(customer_id=customer.id)
        ),
        line_items=[conekta.Product(name="Colegiatura", unit_price=20000, quantity=1)],
        charges=[
            conekta.ChargeRequest(
                amount=20000,
                payment_method=conekta.ChargeRequestPaymentMethod(
                    conekta.PaymentMethodGeneralRequest(type="card", payment_source_id=saved.id)
                ),
            )
        ],
    )
    paid = sandbox.orders.create_order(order)
    assert paid.payment_status == "paid"
    assert paid.charges.data[0].customer_id == customer.id


def test_sdk_oxxo_and_spei_references(sandbox: Sandbox) -> None:
    cash = sandbox.orders.create_order(
        order_request(conekta.PaymentMethodGeneralRequest(type="cash", expires_at=EXPIRES_AT))
    )
    voucher = cash.charges.data[0].payment_method.actual_instance
    assert isinstance(voucher, conekta.PaymentMethodCash)
    assert cash.payment_status == "pending_payment"
    assert voucher.reference and voucher.expires_at == EXPIRES_AT

    spei = sandbox.orders.create_order(
        order_request(conekta.PaymentMethodGeneralRequest(type="spei", expires_at=EXPIRES_AT))
    )
    transfer = spei.charges.data[0].payment_method.actual_instance
    assert isinstance(transfer, conekta.PaymentMethodBankTransfer)
    assert len(transfer.clabe) == 18 and transfer.clabe.startswith("646")

    # The payer pays at the store / from their bank; the SDK then sees the order paid.
    for order_id in (cash.id, spei.id):
        assert httpx.post(f"{sandbox.base_url}/_references/{order_id}/pay").status_code == 200
        assert sandbox.orders.get_order_by_id(order_id).payment_status == "paid"


def verify_conekta_digest(raw_body: bytes, digest: str, public_pem: str) -> None:
    """Conekta's documented check; raises ``InvalidSignature`` when the body was not signed."""
    key = load_pem_public_key(public_pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(digest), raw_body, padding.PKCS1v15(), hashes.SHA256())


def test_sandbox_webhooks_pass_the_documented_digest_check(sandbox: Sandbox) -> None:
    webhook_key = conekta.WebhookKeysApi(sandbox.client).create_webhook_key(
        webhook_key_request=conekta.WebhookKeyRequest(active=True)
    )
    assert webhook_key.active is True
    order = sandbox.orders.create_order(order_request(card("tok_test_visa_4242")))

    def paid_event() -> httpx.Request | None:
        for delivery in sandbox.received:
            event = json.loads(delivery.content)
            if (event["type"], event["data"]["object"]["id"]) == ("order.paid", order.id):
                return delivery
        return None

    wait_until(lambda: paid_event() is not None)
    delivery = paid_event()
    assert delivery is not None
    event = json.loads(delivery.content)
    verify_conekta_digest(delivery.content, delivery.headers["Digest"], webhook_key.public_key)
    tampered = delivery.content.replace(b'"paid"', b'"declined"')
    with pytest.raises(InvalidSignature):
        verify_conekta_digest(tampered, delivery.headers["Digest"], webhook_key.public_key)

    events = conekta.EventsApi(sandbox.client).get_events(limit=50)
    assert event["id"] in {e.id for e in events.data}
