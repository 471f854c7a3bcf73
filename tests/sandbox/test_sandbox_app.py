"""The combined sandbox app as ``puente demo`` mounts it, its index page and its CLI."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from puente_sandbox.app import create_sandbox_app
from puente_sandbox.cli import build_parser, main
from puente_sandbox.faults import Faults

pytestmark = pytest.mark.anyio
KEY = "sk_test_demo_app_000000000000"


def demo_app(inbox: list[httpx.Request]) -> tuple[Starlette, Starlette]:
    def receive(request: httpx.Request) -> httpx.Response:
        inbox.append(request)
        return httpx.Response(200)

    sandbox = create_sandbox_app(
        {"stripe": {"secret_key": KEY, "webhook_secret": "whsec_demo_000000000000"}},
        "http://127.0.0.1:8000/webhooks",
        transport=httpx.MockTransport(receive),
        seed=1,
    )
    return Starlette(routes=[Mount("/sandbox", app=sandbox)]), sandbox


async def test_mounted_under_sandbox_with_correct_public_urls_and_pay_page() -> None:
    inbox: list[httpx.Request] = []
    demo, sandbox = demo_app(inbox)
    transport = httpx.ASGITransport(app=demo)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        headers = {
            "Authorization": f"Bearer {KEY}",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        body = (
            "amount=30000&currency=mxn&payment_method_types[0]=oxxo&confirm=true"
            "&payment_method_data[type]=oxxo&payment_method_data[billing_details][name]=Ana"
            "&payment_method_data[billing_details][email]=ana%40example.mx"
        )
        created = await client.post(
            "/sandbox/stripe/v1/payment_intents", content=body, headers=headers
        )
        pi = created.json()
        voucher = pi["next_action"]["oxxo_display_details"]["hosted_voucher_url"]
        assert voucher == f"http://127.0.0.1:8000/sandbox/stripe/_hosted/oxxo/{pi['id']}"
        assert inbox[-1].url == "http://127.0.0.1:8000/webhooks/stripe"

        index = await client.get("/sandbox/")
        assert index.status_code == 200
        assert pi["id"] in index.text and "$300.00 MXN" in index.text
        assert "<script" not in index.text
        action = f"http://127.0.0.1:8000/sandbox/stripe/_references/{pi['id']}/pay"
        assert f'action="{action}"' in index.text

        paid = await client.post(
            f"/sandbox/stripe/_references/{pi['id']}/pay", data={"next": "/sandbox/"}
        )
        assert paid.status_code == 303 and paid.headers["location"] == "/sandbox/"
        after = await client.get(f"/sandbox/stripe/v1/payment_intents/{pi['id']}", headers=headers)
        assert after.json()["status"] == "succeeded"
        assert "No pending references." in (await client.get("/sandbox/")).text
        twice = await client.post(f"/sandbox/stripe/_references/{pi['id']}/pay")
        assert twice.status_code == 409
        second = await client.post(
            "/sandbox/stripe/v1/payment_intents", content=body, headers=headers
        )
        offsite = await client.post(
            f"/sandbox/stripe/_references/{second.json()['id']}/pay",
            data={"next": "//evil.example/"},
        )
        assert offsite.status_code == 200  # no redirect off the sandbox
    assert sandbox.state.simulators["stripe"].webhooks.deliveries
    assert "payment_intent.succeeded" in inbox[-1].content.decode()


async def test_spei_reference_paid_in_part_from_the_admin_api() -> None:
    inbox: list[httpx.Request] = []
    demo, sandbox = demo_app(inbox)
    simulator = sandbox.state.simulators["stripe"]
    transport = httpx.ASGITransport(app=demo)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        headers = {"Authorization": f"Bearer {KEY}"}
        customer = (
            await client.post("/sandbox/stripe/v1/customers", headers=headers, data={"name": "Ana"})
        ).json()
        form = {
            "amount": "20000",
            "currency": "mxn",
            "customer": customer["id"],
            "confirm": "true",
            "payment_method_types[0]": "customer_balance",
            "payment_method_data[type]": "customer_balance",
            "payment_method_options[customer_balance][funding_type]": "bank_transfer",
            "payment_method_options[customer_balance][bank_transfer][type]": "mx_bank_transfer",
        }
        pi = (
            await client.post("/sandbox/stripe/v1/payment_intents", headers=headers, data=form)
        ).json()
        refs = (await client.get("/sandbox/stripe/_references")).json()["data"]
        assert refs[0]["method"] == "spei" and refs[0]["amount"] == "200.00"
        part = await client.post(
            f"/sandbox/stripe/_references/{pi['id']}/pay", json={"amount": "50.00"}
        )
        assert part.status_code == 200
        assert simulator.pending_references()[0].amount == 150
        await client.post(f"/sandbox/stripe/_references/{pi['id']}/pay")
        assert simulator.pending_references() == []
        bad = await client.post("/sandbox/stripe/_references/pi_nope/pay")
        assert bad.status_code == 404


def test_faults_update_validates_names_and_types() -> None:
    faults = Faults()
    faults.update({"duplicate_webhooks": True, "latency": 0.5, "retry_after": None})
    assert faults.duplicate_webhooks and faults.latency == 0.5
    for bad in (
        {"duplicate_webhooks": 1},
        {"latency": "slow"},
        {"api_requests": 3},
        {"fail_next": True},
    ):
        with pytest.raises(ValueError):
            faults.update(bad)


def test_cli_parses_and_reports_an_unreachable_sandbox(capsys: pytest.CaptureFixture) -> None:
    args = build_parser().parse_args(["faults", "stripe", "fail_next=2", "latency=0.5"])
    assert args.settings == ["fail_next=2", "latency=0.5"]
    assert main(["pay", "stripe", "pi_1", "--url", "http://127.0.0.1:9/sandbox"]) == 2
    assert "could not reach the sandbox" in capsys.readouterr().err
    assert main(["faults", "stripe", "oops", "--url", "http://127.0.0.1:9/x"]) == 2
