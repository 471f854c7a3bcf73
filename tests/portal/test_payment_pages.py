"""Receipts, payment history and the live status stream of the portal."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
from tests.support import factories
from tests.support.portal_pay import login, pay_world, sandbox_runtime

from puente.enums import PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.loans.state import load_loan_views
from puente.money import format_mxn
from puente.payments.change_notices import loan_channel, notify_transition
from puente.payments.checkout import PaymentRequest, create_payment
from puente.payments.lifecycle_service import advance_payment
from puente.payments.models import Payment
from puente.portal.formatting import fecha_hora
from puente.runtime import MEXICO_CITY

pytestmark = pytest.mark.anyio


@pytest.fixture
def runtime(database_url, clock):
    return sandbox_runtime(database_url, clock)


def request(world, key: str, method=PaymentMethodType.CARD, amount="1240.35") -> PaymentRequest:
    return PaymentRequest(
        loan_id=world.loan.id,
        amount=amount,
        method=method,
        provider=ProviderName.STRIPE,
        idempotency_key=key,
        card_token="tok_visa" if method is PaymentMethodType.CARD else None,
    )


async def test_receipt_shows_who_what_how_when_and_the_ledger_application(db, runtime):
    world = await pay_world(runtime)
    payment = await create_payment(runtime, world.box.gateways, world.ana, request(world, "r-1"))
    assert payment.status == S.PAID
    (view,) = await load_loan_views([world.loan], runtime.today())
    first = view.installments[0]
    async with world.client, world.sandbox:
        await login(world.client)
        page = await world.client.get(f"/pagos/{payment.id}/comprobante")
    html = page.text
    assert page.status_code == 200
    assert 'data-testid="receipt-institution">Financiera<' in html
    assert 'data-testid="receipt-borrower">Ana Prueba<' in html
    assert f"Préstamo personal · núm. {world.loan.id}" in html
    assert 'data-testid="receipt-amount">$1,240.35 MXN<' in html
    assert "Tarjeta de crédito o débito · Stripe" in html
    assert payment.provider_reference in html
    assert f'data-testid="receipt-date">{fecha_hora(payment.paid_at)}<' in html
    assert 'data-testid="receipt-status">Pagado<' in html
    row = html.split('data-testid="applied-1"')[1].split("</tr>")[0]
    for amount in (first.principal, first.interest, first.vat, Decimal("1240.35")):
        assert format_mxn(amount) in row
    assert first.principal + first.interest + first.vat == Decimal("1240.35")


async def test_receipt_of_an_unpaid_payment_says_it_is_not_applied_yet(db, runtime):
    world = await pay_world(runtime)
    spei = request(world, "r-2", PaymentMethodType.SPEI)
    payment = await create_payment(runtime, world.box.gateways, world.ana, spei)
    async with world.client, world.sandbox:
        await login(world.client)
        page = await world.client.get(f"/pagos/{payment.id}/comprobante")
    assert 'data-testid="receipt-status">Pendiente<' in page.text
    assert 'data-testid="receipt-not-applied"' in page.text
    assert payment.next_action["clabe"] not in page.text  # the CLABE stays on the SPEI page


async def test_history_filters_by_status_method_and_dates_and_paginates(db, runtime):
    world = await pay_world(runtime)
    gateways, ana = world.box.gateways, world.ana
    for n in range(22):
        spei = request(world, f"h-spei-{n}", PaymentMethodType.SPEI, amount="100.00")
        await create_payment(runtime, gateways, ana, spei)
    for n in range(3):
        await create_payment(runtime, gateways, ana, request(world, f"h-card-{n}", amount="100.00"))
    # Listed by payment date: when paid, else when made (the test clock pays, time creates).
    rows = await Payment.all()
    newest = max(rows, key=lambda p: (p.paid_at or p.created_at, p.id))
    days = sorted({(p.paid_at or p.created_at).astimezone(MEXICO_CITY).date() for p in rows})
    paid_day = next(p.paid_at for p in rows if p.paid_at).astimezone(MEXICO_CITY).date()

    async def listed(query: str) -> tuple[str, int]:
        page = await world.client.get(f"/pagos?{query}")
        assert page.status_code == 200, page.text
        return page.text, page.text.count('data-testid="history-row"')

    async with world.client, world.sandbox:
        await login(world.client)
        first, rows = await listed("")
        assert rows == 20 and "Página 1 de 2" in first and "25 pagos" in first
        assert f'data-payment="{newest.id}"' in first  # newest first
        second, rows = await listed("pagina=2")
        assert rows == 5 and "Página 2 de 2" in second
        assert (await listed("estado=pagado"))[1] == 3
        assert (await listed("estado=pendiente&metodo=spei"))[1] == 20
        assert (await listed("metodo=card&estado=pendiente"))[1] == 0
        assert (await listed(f"desde={paid_day}&hasta={paid_day}&estado=pagado"))[1] == 3
        assert (await listed(f"desde={days[-1] + timedelta(days=1)}"))[1] == 0
        assert (await listed(f"hasta={days[0] - timedelta(days=1)}"))[1] == 0
        assert (await listed(f"prestamo={world.loan.id}&estado=pagado"))[1] == 3
        kept, _ = await listed("estado=pagado&metodo=spei&pagina=1")
        assert "No hay pagos con esos filtros." in kept
        junk, rows = await listed("desde=ayer&pagina=-4&estado=%3Cscript%3E&metodo=oro")
        assert rows == 20 and "Escribe las fechas como AAAA-MM-DD." in junk
        pager, _ = await listed("estado=pendiente")
        assert 'href="/pagos?estado=pendiente&amp;pagina=2"' in pager


async def test_history_shows_nobody_elses_payments(db, runtime):
    world = await pay_world(runtime)
    await create_payment(runtime, world.box.gateways, world.ana, request(world, "o-1"))
    await factories.user(runtime, await world.ana.institution, email="beto@example.mx")
    async with world.client, world.sandbox:
        await login(world.client, "beto@example.mx")
        page = await world.client.get("/pagos")
    assert 'data-testid="history-row"' not in page.text and "0 pagos" in page.text


class StreamClient:
    """A browser's EventSource, speaking raw ASGI (httpx's in-process transport buffers whole
    responses, so it cannot read a stream that never ends)."""

    def __init__(self, app, path: str, query: str, cookie: str) -> None:
        self.chunks: list[str] = []
        self.left = asyncio.Event()
        self.changed = asyncio.Event()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [
                (b"host", b"testserver"),
                (b"accept", b"text/event-stream"),
                (b"cookie", f"puente_session={cookie}".encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.start: dict = {}
        self.task = asyncio.create_task(app(scope, self._receive, self._send))

    async def _receive(self) -> dict:
        if not hasattr(self, "_sent_request"):
            self._sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message.get("body"):
            self.chunks.append(message["body"].decode())
            self.changed.set()

    async def until(self, text: str, seconds: float = 5.0) -> str:
        async def wait() -> str:
            while True:
                joined = "".join(self.chunks)
                if text in joined:
                    return joined
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(wait(), seconds)


async def test_the_event_stream_sends_the_new_status_and_balance_then_ends_when_left(db, runtime):
    world = await pay_world(runtime)
    spei = request(world, "s-1", PaymentMethodType.SPEI)
    payment = await create_payment(runtime, world.box.gateways, world.ana, spei)
    async with world.client, world.sandbox:
        await login(world.client)
        cookie = world.client.cookies["puente_session"]
    app = world.client._transport.app
    stream = StreamClient(app, f"/prestamos/{world.loan.id}/eventos", f"pago={payment.id}", cookie)
    first = await stream.until("event: saldo")
    headers = dict(stream.start["headers"])
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert "event: pago\ndata: " in first and 'data-status="requires_action">Pendiente<' in first
    assert runtime.bus._subscribers  # subscribed while the page is open

    transition = await advance_payment(
        payment.id, S.PAID, source="test", at=runtime.now(), provider_reference="x"
    )
    await notify_transition(runtime.bus, transition)
    updated = await stream.until('data-status="paid">Pagado<')
    (view,) = await load_loan_views([world.loan], runtime.today())
    assert f'data-testid="live-balance">{format_mxn(view.balance.total)}<' in updated
    assert updated.count("event: saldo") == 2

    stream.left.set()  # the person closes the tab
    await asyncio.wait_for(stream.task, 5)
    assert not runtime.bus._subscribers  # the subscription is released


async def test_the_event_stream_refuses_strangers(db, runtime):
    world = await pay_world(runtime)
    async with world.client, world.sandbox:
        response = await world.client.get(f"/prestamos/{world.loan.id}/eventos")
    assert response.status_code == 403


async def test_the_live_status_panel_is_sent_only_when_it_changes(db, runtime):
    """The panel is a live region: re-sending what the page shows would read it out again."""
    world = await pay_world(runtime)
    spei = request(world, "once-1", PaymentMethodType.SPEI)
    payment = await create_payment(runtime, world.box.gateways, world.ana, spei)
    async with world.client, world.sandbox:
        await login(world.client)
        page = (await world.client.get(f"/pagos/{payment.id}")).text
        cookie = world.client.cookies["puente_session"]
    query = re.search(r'sse-connect="/prestamos/\d+/eventos\?([^"]+)"', page).group(1)
    app = world.client._transport.app
    stream = StreamClient(app, f"/prestamos/{world.loan.id}/eventos", unescape(query), cookie)
    first = await stream.until("event: saldo")
    assert "event: pago" not in first  # the page already shows "Pendiente"
    await runtime.bus.publish(loan_channel(world.loan.id), {"loan": world.loan.id})  # no change
    for _ in range(50):
        if "".join(stream.chunks).count("event: saldo") == 2:
            break
        await asyncio.sleep(0.1)
    assert "".join(stream.chunks).count("event: saldo") == 2
    assert "event: pago" not in "".join(stream.chunks)
    transition = await advance_payment(
        payment.id, S.PAID, source="test", at=runtime.now(), provider_reference="y"
    )
    await notify_transition(runtime.bus, transition)
    updated = await stream.until('data-status="paid">Pagado<')
    assert updated.count("event: pago") == 1
    stream.left.set()
    await asyncio.wait_for(stream.task, 5)
