"""Portal: "guardar tarjeta" at checkout, sign and revoke a domiciliación, see its attempts."""

from __future__ import annotations

import re

import pytest
from tests.support.portal_pay import (
    confirm_page_after_card_form,
    hidden_fields,
    login,
    pay_world,
    sandbox_runtime,
    start_payment,
)

from puente.audit.models import AuditEvent
from puente.collections.jobs import run_collections_once
from puente.collections.models import ChargeAttempt, Mandate, MandateStatus
from puente.enums import PaymentStatus as S
from puente.payments.models import Payment, PaymentMethod

pytestmark = pytest.mark.anyio


@pytest.fixture
def runtime(database_url, clock):
    return sandbox_runtime(database_url, clock)


async def test_checkout_saves_the_card_and_pays_with_it(db, runtime):
    world = await pay_world(runtime, providers=("stripe",))
    async with world.client, world.sandbox:
        await login(world.client)
        started = await start_payment(world, opcion="card:stripe")
        confirm = await confirm_page_after_card_form(
            world, started.headers["location"], "4242 4242 4242 4242"
        )
        assert 'name="guardar"' in confirm.text
        data = {**hidden_fields(confirm.text), "guardar": "1"}
        result = await world.client.post(f"/prestamos/{world.loan.id}/pagar/tarjeta", data=data)
        assert result.status_code == 303
    card = await PaymentMethod.get(user_id=world.ana.id)
    assert (card.card_brand, card.card_last4, card.is_default) == ("visa", "4242", True)
    assert card.provider_token.startswith("pm_")
    payment = await Payment.get(loan_id=world.loan.id)
    assert payment.status == S.PAID and payment.payment_method_id == card.id


async def test_sign_see_charges_and_revoke_from_the_loan_page(db, runtime):
    world = await pay_world(runtime, providers=("stripe",))
    async with world.client, world.sandbox:
        await login(world.client)
        page = await world.client.get(f"/prestamos/{world.loan.id}/domiciliacion")
        assert page.status_code == 200 and "No tienes tarjetas guardadas" in page.text
        # Save a card without paying: the provider's form, back to Puente, confirm.
        new = await world.client.get(f"/tarjetas/nueva?proveedor=stripe&prestamo={world.loan.id}")
        assert new.status_code == 303
        location = new.headers["location"]
        back = await confirm_page_after_card_form(world, location, "4242424242424242")
        assert back.status_code == 200 and "Guardar tarjeta" in back.text
        saved = await world.client.post("/tarjetas", data=hidden_fields(back.text))
        assert saved.headers["location"] == f"/prestamos/{world.loan.id}/domiciliacion"
        card = await PaymentMethod.get(user_id=world.ana.id)

        page = await world.client.get(f"/prestamos/{world.loan.id}/domiciliacion")
        assert "Visa •••• 4242" in page.text and 'data-testid="mandate-text"' in page.text
        fields = {**hidden_fields(page.text), "tarjeta": str(card.id)}
        fields["accion"] = "firmar"
        refused = await world.client.post(f"/prestamos/{world.loan.id}/domiciliacion", data=fields)
        assert refused.status_code == 400 and "Marca la casilla" in refused.text
        assert not await Mandate.exists()
        fields["acepto"] = "1"
        signed = await world.client.post(f"/prestamos/{world.loan.id}/domiciliacion", data=fields)
        assert signed.status_code == 303
        mandate = await Mandate.get(loan_id=world.loan.id)
        assert mandate.signed_origin.startswith("portal ")
        event = await AuditEvent.get(action="mandate.signed")
        assert event.data["text_version"] == mandate.text_version

        first_due = (await world.loan.installments.all().order_by("number").first()).due_date
        report = await run_collections_once(
            runtime, world.box.gateways, first_due, clock=runtime.now
        )
        assert report.paid == 1
        loan_page = await world.client.get(f"/prestamos/{world.loan.id}")
        table = re.search(r'data-testid="charge-attempts".*?</table>', loan_page.text, re.S)
        assert table and "Cobrado" in table.group(0)

        page = await world.client.get(f"/prestamos/{world.loan.id}/domiciliacion")
        revoke = {"csrf_token": hidden_fields(page.text)["csrf_token"], "accion": "cancelar"}
        await world.client.post(f"/prestamos/{world.loan.id}/domiciliacion", data=revoke)
        assert (await Mandate.get(id=mandate.id)).status is MandateStatus.REVOKED
        gone = await world.client.post(
            f"/tarjetas/{card.id}/eliminar",
            data={"csrf_token": revoke["csrf_token"], "prestamo": str(world.loan.id)},
        )
        assert gone.status_code == 303
    assert not await PaymentMethod.filter(is_active=True).exists()
    assert await ChargeAttempt.filter(loan_id=world.loan.id).count() == 1
