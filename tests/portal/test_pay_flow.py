"""Paying a loan from the portal: card (hosted form → token), SPEI, OXXO, PayPal, refusals."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.support.portal_pay import (
    confirm_page_after_card_form,
    hidden_fields,
    login,
    pay_world,
    sandbox_runtime,
    start_payment,
)

from puente.enums import PaymentMethodType
from puente.enums import PaymentStatus as S
from puente.loans.state import load_loan_views
from puente.money import format_mxn
from puente.payments.models import Payment

pytestmark = pytest.mark.anyio


@pytest.fixture
def runtime(database_url, clock):
    return sandbox_runtime(database_url, clock)


async def balance_and_next(world):
    (view,) = await load_loan_views([world.loan], world.runtime.today())
    return view.balance.total, view.next_installment.outstanding


async def first_installment_paid(world) -> bool:
    (view,) = await load_loan_views([world.loan], world.runtime.today())
    return view.installments[0].status.value == "PAID"


async def test_card_payment_from_the_portal_goes_token_to_paid_and_lowers_the_balance(db, runtime):
    world = await pay_world(runtime)
    before, next_amount = await balance_and_next(world)
    async with world.client, world.sandbox:
        await login(world.client)
        form = await world.client.get(f"/prestamos/{world.loan.id}/pagar")
        assert f'data-testid="next-amount">{format_mxn(next_amount)}<' in form.text
        started = await start_payment(world, opcion="card:stripe")
        assert started.status_code == 303
        confirm = await confirm_page_after_card_form(
            world, started.headers["location"], "4242 4242 4242 4242"
        )
        assert confirm.status_code == 200
        assert "4242424242424242" not in confirm.text  # only a token comes back to Puente
        assert hidden_fields(confirm.text)["token"].startswith("tok_")
        assert "Visa •••• 4242" in confirm.text and format_mxn(next_amount) in confirm.text
        result = await world.client.post(
            f"/prestamos/{world.loan.id}/pagar/tarjeta",
            data=hidden_fields(confirm.text),
            headers={"HX-Request": "true"},
        )
    assert result.status_code == 200
    payment = await Payment.get(loan_id=world.loan.id)
    assert payment.status == S.PAID and payment.method == PaymentMethodType.CARD
    assert payment.provider_reference.startswith("pi_")
    after, _ = await balance_and_next(world)
    # The payment bills the installment's interest, then settles it: principal goes down.
    assert after < before and await first_installment_paid(world)
    html = result.text
    assert 'data-status="paid">Pagado<' in html
    assert f'data-testid="live-balance">{format_mxn(after)}<' in html
    assert 'id="saldo" hx-swap-oob="delete"' in html  # the stale balance goes away
    assert (
        f'sse-connect="/prestamos/{world.loan.id}/eventos?pago={payment.id}&amp;visto=paid"' in html
    )


async def test_a_card_with_insufficient_funds_fails_with_a_spanish_reason(db, runtime):
    world = await pay_world(runtime)
    async with world.client, world.sandbox:
        await login(world.client)
        started = await start_payment(world, opcion="card:stripe")
        confirm = await confirm_page_after_card_form(
            world, started.headers["location"], "4000000000009995"
        )
        done = await world.client.post(
            f"/prestamos/{world.loan.id}/pagar/tarjeta", data=hidden_fields(confirm.text)
        )
        assert done.status_code == 303
        page = await world.client.get(done.headers["location"])
    assert "Rechazado" in page.text
    assert "La tarjeta no tiene fondos suficientes." in page.text
    assert "insufficient" not in page.text.lower()
    assert (await Payment.get(loan_id=world.loan.id)).status == S.FAILED


async def test_spei_shows_clabe_reference_amount_and_validity_to_copy(db, runtime):
    world = await pay_world(runtime)
    _, next_amount = await balance_and_next(world)
    async with world.client, world.sandbox:
        await login(world.client)
        started = await start_payment(world, opcion="spei:stripe")
        assert started.status_code == 303
        page = await world.client.get(started.headers["location"])
    payment = await Payment.get(loan_id=world.loan.id)
    action = payment.next_action
    assert payment.status == S.REQUIRES_ACTION and action["type"] == "SPEI_TRANSFER"
    html = page.text
    assert re.search(r'value="(\d{18})" aria-label="CLABE"', html).group(1) == action["clabe"]
    assert f'value="{action["reference"]}" aria-label="Referencia"' in html
    assert f'value="{next_amount:f}" aria-label="Monto"' in html  # what a bank app accepts
    assert 'data-testid="spei-expiry"' in html
    assert html.count('data-copy="#') == 3 and "/static/js/portal.js" in html
    assert 'data-status="requires_action">Pendiente<' in html
    assert "<script>" not in html and "style=" not in html  # the CSP allows neither inline


def decode_code128(svg: str) -> str:
    """Read the bars back (widths → symbols → text) and check the checksum."""
    from puente.portal.barcode import PATTERNS

    bars = [(int(x), int(w)) for x, w in re.findall(r"M(\d+) 0h(\d+)v", svg)]
    widths: list[int] = []
    for (x, w), following in zip(bars, [*bars[1:], None], strict=True):
        widths.append(w)
        if following is not None:
            widths.append(following[0] - x - w)
    symbols = []
    while widths:
        size = 7 if len(widths) == 7 else 6
        symbols.append(PATTERNS.index("".join(map(str, widths[:size]))))
        widths = widths[size:]
    start, *data, checksum, stop = symbols
    assert stop == 106
    assert checksum == (start + sum(i * v for i, v in enumerate(data, start=1))) % 103
    text, code_set = "", "C" if start == 105 else "B"
    for value in data:
        if value == 100:
            code_set = "B"
        elif code_set == "C":
            text += f"{value:02d}"
        else:
            text += chr(value + 32)
    return text


async def test_oxxo_voucher_is_printable_with_a_code128_barcode_of_the_reference(db, runtime):
    world = await pay_world(runtime)
    async with world.client, world.sandbox:
        await login(world.client)
        started = await start_payment(world, opcion="cash:conekta")
        page = await world.client.get(started.headers["location"])
    payment = await Payment.get(loan_id=world.loan.id)
    reference = payment.next_action["reference"]
    assert payment.method == PaymentMethodType.CASH and payment.provider == "conekta"
    html = page.text
    assert f'data-testid="oxxo-reference">{reference}<' in html
    svg = re.search(r"<svg [^>]*class=\"barcode\".*?</svg>", html, re.S).group(0)
    assert f'data-code="{reference}"' in svg
    assert decode_code128(svg) == reference
    assert "data-print" in html and "/static/css/payments.css" in html


async def test_paypal_goes_to_the_approval_link_and_is_captured_on_return(db, runtime):
    world = await pay_world(runtime)
    async with world.client, world.sandbox:
        await login(world.client)
        started = await start_payment(world, opcion="paypal:paypal")
        approval = urlsplit(started.headers["location"])
        assert approval.path == "/paypal/_hosted/checkoutnow"
        order = parse_qs(approval.query)["token"][0]
        payment = await Payment.get(loan_id=world.loan.id)
        assert payment.status == S.REQUIRES_ACTION and payment.next_action["type"] == "REDIRECT"
        approved = await world.sandbox.post(
            f"/paypal/_orders/{order}/approve", json={"funding": "paypal"}
        )
        assert approved.status_code == 200, approved.text
        back = await world.client.get(f"/pagos/{payment.id}/paypal?token={order}&PayerID=X")
        again = await world.client.get(f"/pagos/{payment.id}/paypal?token={order}&PayerID=X")
    assert back.status_code == again.status_code == 303
    assert back.headers["location"] == f"/pagos/{payment.id}"
    assert (await Payment.get(id=payment.id)).status == S.PAID


async def test_posts_without_the_csrf_token_are_refused_and_start_nothing(db, runtime):
    world = await pay_world(runtime)
    async with world.client, world.sandbox:
        await login(world.client)
        page = await world.client.get(f"/prestamos/{world.loan.id}/pagar")
        fields = {**hidden_fields(page.text), "monto_tipo": "proximo", "opcion": "spei:stripe"}
        missing = {k: v for k, v in fields.items() if k != "csrf_token"}
        no_token = await world.client.post(f"/prestamos/{world.loan.id}/pagar", data=missing)
        wrong = await world.client.post(
            f"/prestamos/{world.loan.id}/pagar", data={**fields, "csrf_token": "x" * 43}
        )
        card = await world.client.post(
            f"/prestamos/{world.loan.id}/pagar/tarjeta",
            data={"token": "tok_visa", "monto": "100.00", "proveedor": "stripe"},
        )
    assert no_token.status_code == wrong.status_code == card.status_code == 403
    assert "El formulario expiró" in no_token.text
    assert await Payment.all().count() == 0


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ({"monto_tipo": "otro", "monto": "0"}, "El monto debe ser mayor que cero."),
        (
            {"monto_tipo": "otro", "monto": "500000.00"},
            "El monto excede lo que liquida tu crédito hoy",
        ),
        ({"monto_tipo": "otro", "monto": "doce pesos"}, "Escribe un monto válido"),
        ({"monto_tipo": "otro", "monto": "10.001"}, "Escribe un monto válido"),
        ({"monto_tipo": "varios", "pagos": "99"}, "Elige cuántos pagos"),
        ({"opcion": "bitcoin:stripe"}, "Elige cómo quieres pagar."),
    ],
)
async def test_refusals_are_spanish_messages_with_the_form_kept_never_a_500(
    db, runtime, choice, message
):
    world = await pay_world(runtime, allows_overpayment=False)
    async with world.client, world.sandbox:
        await login(world.client)
        for option in ("spei:stripe", "card:stripe"):
            response = await start_payment(world, **{"opcion": option, **choice})
            assert response.status_code == 400, response.text
            assert message in response.text
            assert 'data-testid="pay-error"' in response.text and 'name="opcion"' in response.text
    assert await Payment.all().count() == 0


async def test_another_persons_loan_or_an_absurd_id_is_not_found(db, runtime):
    world = await pay_world(runtime)
    from tests.support import factories

    await factories.user(runtime, await world.ana.institution, email="beto@example.mx")
    async with world.client, world.sandbox:
        await login(world.client, "beto@example.mx")
        other = await world.client.get(f"/prestamos/{world.loan.id}/pagar")
        huge = await world.client.get("/prestamos/99999999999999/pagar")
        receipt = await world.client.get("/pagos/99999999999999/comprobante")
        paypal = await world.client.get("/pagos/99999999999999/paypal?token=x")
        cancel = await world.client.get("/pagos/99999999999999/paypal?cancelado=1")
    assert other.status_code == huge.status_code == receipt.status_code == 404
    assert paypal.status_code == cancel.status_code == 404


async def test_unicode_digits_in_query_strings_are_ignored_not_a_500(db, runtime):
    """ "²" passes ``str.isdigit`` but not ``int``: every number read from a URL is ASCII."""
    world = await pay_world(runtime)
    async with world.client, world.sandbox:
        await login(world.client)
        history = await world.client.get("/pagos?pagina=%C2%B2&prestamo=%C2%B2")
        simulator = await world.client.get("/simulador/resultado?plazo=%C2%B2")
    assert history.status_code == 200 and 'data-testid="history"' in history.text
    assert simulator.status_code == 200 and 'data-field="plazo"' in simulator.text


async def test_several_installments_pay_their_sum(db, runtime):
    world = await pay_world(runtime)
    (view,) = await load_loan_views([world.loan], world.runtime.today())
    two = view.installments[0].outstanding + view.installments[1].outstanding
    async with world.client, world.sandbox:
        await login(world.client)
        started = await start_payment(world, opcion="spei:stripe", monto_tipo="varios", pagos="2")
    assert started.status_code == 303
    payment = await Payment.get(loan_id=world.loan.id)
    assert Decimal(payment.amount_centavos) / 100 == two


async def test_coming_back_from_paypal_without_approving_cancels_the_attempt(db, runtime):
    world = await pay_world(runtime)
    async with world.client, world.sandbox:
        await login(world.client)
        await start_payment(world, opcion="paypal:paypal")
        payment = await Payment.get(loan_id=world.loan.id)
        back = await world.client.get(f"/pagos/{payment.id}/paypal?cancelado=1")
        wrong = await world.client.get(f"/pagos/{payment.id}/paypal?token=NOT-OURS")
        page = await world.client.get(f"/pagos/{payment.id}")
    assert back.status_code == 303 and wrong.status_code == 400
    assert (await Payment.get(id=payment.id)).status == S.CANCELED
    assert 'data-status="canceled">Cancelado<' in page.text


async def test_the_form_offers_the_payoff_today_and_no_bundle_above_it(db, runtime):
    from puente.loans.payable import payable_amount

    world = await pay_world(runtime)
    payoff = (await payable_amount(world.loan, world.runtime.today())).maximum
    async with world.client, world.sandbox:
        await login(world.client)
        form = await world.client.get(f"/prestamos/{world.loan.id}/pagar")
        assert f'data-testid="payoff-amount">{format_mxn(payoff)}<' in form.text
        offered = [
            Decimal(a.replace(",", "")) for a in re.findall(r"pagos · \$([\d,]+\.\d\d)", form.text)
        ]
        assert offered and all(amount <= payoff for amount in offered)
        started = await start_payment(world, opcion="spei:stripe", monto_tipo="liquidar")
    assert started.status_code == 303
    payment = await Payment.get(loan_id=world.loan.id)
    assert Decimal(payment.amount_centavos) / 100 == payoff


async def test_the_payer_picks_what_extra_money_does_and_the_receipt_shows_the_new_schedule(
    db, runtime
):
    from puente.loans.models import Installment
    from puente.payments.lifecycle_service import advance_payment

    world = await pay_world(runtime)
    async with world.client, world.sandbox:
        await login(world.client)
        form = await world.client.get(f"/prestamos/{world.loan.id}/pagar")
        assert 'name="modo_anticipo" value="REDUCE_TERM"' in form.text
        assert "Reducir el plazo" in form.text
        started = await start_payment(
            world,
            opcion="spei:stripe",
            monto_tipo="otro",
            monto="4240.35",
            modo_anticipo="REDUCE_TERM",
        )
        assert started.status_code == 303, re.findall(r"alert[^<]*<", started.text)
        payment = await Payment.get(loan_id=world.loan.id)
        assert payment.prepayment_mode == "REDUCE_TERM" and payment.prepayment_mode_chosen
        await advance_payment(payment.id, S.PAID, source="test", at=world.runtime.now())
        receipt = await world.client.get(f"/pagos/{payment.id}/comprobante")
    assert receipt.status_code == 200
    assert 'data-testid="receipt-prepayment-mode">Reducir el plazo (elegido por ti)' in receipt.text
    rows = await Installment.filter(loan_id=world.loan.id, superseded_on__isnull=True, version=2)
    assert rows and 'data-testid="new-schedule"' in receipt.text
    for row in rows:
        assert f'data-testid="new-row-{row.number}"' in receipt.text


async def test_a_bad_prepayment_choice_is_refused_and_starts_nothing(db, runtime):
    world = await pay_world(runtime)
    async with world.client, world.sandbox:
        await login(world.client)
        response = await start_payment(world, opcion="spei:stripe", modo_anticipo="LATER")
    assert response.status_code == 400 and "Elige qué hacer con el dinero extra" in response.text
    assert await Payment.all().count() == 0
