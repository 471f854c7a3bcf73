"""Paying from the portal in tests: a borrower, a loan, sandboxes and a signed-in client."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import parse_qs, urlsplit

import httpx
from tests.conftest import Clock, make_settings
from tests.support import factories
from tests.support.gateways import Sandboxes, sandboxes
from tests.support.http import app_client

from puente.accounts.models import User
from puente.loans.models import Loan
from puente.payments.gateways import store_credentials
from puente.runtime import Runtime
from puente.sandbox_hook import demo_credentials
from puente.security.passwords import FAST_TEST_POLICY

PASSWORD = "contrasena-segura-1"
PROVIDERS = ("stripe", "conekta", "paypal")
BASE_URL = "http://testserver"


def sandbox_runtime(database_url: str, clock: Clock) -> Runtime:
    """A runtime in sandbox mode, so the Stripe simulator's card form is offered."""
    settings = make_settings(database_url, sandbox=True, base_url=BASE_URL)
    return Runtime.from_settings(settings, password_policy=FAST_TEST_POLICY, clock=clock)


@dataclass
class PayWorld:
    runtime: Runtime
    ana: User
    loan: Loan
    box: Sandboxes
    client: httpx.AsyncClient
    sandbox: httpx.AsyncClient  # the payer's browser on the provider's pages


async def pay_world(
    runtime: Runtime,
    providers: tuple[str, ...] = PROVIDERS,
    institution_settings: dict[str, object] | None = None,
    extra_credentials: dict[str, dict[str, str]] | None = None,
    **product: object,
) -> PayWorld:
    inst = await factories.institution()
    if institution_settings is not None:
        inst.settings = institution_settings
        await inst.save(update_fields=["settings"])
    ana = await factories.user(runtime, inst)
    # Started this month: nothing is overdue, the next payment is installment 1.
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2), **product)
    credentials = {name: demo_credentials()[name] for name in providers}
    for name, values in credentials.items():
        stored = {**values, **(extra_credentials or {}).get(name, {})}
        await store_credentials(runtime, inst.id, name, stored)
    box = sandboxes(runtime, credentials)
    client = app_client(runtime, gateways=box.gateways, run_workers=False)
    box.inbox.target = client._transport  # the sandbox's webhooks reach our /webhooks
    sandbox = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=box.app), base_url="http://sandbox.test"
    )
    return PayWorld(runtime, ana, loan, box, client, sandbox)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


async def login(client: httpx.AsyncClient, email: str = "ana@example.mx") -> None:
    page = await client.get("/login")
    response = await client.post(
        "/login", data={"csrf_token": csrf_of(page.text), "email": email, "password": PASSWORD}
    )
    assert response.status_code == 303, response.text


async def start_payment(world: PayWorld, **choice: str) -> httpx.Response:
    """Submit the pay form as a person would (fields from the page, then the choice)."""
    page = await world.client.get(f"/prestamos/{world.loan.id}/pagar")
    assert page.status_code == 200, page.text
    data = {**hidden_fields(page.text), "monto_tipo": "proximo", **choice}
    return await world.client.post(f"/prestamos/{world.loan.id}/pagar", data=data)


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def confirm_page_after_card_form(
    world: PayWorld, location: str, number: str, name: str = "Ana Prueba"
) -> httpx.Response:
    """Fill the provider's card form, go back to Puente as the browser does: the confirm page."""
    parts = urlsplit(location)
    query = parse_qs(parts.query)
    # The simulator's page, under /sandbox/<provider> on Puente's host in sandbox mode.
    assert parts.path.startswith("/sandbox/"), location
    back = await world.sandbox.post(
        parts.path.removeprefix("/sandbox"),
        data={
            "return_url": query["return_url"][0],
            "number": number,
            "exp": "12/34",
            "cvc": "123",
            "name": name,
        },
    )
    assert back.status_code == 200, back.text  # a page that POSTs the token back
    action = re.search(r'<form method="post" action="([^"]+)"', back.text)
    assert action, back.text
    return await world.client.post(
        local_path(html.unescape(action.group(1))), data=hidden_fields(back.text)
    )
