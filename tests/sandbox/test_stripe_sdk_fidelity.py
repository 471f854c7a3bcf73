"""Fidelity: the official stripe-python SDK, pointed at the simulator, does what Puente does.

``stripe`` is a dev dependency, imported plainly: a broken install fails here, loudly. The
simulator runs on a real loopback socket so the SDK uses its own HTTP client unchanged.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import stripe
from tests.sandbox.loopback import wait_until

from puente_sandbox.stripe import StripeSimulator, create_stripe_sandbox

KEY = "sk_test_sdk_fidelity_000000000"
WHSEC = "whsec_sdk_fidelity_000000000"


def _error(name: str) -> type[Exception]:
    return getattr(stripe, name, None) or getattr(stripe.error, name)


@pytest.fixture
def sandbox() -> Iterator[tuple[str, StripeSimulator, list[httpx.Request]]]:
    import uvicorn

    received: list[httpx.Request] = []

    def inbox(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    app = create_stripe_sandbox(
        {"secret_key": KEY, "webhook_secret": WHSEC},
        "http://puente.test/webhooks/stripe",
        httpx.MockTransport(inbox),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    saved = (stripe.api_key, stripe.api_base, stripe.max_network_retries)
    stripe.api_key, stripe.api_base = KEY, f"http://127.0.0.1:{port}"
    stripe.max_network_retries = 0
    try:
        yield f"http://127.0.0.1:{port}", app.state.simulator, received
    finally:
        stripe.api_key, stripe.api_base, stripe.max_network_retries = saved
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_sdk_card_flow_refund_and_lists(sandbox) -> None:
    customer = stripe.Customer.create(name="Ana", email="ana@example.mx")
    method = stripe.PaymentMethod.attach("pm_card_visa", customer=customer.id)
    intent = stripe.PaymentIntent.create(
        amount=15000,
        currency="mxn",
        customer=customer.id,
        payment_method=method.id,
        payment_method_types=["card"],
        off_session=True,
        confirm=True,
        idempotency_key="sdk-charge-1",
    )
    assert intent.status == "succeeded"
    again = stripe.PaymentIntent.retrieve(intent.id, expand=["latest_charge"])
    assert again.latest_charge.amount == 15000
    refund = stripe.Refund.create(payment_intent=intent.id, amount=5000)
    assert refund.status == "succeeded"
    lines = stripe.BalanceTransaction.list(limit=100)
    assert {line.type for line in lines.data} == {"charge", "refund"}
    with pytest.raises(_error("CardError")) as caught:
        stripe.PaymentIntent.create(
            amount=15000,
            currency="mxn",
            payment_method="pm_card_chargeDeclined",
            payment_method_types=["card"],
            confirm=True,
        )
    assert caught.value.code == "card_declined"
    with pytest.raises(_error("AuthenticationError")):
        stripe.Customer.list(api_key="sk_test_not_the_right_key_0000")


def test_sdk_oxxo_and_spei(sandbox) -> None:
    oxxo = stripe.PaymentIntent.create(
        amount=30000,
        currency="mxn",
        payment_method_types=["oxxo"],
        payment_method_data={
            "type": "oxxo",
            "billing_details": {"name": "Ana", "email": "ana@example.mx"},
        },
        confirm=True,
    )
    assert oxxo.next_action.oxxo_display_details.number
    customer = stripe.Customer.create(name="Luis")
    spei = stripe.PaymentIntent.create(
        amount=20000,
        currency="mxn",
        customer=customer.id,
        payment_method_types=["customer_balance"],
        payment_method_data={"type": "customer_balance"},
        payment_method_options={
            "customer_balance": {
                "funding_type": "bank_transfer",
                "bank_transfer": {"type": "mx_bank_transfer"},
            }
        },
        confirm=True,
    )
    instructions = spei.next_action.display_bank_transfer_instructions
    assert instructions.financial_addresses[0].spei.clabe
    stripe.Customer.TestHelpers.fund_cash_balance(customer.id, amount=20000, currency="mxn")
    assert stripe.PaymentIntent.retrieve(spei.id).status == "succeeded"


def test_sandbox_webhooks_pass_the_sdk_verifier(sandbox) -> None:
    _, _, received = sandbox
    stripe.Customer.create(name="Eva")
    # The simulator delivers after it has answered, as Stripe does: wait for the delivery.
    wait_until(lambda: bool(received))
    delivery = received[-1]
    event = stripe.Webhook.construct_event(
        delivery.content.decode(), delivery.headers["Stripe-Signature"], WHSEC
    )
    assert event.type == json.loads(delivery.content)["type"]
    with pytest.raises(_error("SignatureVerificationError")):
        stripe.Webhook.construct_event(
            delivery.content.decode(), delivery.headers["Stripe-Signature"], "whsec_other"
        )
