"""SPEI received on STP: each loan's own CLABE, abono confirmed and applied exactly once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest
from tests.support import factories
from tests.support.gateways import sandboxes
from tests.support.http import app_client

from puente.enums import JournalKind, PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.ledger.models import JournalEntry
from puente.loans.state import load_loan_views
from puente.payments.checkout import PaymentRequest, create_payment
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment
from puente.payments.spei_inbound import loan_clabe, loan_id_from_clabe
from puente_sandbox.stp_keys import DEFAULT_STP_CREDENTIALS

pytestmark = pytest.mark.anyio
STP = {**DEFAULT_STP_CREDENTIALS, "webhook_allowlist": "127.0.0.1/32"}


def test_each_loan_has_a_valid_clabe_that_names_it():
    cuenta = STP["cuenta"]
    clabe = loan_clabe(cuenta, 42)
    assert clabe.startswith(cuenta[:10]) and len(clabe) == 18
    assert loan_id_from_clabe(cuenta, clabe) == 42
    assert loan_id_from_clabe(cuenta, clabe[:-1] + str((int(clabe[-1]) + 1) % 10)) is None
    assert loan_id_from_clabe(cuenta, "012180001234567899") is None


async def setup(runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "stp", STP)
    box = sandboxes(runtime, {"stp": STP})
    client = app_client(runtime, gateways=box.gateways, run_workers=False)
    box.inbox.target = client._transport
    return ana, loan, box, client


async def transfer(box, clabe: str, amount: str, reference: str | None = None) -> None:
    """A person sends SPEI from their bank to ``clabe`` (the sandbox's abono form)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=box.app), base_url="http://sandbox.test"
    ) as sandbox:
        body = {"cuentaBeneficiario": clabe, "monto": amount}
        if reference:
            body["referenciaNumerica"] = reference
        created = await sandbox.post("/stp/_abonos", json=body)
        assert created.status_code < 300, created.text
        abono = created.json()
        paid = await sandbox.post(f"/stp/_references/{abono['id']}/pay")
        assert paid.status_code < 300, paid.text


async def test_announced_spei_payment_is_completed_by_the_abono(db, runtime):
    ana, loan, box, client = await setup(runtime)
    async with client:
        payment = await create_payment(
            runtime,
            box.gateways,
            ana,
            PaymentRequest(
                loan_id=loan.id,
                amount="1240.35",
                method=PaymentMethodType.SPEI,
                provider=ProviderName.STP,
                idempotency_key="stp-1",
            ),
        )
        action = payment.next_action
        assert payment.status == S.REQUIRES_ACTION and action["bank"] == "STP"
        assert action["clabe"] == loan_clabe(STP["cuenta"], loan.id)
        await transfer(box, action["clabe"], "1240.35", action["reference"])
        answers = [r for r in box.inbox.requests if r.url.path == "/webhooks/stp"]
        assert answers
        await client._transport.app.state.inbox.process_due()
    assert (await Payment.get(id=payment.id)).status == S.PAID
    assert await Payment.all().count() == 1
    assert await JournalEntry.filter(kind=JournalKind.PAYMENT).count() == 1
    (view,) = await load_loan_views([loan], runtime.today())
    assert view.installments[0].paid == Decimal("1240.35")


async def test_an_unannounced_transfer_still_pays_the_loan(db, runtime):
    ana, loan, box, client = await setup(runtime)
    async with client:
        await transfer(box, loan_clabe(STP["cuenta"], loan.id), "500.00")
        await client._transport.app.state.inbox.process_due()
    (payment,) = await Payment.all()
    assert payment.status == S.PAID and payment.amount_centavos == 50000
    assert payment.provider == ProviderName.STP and payment.method == PaymentMethodType.SPEI


async def test_a_transfer_to_a_clabe_that_is_no_loan_is_sent_back(db, runtime):
    ana, loan, box, client = await setup(runtime)
    stranger = loan_clabe(STP["cuenta"], 9_999_999)
    async with client:
        webhook = client._transport
        captured: list[httpx.Response] = []

        class Spy(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request):
                response = await webhook.handle_async_request(request)
                await response.aread()
                captured.append(response)
                return response

        box.inbox.target = Spy()
        await transfer(box, stranger, "500.00")
        await client._transport.app.state.inbox.process_due()
    assert captured and captured[-1].json()["mensaje"] == "devolver"
    assert await Payment.all().count() == 0


async def test_a_confirmed_abono_for_a_loan_paid_off_meanwhile_lands_in_suspense(db, runtime):
    from tests.support.books import books_total, institution_balance

    from puente.enums import LedgerAccountType as T
    from puente.enums import LoanStatus
    from puente.enums import ProviderEventStatus as E
    from puente.ledger.models import SuspenseItem
    from puente.loans.application import apply_payment
    from puente.loans.models import Loan
    from puente.loans.payoff import payoff_quote
    from puente.webhooks.models import ProviderEvent

    ana, loan, box, client = await setup(runtime)
    async with client:
        await transfer(box, loan_clabe(STP["cuenta"], loan.id), "500.00")
        (event,) = await ProviderEvent.filter(kind="transfer.received")
        assert event.status == E.RECEIVED  # answered confirmar: the money is ours now
        # The loan is paid off (at the cashier, say) before the worker gets to the abono.
        quote = await payoff_quote(loan, runtime.today())
        await apply_payment(
            loan,
            quote.total,
            received_on=runtime.today(),
            provider=ProviderName.BANK,
            idempotency_key="caja-liquidacion",
        )
        assert (await Loan.get(id=loan.id)).status == LoanStatus.PAID_OFF
        await client._transport.app.state.inbox.process_due()
    assert (await ProviderEvent.get(id=event.id)).status == E.PROCESSED
    (payment,) = await Payment.filter(provider=ProviderName.STP)
    assert payment.status == S.PAID and payment.amount_centavos == 500_00
    assert await JournalEntry.filter(payment_id=payment.id, kind=JournalKind.PAYMENT).exists()
    assert await institution_balance(loan.institution_id, T.SUSPENSE) == -500_00
    (item,) = await SuspenseItem.all()
    assert item.amount_centavos == 500_00 and item.status == "open"
    assert item.reason == "LOAN_NOT_PAYABLE" and item.payment_id == payment.id
    assert item.loan_id == loan.id and "abono" in item.source
    assert await books_total() == 0


async def test_an_abono_above_the_payoff_pays_it_off_and_the_rest_waits_in_suspense(db, runtime):
    from tests.support.books import books_total, institution_balance, loan_balances

    from puente.enums import LedgerAccountType as T
    from puente.enums import LoanStatus
    from puente.ledger.models import SuspenseItem
    from puente.loans.models import Loan
    from puente.loans.payoff import payoff_quote

    ana, loan, box, client = await setup(runtime)
    quote = await payoff_quote(loan, runtime.today())
    async with client:
        await transfer(box, loan_clabe(STP["cuenta"], loan.id), "999999.00")
        await client._transport.app.state.inbox.process_due()
    assert (await Loan.get(id=loan.id)).status == LoanStatus.PAID_OFF
    assert all(centavos == 0 for centavos in (await loan_balances(loan.id)).values())
    (item,) = await SuspenseItem.all()
    assert item.reason == "ABOVE_PAYOFF"
    # The payoff (interest to the day the abono arrived) was applied; the rest is held.
    applied = 999999_00 - item.amount_centavos
    assert abs(applied - int(quote.total * 100)) < 1000_00
    assert await institution_balance(loan.institution_id, T.SUSPENSE) == -item.amount_centavos
    assert await books_total() == 0


async def test_a_transfer_to_a_paid_off_loan_is_sent_back(db, runtime):
    from puente.enums import LoanStatus
    from puente.loans.models import Loan

    ana, loan, box, client = await setup(runtime)
    await Loan.filter(id=loan.id).update(status=LoanStatus.PAID_OFF)
    async with client:
        webhook = client._transport
        captured: list[httpx.Response] = []

        class Spy(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request):
                response = await webhook.handle_async_request(request)
                await response.aread()
                captured.append(response)
                return response

        box.inbox.target = Spy()
        await transfer(box, loan_clabe(STP["cuenta"], loan.id), "500.00")
        await client._transport.app.state.inbox.process_due()
    assert captured and captured[-1].json()["mensaje"] == "devolver"
    assert await Payment.all().count() == 0
