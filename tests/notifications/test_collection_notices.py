"""What collections tells the borrower reaches them as notices: the mandate, and each
declined scheduled charge once, with its retry plan instead of the generic decline."""

from __future__ import annotations

from datetime import date

import pytest
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes

import puente.notifications  # noqa: F401 - registers the senders, as the app does
from puente.collections import cards
from puente.collections.jobs import run_collections_once
from puente.collections.mandates import revoke_mandate, sign_mandate
from puente.enums import ProviderName
from puente.notifications import drain_deliveries
from puente.notifications.models import Notification
from puente.payments.gateways import store_credentials
from puente.providers.circuit import DEFAULT_BREAKERS

pytestmark = pytest.mark.anyio
DUE = date(2026, 12, 2)


@pytest.fixture(autouse=True)
def closed_circuits():
    DEFAULT_BREAKERS.clear()
    yield
    DEFAULT_BREAKERS.clear()


async def borrower_with_mandate(runtime, token: str):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    box = sandboxes(runtime)
    card = await cards.save_card(box.gateways, ana, ProviderName.STRIPE, token)
    await sign_mandate(runtime, ana, loan.id, card.id, origin="127.0.0.1 pytest")
    return ana, loan, box


async def test_a_declined_charge_is_told_once_with_the_next_payday(db, mail_runtime):
    ana, loan, box = await borrower_with_mandate(
        mail_runtime, "tok_chargeDeclinedInsufficientFunds"
    )
    for _ in range(2):  # a second run of the same day tells nothing more
        await run_collections_once(mail_runtime, box.gateways, DUE, clock=mail_runtime.now)
    await drain_deliveries()
    told = await Notification.filter(user_id=ana.id, channel="email").order_by("id")
    assert [row.kind for row in told] == ["mandate_confirmation", "payment_declined"]
    assert "15/12/2026" in told[1].body_text  # the next quincena payday
    assert "Volveremos a intentar el cargo" in told[1].body_text


async def test_a_card_that_cannot_be_charged_asks_for_another(db, mail_runtime):
    ana, loan, box = await borrower_with_mandate(mail_runtime, "tok_chargeDeclinedExpiredCard")
    await run_collections_once(mail_runtime, box.gateways, DUE, clock=mail_runtime.now)
    await drain_deliveries()
    (declined,) = await Notification.filter(user_id=ana.id, kind="payment_declined")
    assert "guarda otra tarjeta" in declined.body_text


async def test_revoking_the_mandate_is_confirmed(db, mail_runtime):
    ana, loan, _ = await borrower_with_mandate(mail_runtime, "tok_visa")
    assert await revoke_mandate(mail_runtime, ana, loan.id, origin="pytest")
    await drain_deliveries()
    (row,) = await Notification.filter(user_id=ana.id, kind="mandate_revoked")
    assert "No haremos más cargos automáticos" in row.body_text
