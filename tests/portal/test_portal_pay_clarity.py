"""Paying stays clear: copy buttons copy what a bank app takes, history reads by payment date,
and resubmitting a card confirmation never charges (or fails) twice."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.support import factories
from tests.support.portal_pay import (
    hidden_fields,
    local_path,
    login,
    pay_world,
    sandbox_runtime,
    start_payment,
)

from puente.enums import PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.loans.state import load_loan_views
from puente.payments.models import Payment
from puente.portal.formatting import fecha_hora

pytestmark = pytest.mark.anyio


@pytest.fixture
def runtime(database_url, clock):
    return sandbox_runtime(database_url, clock)


async def test_spei_copy_buttons_copy_the_bare_amount_the_clabe_and_the_reference(db, runtime):
    world = await pay_world(runtime)
    (view,) = await load_loan_views([world.loan], runtime.today())
    async with world.client, world.sandbox:
        await login(world.client)
        started = await start_payment(world, opcion="spei:stripe")
        page = (await world.client.get(started.headers["location"])).text
    payment = await Payment.get(loan_id=world.loan.id)
    bare = f"{view.next_payment_due:f}"
    assert re.fullmatch(r"\d+\.\d{2}", bare)
    assert f'value="{bare}" aria-label="Monto"' in page  # 1240.35, never "$1,240.35 MXN"
    assert f'value="{payment.next_action["clabe"]}" aria-label="CLABE"' in page
    assert f'value="{payment.next_action["reference"]}" aria-label="Referencia"' in page
    assert 'aria-label="Copiar monto"' in page and 'aria-label="Copiar CLABE"' in page


async def test_history_is_ordered_and_dated_by_when_each_payment_was_paid(db, runtime):
    world = await pay_world(runtime)
    paid_in = {
        "agosto": datetime(2026, 8, 14, 17, 5, tzinfo=UTC),
        "octubre": datetime(2026, 10, 14, 17, 5, tzinfo=UTC),
        "septiembre": datetime(2026, 9, 14, 17, 5, tzinfo=UTC),
    }
    made = {}
    for key, paid_at in paid_in.items():
        made[key] = await factories.payment(
            world.loan, key=key, status=S.PAID, paid_at=paid_at, method=PaymentMethodType.CARD
        )
    failed = await factories.payment(
        world.loan, key="fallido", status=S.FAILED, provider=ProviderName.CONEKTA
    )
    async with world.client, world.sandbox:
        await login(world.client)
        page = (await world.client.get("/pagos")).text
    order = [int(n) for n in re.findall(r'data-testid="history-row" data-payment="(\d+)"', page)]
    # Never paid: dated by creation (today), so first; then October, September, August.
    assert order == [failed.id, made["octubre"].id, made["septiembre"].id, made["agosto"].id]
    row = page.split(f'data-payment="{made["agosto"].id}"')[1].split("</tr>")[0]
    assert fecha_hora(paid_in["agosto"]) in row
    assert "Stripe" in row and 'class="badge st-paid"' in row
    failed_row = page.split(f'data-payment="{failed.id}"')[1].split("</tr>")[0]
    assert "Conekta" in failed_row and 'class="badge st-failed"' in failed_row


async def test_resubmitting_the_card_confirmation_does_not_add_a_rejected_payment(db, runtime):
    world = await pay_world(runtime)
    async with world.client, world.sandbox:
        await login(world.client)
        started = await start_payment(world, opcion="card:stripe")
        query = parse_qs(urlsplit(started.headers["location"]).query)
        card_form = await world.sandbox.post(
            "/stripe/_checkout/card",
            data={
                "return_url": query["return_url"][0],
                "number": "4242 4242 4242 4242",
                "exp": "12/34",
                "cvc": "123",
                "name": "Ana Prueba",
            },
        )
        action = re.search(r'<form method="post" action="([^"]+)"', card_form.text)
        back = (local_path(html.unescape(action.group(1))), hidden_fields(card_form.text))
        for _ in range(2):  # pay, then reload the confirmation page (re-POST) and pay again
            confirm = await world.client.post(back[0], data=back[1])
            assert confirm.status_code == 200
            done = await world.client.post(
                f"/prestamos/{world.loan.id}/pagar/tarjeta", data=hidden_fields(confirm.text)
            )
            assert done.status_code == 303
        history = (await world.client.get("/pagos")).text
    payments = await Payment.filter(loan_id=world.loan.id)
    assert [p.status for p in payments] == [S.PAID]
    assert history.count('data-testid="history-row"') == 1
    assert ">Rechazado</span>" not in history and ">Pagado</span>" in history
