"""The Stripe simulator answers like Stripe: paths, bodies, auth, idempotency, webhooks."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from puente.providers.stripe_webhooks import verify_stripe_signature
from puente_sandbox.stripe import create_stripe_sandbox

if TYPE_CHECKING:
    from tests.sandbox.conftest import StripeSandbox

pytestmark = pytest.mark.anyio
KEY = "sk_test_sandbox_tests_0123456789"  # as configured in conftest
WHSEC = "whsec_sandbox_tests_0123456789"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CARD = "amount=15000&currency=mxn&payment_method_types[0]=card&confirm=true"


async def post(sb: StripeSandbox, path: str, body: str, key: str | None = None, **headers: str):
    extra = {**FORM, **headers}
    if key:
        extra["Idempotency-Key"] = key
    return await sb.client.post(path, content=body.encode(), headers=extra)


async def test_missing_and_wrong_keys_are_refused_as_stripe_does(stripe_sandbox) -> None:
    sb = stripe_sandbox
    response = await sb.client.get("/v1/payment_intents", headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("You did not provide an API key.")
    assert response.json()["error"]["type"] == "invalid_request_error"
    wrong = "sk_test_WRONGwrongWRONG9876"
    response = await sb.client.get(
        "/v1/payment_intents", headers={"Authorization": f"Bearer {wrong}"}
    )
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "message": "Invalid API Key provided: sk_test_***************9876",
            "type": "invalid_request_error",
        }
    }
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Stripe"'
    basic = base64.b64encode(f"{KEY}:".encode()).decode()
    ok = await sb.client.get("/v1/payment_intents", headers={"Authorization": f"Basic {basic}"})
    assert ok.status_code == 200 and ok.json()["object"] == "list"
    assert ok.headers["Request-Id"].startswith("req_")


async def test_sdk_style_card_payment_with_expand(stripe_sandbox) -> None:
    sb = stripe_sandbox
    response = await post(
        sb,
        "/v1/payment_intents",
        f"{CARD}&payment_method=pm_card_visa&expand[0]=latest_charge&metadata[loan]=L-1",
        "idem-1",
    )
    assert response.status_code == 200
    pi = response.json()
    assert pi["id"].startswith("pi_") and pi["object"] == "payment_intent"
    assert pi["status"] == "succeeded" and pi["amount_received"] == 15000
    assert pi["metadata"] == {"loan": "L-1"}
    charge = pi["latest_charge"]
    assert charge["object"] == "charge" and charge["id"].startswith("ch_")
    assert charge["payment_method_details"]["card"]["last4"] == "4242"
    assert charge["balance_transaction"].startswith("txn_")
    assert pi["client_secret"].startswith(pi["id"] + "_secret_")


async def test_curl_style_empty_brackets_parse_too(stripe_sandbox) -> None:
    body = (
        "amount=2000&currency=mxn&payment_method_types[]=card&confirm=true"
        "&payment_method_data[type]=card&payment_method_data[card][token]=tok_visa"
    )
    response = await post(stripe_sandbox, "/v1/payment_intents", body)
    assert response.json()["status"] == "succeeded"
    assert response.json()["payment_method_types"] == ["card"]


async def test_idempotency_replays_and_refuses_reuse(stripe_sandbox) -> None:
    sb = stripe_sandbox
    first = await post(sb, "/v1/payment_intents", f"{CARD}&payment_method=pm_card_visa", "k1")
    again = await post(sb, "/v1/payment_intents", f"{CARD}&payment_method=pm_card_visa", "k1")
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert sb.simulator.store.count("payment_intents") == 1
    other = await post(sb, "/v1/payment_intents", f"{CARD}&payment_method=pm_card_mastercard", "k1")
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    assert "same parameters" in other.json()["error"]["message"]
    elsewhere = await post(sb, "/v1/customers", "name=Ana", "k1")
    assert elsewhere.status_code == 400 and "same endpoint" in elsewhere.json()["error"]["message"]


async def test_validation_errors_are_not_saved_under_the_key(stripe_sandbox) -> None:
    sb = stripe_sandbox
    bad = await post(sb, "/v1/payment_intents", "currency=mxn", "k2")
    assert bad.status_code == 400
    assert bad.json()["error"] == {
        "message": "Missing required param: amount.",
        "type": "invalid_request_error",
        "code": "parameter_missing",
        "doc_url": "https://stripe.com/docs/error-codes/parameter-missing",
        "param": "amount",
    }
    fixed = await post(sb, "/v1/payment_intents", f"{CARD}&payment_method=pm_card_visa", "k2")
    assert fixed.status_code == 200


async def test_declines_answer_402_with_the_failed_intent(stripe_sandbox) -> None:
    sb = stripe_sandbox
    body = f"{CARD}&payment_method_data[type]=card&payment_method_data[card][token]="
    cases = [
        ("tok_chargeDeclined", "card_declined", "generic_decline", "Your card was declined."),
        (
            "tok_chargeDeclinedInsufficientFunds",
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
        ),
        ("tok_chargeDeclinedExpiredCard", "expired_card", "expired_card", "Your card has expired."),
    ]
    for token, code, decline_code, message in cases:
        response = await post(sb, "/v1/payment_intents", body + token, f"key-{token}")
        error = response.json()["error"]
        assert response.status_code == 402
        assert (error["type"], error["code"], error["decline_code"], error["message"]) == (
            "card_error",
            code,
            decline_code,
            message,
        )
        assert error["payment_intent"]["status"] == "requires_payment_method"
        assert error["payment_intent"]["last_payment_error"]["decline_code"] == decline_code
        assert error["charge"].startswith("ch_")
        replay = await post(sb, "/v1/payment_intents", body + token, f"key-{token}")
        assert replay.status_code == 402 and replay.json() == response.json()
    assert sb.inbox.types().count("payment_intent.payment_failed") == 3


async def test_amount_rules_and_missing_objects(stripe_sandbox) -> None:
    sb = stripe_sandbox
    small = await post(sb, "/v1/payment_intents", "amount=999&currency=mxn")
    assert small.json()["error"]["code"] == "amount_too_small"
    assert small.json()["error"]["param"] == "amount"
    missing = await sb.client.get("/v1/payment_intents/pi_nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "No such payment_intent: 'pi_nope'"
    assert missing.json()["error"]["code"] == "resource_missing"
    bad_token = await post(sb, "/v1/payment_methods", "type=card&card[token]=tok_bogus")
    assert bad_token.json()["error"]["param"] == "card[token]"


async def test_lists_page_and_filter_like_stripe(stripe_sandbox) -> None:
    sb = stripe_sandbox
    ids = []
    for _ in range(5):
        sb.clock.now += 10
        response = await post(sb, "/v1/payment_intents", f"{CARD}&payment_method=pm_card_visa")
        ids.append(response.json()["id"])
    page = (await sb.client.get("/v1/payment_intents", params={"limit": 2})).json()
    assert [p["id"] for p in page["data"]] == ids[::-1][:2]
    assert page["has_more"] is True and page["url"] == "/v1/payment_intents"
    rest = await sb.client.get(
        "/v1/payment_intents", params={"limit": 10, "starting_after": page["data"][-1]["id"]}
    )
    assert [p["id"] for p in rest.json()["data"]] == ids[::-1][2:]
    assert rest.json()["has_more"] is False
    since = int(sb.clock.now) - 15
    recent = await sb.client.get("/v1/payment_intents", params={"created[gte]": since})
    assert [p["id"] for p in recent.json()["data"]] == ids[::-1][:2]
    lines = await sb.client.get("/v1/balance_transactions", params={"type": "charge"})
    assert len(lines.json()["data"]) == 5


async def test_oxxo_voucher_pays_or_lapses_at_midnight_mexico_city(stripe_sandbox) -> None:
    sb = stripe_sandbox
    body = (
        "amount=50000&currency=mxn&payment_method_types[0]=oxxo&confirm=true"
        "&payment_method_data[type]=oxxo&payment_method_data[billing_details][name]=Ana"
        "&payment_method_data[billing_details][email]=ana%40example.mx"
        "&payment_method_options[oxxo][expires_after_days]=1"
    )
    pi = (await post(sb, "/v1/payment_intents", body)).json()
    details = pi["next_action"]["oxxo_display_details"]
    assert pi["status"] == "requires_action"
    assert len(details["number"]) == 32
    local = datetime.fromtimestamp(details["expires_after"], UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("America/Mexico_City")
    )
    assert (local.hour, local.minute, local.second) == (23, 59, 59)
    page = await sb.client.get(details["hosted_voucher_url"].removeprefix("http://stripe.test"))
    assert details["number"] in page.text and "<form" in page.text and "<script" not in page.text
    sb.clock.now = details["expires_after"] + 1
    lapsed = (await sb.client.get(f"/v1/payment_intents/{pi['id']}")).json()
    assert lapsed["status"] == "requires_payment_method"
    assert lapsed["last_payment_error"]["code"] == "payment_intent_payment_attempt_expired"
    assert "payment_intent.payment_failed" in sb.inbox.types()


async def test_missing_oxxo_billing_email_is_refused(stripe_sandbox) -> None:
    body = (
        "amount=50000&currency=mxn&payment_method_types[0]=oxxo&confirm=true"
        "&payment_method_data[type]=oxxo&payment_method_data[billing_details][name]=Ana"
    )
    response = await post(stripe_sandbox, "/v1/payment_intents", body)
    assert response.json()["error"]["param"] == "payment_method_data[billing_details][email]"


async def spei_intent(sb: StripeSandbox, amount: int) -> tuple[str, dict]:
    customer = (await post(sb, "/v1/customers", "name=Ana&email=ana%40example.mx")).json()
    body = (
        f"amount={amount}&currency=mxn&customer={customer['id']}"
        "&payment_method_types[0]=customer_balance&payment_method_data[type]=customer_balance"
        "&payment_method_options[customer_balance][funding_type]=bank_transfer"
        "&payment_method_options[customer_balance][bank_transfer][type]=mx_bank_transfer"
        "&confirm=true"
    )
    return customer["id"], (await post(sb, "/v1/payment_intents", body)).json()


async def test_spei_partial_then_full_funding_and_overpayment(stripe_sandbox) -> None:
    sb = stripe_sandbox
    customer, pi = await spei_intent(sb, 100000)
    instructions = pi["next_action"]["display_bank_transfer_instructions"]
    address = instructions["financial_addresses"][0]
    assert address["type"] == "spei" and address["supported_networks"] == ["spei"]
    clabe = address["spei"]["clabe"]
    assert len(clabe) == 18 and clabe.startswith("646")
    fund = f"/v1/test_helpers/customers/{customer}/fund_cash_balance"
    first = await post(sb, fund, f"amount=40000&currency=mxn&reference={instructions['reference']}")
    assert first.json()["object"] == "customer_cash_balance_transaction"
    assert first.json()["type"] == "funded"
    partial = (await sb.client.get(f"/v1/payment_intents/{pi['id']}")).json()
    remaining = partial["next_action"]["display_bank_transfer_instructions"]["amount_remaining"]
    assert (partial["status"], remaining) == ("requires_action", 60000)
    assert "payment_intent.partially_funded" in sb.inbox.types()
    await post(sb, fund, "amount=70000&currency=mxn")
    paid = (await sb.client.get(f"/v1/payment_intents/{pi['id']}")).json()
    assert paid["status"] == "succeeded" and paid["amount_received"] == 100000
    balance = (await sb.client.get(f"/v1/customers/{customer}/cash_balance")).json()
    assert balance["available"] == {"mxn": 10000}
    _, next_pi = await spei_intent(sb, 5000)
    assert next_pi["status"] == "requires_action"


async def test_refund_rules(stripe_sandbox) -> None:
    sb = stripe_sandbox
    pi = (await post(sb, "/v1/payment_intents", f"{CARD}&payment_method=pm_card_visa")).json()
    too_much = await post(sb, "/v1/refunds", f"payment_intent={pi['id']}&amount=15001")
    assert too_much.status_code == 400
    assert "greater than unrefunded amount" in too_much.json()["error"]["message"]
    refund = (await post(sb, "/v1/refunds", f"payment_intent={pi['id']}&reason=duplicate")).json()
    assert (refund["object"], refund["amount"], refund["status"]) == ("refund", 15000, "succeeded")
    again = await post(sb, "/v1/refunds", f"payment_intent={pi['id']}")
    assert again.json()["error"]["code"] == "charge_already_refunded"
    bad_reason = await post(sb, "/v1/refunds", f"payment_intent={pi['id']}&reason=whim")
    assert bad_reason.json()["error"]["param"] == "reason"
    charge = (await sb.client.get(f"/v1/charges/{pi['latest_charge']}")).json()
    assert charge["refunded"] is True and charge["amount_refunded"] == 15000


async def test_disputes_and_payouts_from_the_admin_side(stripe_sandbox) -> None:
    sb = stripe_sandbox
    pi = (await post(sb, "/v1/payment_intents", f"{CARD}&payment_method=pm_card_visa")).json()
    body = "amount=50000&currency=mxn&payment_method_types[0]=card&confirm=true"
    await post(sb, "/v1/payment_intents", f"{body}&payment_method=pm_card_visa")
    dispute = (await sb.client.post(f"/_payments/{pi['id']}/dispute")).json()
    assert dispute["object"] == "dispute" and dispute["status"] == "needs_response"
    assert "charge.dispute.created" in sb.inbox.types()
    payout = (await sb.client.post("/_payouts")).json()
    assert payout["status"] == "paid" and payout["object"] == "payout"
    lines = await sb.client.get("/v1/balance_transactions", params={"payout": payout["id"]})
    assert sorted(line["type"] for line in lines.json()["data"]) == [
        "adjustment",
        "charge",
        "charge",
    ]
    assert payout["amount"] == sum(line["net"] for line in lines.json()["data"])
    assert (await sb.client.post("/_payouts")).status_code == 400  # nothing left to pay out


async def test_webhooks_are_signed_like_stripe_and_retried(stripe_sandbox) -> None:
    sb = stripe_sandbox
    sb.inbox.statuses = [500, 503]
    await post(sb, "/v1/customers", "name=Ana")
    deliveries = sb.simulator.webhooks.deliveries
    assert [d.status_code for d in deliveries] == [500, 503, 200]
    assert sb.sleeps == [1.0, 5.0]  # retry schedule between attempts
    request = sb.inbox.received[-1]
    assert request.headers["User-Agent"].startswith("Stripe/1.0")
    now = datetime.fromtimestamp(sb.clock.now, UTC)
    event = verify_stripe_signature(request.content, request.headers, WHSEC, now=now)
    assert event.type == "customer.created" and event.event_id.startswith("evt_")
    payload = json.loads(request.content)
    assert payload["object"] == "event" and payload["api_version"] == "2024-06-20"
    assert payload["request"]["id"].startswith("req_")
    log = (await sb.client.get("/_webhooks")).json()
    assert len(log["deliveries"]) == 3


async def test_undeliverable_webhooks_are_given_up(stripe_sandbox) -> None:
    sb = stripe_sandbox
    sb.inbox.statuses = [500] * 10
    await post(sb, "/v1/customers", "name=Ana")
    assert len(sb.simulator.webhooks.deliveries) == 4 and not sb.simulator.webhooks.pending


async def test_fault_admin_endpoint(stripe_sandbox) -> None:
    sb = stripe_sandbox
    response = await sb.client.post("/_faults", json={"fail_next": 1, "retry_after": 2})
    assert response.json()["fail_next"] == 1
    failed = await sb.client.get("/v1/payment_intents")
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
    assert failed.json() == {"error": {"message": "An unknown error occurred", "type": "api_error"}}
    assert (await sb.client.get("/v1/payment_intents")).status_code == 200
    assert (await sb.client.post("/_faults", json={"nonsense": 1})).status_code == 400
    assert (await sb.client.post("/_faults", json={"fail_next": -1})).status_code == 400
    await sb.client.post("/_faults", json={"error_rate": 1.0, "error_status": 429, "latency": 0.2})
    assert (await sb.client.get("/_references")).status_code == 200  # admin paths never fault
    limited = await sb.client.get("/v1/payment_intents")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limit"
    assert 0.2 in sb.sleeps
    reset = await sb.client.delete("/_faults")
    assert reset.json()["error_rate"] == 0.0 and reset.json()["injected"] == 2


async def test_live_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="live"):
        create_stripe_sandbox({"secret_key": "sk_live_abc"}, None)


async def test_only_issued_oxxo_vouchers_are_watched_for_lapsing(stripe_sandbox) -> None:
    """Lapsing runs before every request: it looks at issued vouchers, not at every
    PaymentIntent ever made (the collections bench's 10,000 card charges made each request
    scan them all)."""
    sb = stripe_sandbox
    state = sb.simulator.state
    for _ in range(3):
        await post(sb, "/v1/payment_intents", f"{CARD}&payment_method=pm_card_visa")
    body = (
        "amount=50000&currency=mxn&payment_method_types[0]=oxxo&confirm=true"
        "&payment_method_data[type]=oxxo&payment_method_data[billing_details][name]=Ana"
        "&payment_method_data[billing_details][email]=ana%40example.mx"
    )
    voucher = (await post(sb, "/v1/payment_intents", body)).json()
    assert list(state.vouchers) == [voucher["id"]]
    sb.clock.now = voucher["next_action"]["oxxo_display_details"]["expires_after"] + 1
    lapsed = (await sb.client.get(f"/v1/payment_intents/{voucher['id']}")).json()
    assert lapsed["status"] == "requires_payment_method"
    assert state.vouchers == {}  # a lapsed voucher is no longer watched
