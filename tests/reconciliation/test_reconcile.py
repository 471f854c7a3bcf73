"""Importing, matching and booking statements against the book (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from tests.reconciliation.samples import ACCOUNT, movement, write
from tests.support import factories
from tests.support.books import books_total, institution_balance, loan_balances
from tests.support.gateways import STRIPE, sandboxes

from puente.audit.models import AuditEvent
from puente.enums import JournalKind, PaymentMethodType, ProviderName, Role
from puente.enums import LedgerAccountType as T
from puente.enums import PaymentStatus as S
from puente.events.bus import InMemoryBus
from puente.ledger.entries import AccountRef
from puente.ledger.models import JournalEntry, SuspenseItem
from puente.ledger.posting import account_balance
from puente.payments.checkout import PaymentRequest, create_payment
from puente.payments.compliance_hooks import compliance
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment
from puente.payments.payer_approval import capture_paypal_payment
from puente.payments.spei_inbound import loan_clabe
from puente.reconciliation.enums import (
    Direction,
    ExceptionReason,
    ExceptionStatus,
    LineStatus,
    Resolution,
)
from puente.reconciliation.exceptions import (
    ResolutionRefused,
    open_exceptions,
    resolve_exception,
)
from puente.reconciliation.importers import MalformedStatement
from puente.reconciliation.models import BankStatement, StatementLine, StatementMatch
from puente.reconciliation.reads import bank_facts_for_payments
from puente.reconciliation.service import import_and_reconcile
from puente.reconciliation.settlements import fetch_settlements
from puente.runtime import MEXICO_CITY
from puente_sandbox.conekta import sandbox_webhook_public_key
from puente_sandbox.paypal import DEFAULT_PAYPAL_CREDENTIALS
from puente_sandbox.stp_keys import DEFAULT_STP_CREDENTIALS

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("monitoring_drained")]

CUENTA = DEFAULT_STP_CREDENTIALS["cuenta"]
AT = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


@dataclass(frozen=True)
class CardGateway:
    name: str
    credentials: dict[str, str]
    token: str  # the simulator's approved test card

    @property
    def provider(self) -> ProviderName:
        return ProviderName(self.name)


GATEWAYS = [
    CardGateway("stripe", STRIPE, "tok_visa"),
    CardGateway(
        "conekta",
        {"private_key": "key_recon_0123456789", "webhook_key": sandbox_webhook_public_key()},
        "tok_test_visa_4242",
    ),
    CardGateway(
        "openpay",
        {
            "merchant_id": "mrecon0123456789abcd",
            "private_key": "sk_recon_0123456789abcdef",
            "webhook_user": "puente",
            "webhook_password": "recon-webhook-pass-0123",
        },
        "tok_test_4111111111111111",
    ),
    CardGateway(
        "mercadopago",
        {"access_token": "TEST-1523846091-recon-0123456789", "webhook_secret": "mp_whsec_1"},
        "test_visa_APRO",
    ),
]


async def clearing(inst_id: int, provider: ProviderName) -> int:
    return await account_balance(AccountRef(inst_id, T.CASH_CLEARING, provider=provider))


async def run(runtime, inst, path, fmt="camt053", **kw):
    return await import_and_reconcile(runtime, inst.id, path, fmt, at=AT, stp_cuenta=CUENTA, **kw)


async def test_the_same_file_twice_imports_nothing_the_second_time(db, runtime, tmp_path):
    inst = await factories.institution()
    path = write(
        tmp_path / "s.xml",
        "camt053:02",
        [movement("100.00", bank_reference="A1"), movement("200.00", bank_reference="A2")],
    )
    first = await run(runtime, inst, path)
    assert (first.lines, first.new, first.duplicates) == (2, 2, 0)
    second = await run(runtime, inst, path)
    assert (second.lines, second.new, second.duplicates) == (2, 0, 2)
    assert second.matched == second.exceptions == 0
    assert await StatementLine.all().count() == 2
    assert await BankStatement.all().count() == 1


async def test_overlapping_statements_do_not_duplicate_lines(db, runtime, tmp_path):
    inst = await factories.institution()
    a, b, c = (
        movement("100.00", bank_reference="A1"),
        movement("200.00", bank_reference="A2", clave_rastreo="R2"),
        movement("300.00", bank_reference="A3", clave_rastreo="R3"),
    )
    await run(runtime, inst, write(tmp_path / "nov1.xml", "camt053:02", [a, b], sid="S1"))
    # The next statement repeats b and adds c; in another format too.
    summary = await run(runtime, inst, write(tmp_path / "nov2.xml", "camt053:08", [b, c], sid="S2"))
    assert (summary.lines, summary.new, summary.duplicates) == (2, 1, 1)
    assert sorted(await StatementLine.all().values_list("amount_centavos", flat=True)) == [
        100_00,
        200_00,
        300_00,
    ]


async def test_two_equal_transfers_without_references_are_two_lines_once(db, runtime, tmp_path):
    inst = await factories.institution()
    same = movement("50.00", bank_reference="", clave_rastreo="", reference="")
    path = write(tmp_path / "s.csv", "csv:bbva", [same, same])
    assert (await run(runtime, inst, path, "csv:bbva", account=ACCOUNT)).new == 2
    again = write(tmp_path / "s2.csv", "csv:bbva", [same, same, movement("9.00", clave_rastreo="")])
    assert (await run(runtime, inst, again, "csv:bbva", account=ACCOUNT)).new == 1


async def test_a_malformed_file_imports_nothing(db, runtime, tmp_path):
    inst = await factories.institution()
    path = write(
        tmp_path / "s.csv",
        "csv:bbva",
        [movement(f"{i}.00", clave_rastreo=f"R{i}") for i in range(1, 2500)],
    )
    lines = path.read_text("latin-1").splitlines()
    lines[2400] = lines[2400].replace("/11/2026", "/13/2026")  # a bad date far into the file
    path.write_text("\n".join(lines), encoding="latin-1")
    with pytest.raises(MalformedStatement, match="línea 2401"):
        await run(runtime, inst, path, "csv:bbva", account=ACCOUNT)
    assert await StatementLine.all().count() == 0
    assert await BankStatement.all().count() == 0


async def test_an_unexplained_deposit_goes_to_suspense_with_an_exception(db, runtime, tmp_path):
    inst = await factories.institution()
    summary = await run(
        runtime, inst, write(tmp_path / "s.xml", "camt053:02", [movement("777.00")])
    )
    assert (summary.matched, summary.exceptions) == (0, 1)
    assert await institution_balance(inst.id, T.BANK) == 777_00
    assert await institution_balance(inst.id, T.SUSPENSE) == -777_00
    (exception,) = await open_exceptions(inst.id)
    assert exception.reason == ExceptionReason.UNMATCHED
    assert (await SuspenseItem.get(id=exception.suspense_item_id)).amount_centavos == 777_00
    assert await books_total() == 0


class RecordingBus(InMemoryBus):
    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[str, dict]] = []

    async def publish(self, channel, message):
        self.published.append((channel, dict(message)))
        await super().publish(channel, message)


async def test_a_deposit_to_a_loan_clabe_becomes_a_payment_through_the_funnel(
    db, runtime, tmp_path, monkeypatch
):
    runtime.bus = bus = RecordingBus()
    observed = []
    monkeypatch.setattr(
        compliance(), "transition_observers", [lambda rt, t: observed.append(t.payment_id)]
    )
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    before = await loan_balances(loan.id)
    deposit = movement("1000.00", beneficiary_account=loan_clabe(CUENTA, loan.id), reference="")
    summary = await run(runtime, inst, write(tmp_path / "stp.csv", "stp", [deposit]), "stp")
    assert (summary.matched, summary.exceptions) == (1, 0)
    (payment,) = await Payment.filter(loan_id=loan.id)
    assert (payment.status, payment.amount_centavos, payment.provider) == (
        S.PAID,
        1000_00,
        ProviderName.STP,
    )
    after = await loan_balances(loan.id)
    assert after[T.LOAN_PRINCIPAL] < before[T.LOAN_PRINCIPAL]  # applied by prelación
    assert await JournalEntry.filter(payment_id=payment.id, kind=JournalKind.PAYMENT).exists()
    assert await clearing(inst.id, ProviderName.STP) == 0
    (match,) = await StatementMatch.filter(payment_id=payment.id)
    assert match.key == "clabe" and match.entry_id is not None
    assert await AuditEvent.filter(
        action="payment.status_changed", subject_id=str(payment.id)
    ).exists()
    facts = (await bank_facts_for_payments([payment.id]))[payment.id]
    assert (facts.clave_rastreo, facts.settled_on) == ("BB27726020704", date(2026, 11, 21))
    assert facts.booked_on == date(2026, 11, 20)  # value and booking dates kept apart
    # The same funnel as a webhook: subscribers told, AML monitoring asked.
    assert (f"payment:{payment.id}", {"payment": payment.id, "status": "paid"}) in bus.published
    assert observed == [payment.id]
    assert await books_total() == 0


async def test_an_announced_spei_is_completed_by_its_referencia(db, runtime, tmp_path):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "stp", DEFAULT_STP_CREDENTIALS)
    box = sandboxes(runtime, {"stp": DEFAULT_STP_CREDENTIALS})
    announced = await create_payment(
        runtime,
        box.gateways,
        ana,
        PaymentRequest(
            loan_id=loan.id,
            amount="1200.00",
            method=PaymentMethodType.SPEI,
            provider=ProviderName.STP,
            idempotency_key="spei-1",
        ),
    )
    assert announced.status == S.REQUIRES_ACTION
    reference = announced.next_action["reference"]
    line = movement(
        "1200.00",
        reference=reference,
        clave_rastreo="",
        beneficiary_account="",
        bank_reference="B1",
        value_date=runtime.today(),
        booking_date=runtime.today(),
    )
    summary = await run(runtime, inst, write(tmp_path / "s.xml", "camt053:02", [line]))
    assert summary.matched == 1
    assert (await Payment.get(id=announced.id)).status == S.PAID
    assert await clearing(inst.id, ProviderName.STP) == 0
    assert await books_total() == 0


@pytest.mark.parametrize("gateway", GATEWAYS, ids=[g.name for g in GATEWAYS])
async def test_a_gateway_payout_clears_the_gateway_to_zero_net_of_fees_and_iva(
    db, runtime, tmp_path, gateway
):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, gateway.name, gateway.credentials)
    box = sandboxes(runtime, {gateway.name: gateway.credentials})
    for key, amount in (("c1", "1500.00"), ("c2", "800.00")):
        paid = await create_payment(
            runtime,
            box.gateways,
            ana,
            PaymentRequest(
                loan_id=loan.id,
                amount=amount,
                method=PaymentMethodType.CARD,
                provider=gateway.provider,
                idempotency_key=key,
                card_token=gateway.token,
                device_session_id="reconciliation0device0session001",  # Openpay's antifraud
            ),
        )
        assert paid.status == S.PAID
    assert await clearing(inst.id, gateway.provider) == 2300_00
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=box.app), base_url="http://sandbox.test"
    ) as client:
        assert (await client.post(f"/{gateway.name}/_payouts")).status_code == 200
    connector = await box.gateways.gateway(inst, gateway.name)
    ((settlement, new),) = await fetch_settlements(connector, inst.id, AT - timedelta(days=30))
    assert new and settlement.gross_centavos == 2300_00
    assert settlement.fee_centavos > 0 and settlement.fee_vat_centavos > 0
    assert (
        settlement.net_centavos + settlement.fee_centavos + settlement.fee_vat_centavos == 2300_00
    )
    # Fetching again stores nothing new.
    assert [n for _, n in await fetch_settlements(connector, inst.id, AT - timedelta(days=30))] == [
        False
    ]
    arrived = settlement.arrival_date or AT.date()  # only Stripe says when it will arrive
    deposit = movement(
        str(Decimal(settlement.net_centavos) / 100),
        concept=f"{gateway.name.upper()} PAYOUT {settlement.provider_id}",
        clave_rastreo="",
        reference="",
        beneficiary_account="",
        bank_reference="PO1",
        value_date=arrived,
        booking_date=arrived,
    )
    summary = await run(runtime, inst, write(tmp_path / "bank.xml", "camt053:02", [deposit]))
    assert summary.matched == 1
    # The full cycle: the gateway's clearing account nets to zero.
    assert await clearing(inst.id, gateway.provider) == 0
    assert await institution_balance(inst.id, T.PROVIDER_FEES_EXPENSE) == settlement.fee_centavos
    assert await institution_balance(inst.id, T.VAT_CREDITABLE) == settlement.fee_vat_centavos
    assert await books_total() == 0
    # Each card payment now knows when its money reached the bank: the payout's line.
    ids = await Payment.filter(loan_id=loan.id).values_list("id", flat=True)
    facts = await bank_facts_for_payments(list(ids))
    assert set(facts) == set(ids)
    assert {(f.settled_on, f.via_payout) for f in facts.values()} == {
        (arrived, settlement.provider_id)
    }
    # Given the rows already read (GraphQL's loader), the same facts without re-reading them.
    rows = await Payment.filter(id__in=list(ids))
    assert await bank_facts_for_payments(list(ids), rows=rows) == facts


async def test_a_paypal_withdrawal_clears_paypal_to_zero_net_of_fees_and_iva(db, runtime, tmp_path):
    """The full PayPal cycle: orders approved by the payer and captured on their return
    (through the funnel), the balance withdrawn to the bank (a T0400 line of the
    transactions report, PayPal has no payout API), the withdrawal's breakdown read from the
    report, and the bank's deposit matched to it."""
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    credentials = dict(DEFAULT_PAYPAL_CREDENTIALS)
    await store_credentials(runtime, inst.id, "paypal", credentials)
    box = sandboxes(runtime, {"paypal": credentials})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=box.app), base_url="http://sandbox.test"
    ) as sandbox:
        for key, amount in (("pp-1", "1240.35"), ("pp-2", "615.10")):
            payment = await create_payment(
                runtime,
                box.gateways,
                ana,
                PaymentRequest(
                    loan_id=loan.id,
                    amount=amount,
                    method=PaymentMethodType.PAYPAL,
                    provider=ProviderName.PAYPAL,
                    idempotency_key=key,
                ),
            )
            assert payment.status == S.REQUIRES_ACTION
            order = payment.provider_reference
            approved = await sandbox.post(f"/paypal/_orders/{order}/approve")
            assert approved.status_code < 300, approved.text
            paid = await capture_paypal_payment(runtime, box.gateways, ana, payment.id, order)
            assert paid.status == S.PAID
        assert await clearing(inst.id, ProviderName.PAYPAL) == 1855_45
        assert (await sandbox.post("/paypal/_payouts")).status_code < 300
    connector = await box.gateways.gateway(inst, "paypal")
    since = datetime.now(UTC) - timedelta(days=30)  # the report spans at most 31 days
    ((settlement, new),) = await fetch_settlements(connector, inst.id, since)
    assert new and settlement.provider == "paypal" and settlement.gross_centavos == 1855_45
    assert settlement.fee_centavos > 0 and settlement.fee_vat_centavos > 0
    assert (
        settlement.net_centavos + settlement.fee_centavos + settlement.fee_vat_centavos == 1855_45
    )
    assert [n for _, n in await fetch_settlements(connector, inst.id, since)] == [False]
    arrived = settlement.arrival_date or AT.date()  # PayPal does not say when it arrives
    deposit = movement(
        str(Decimal(settlement.net_centavos) / 100),
        concept=f"PAYPAL RETIRO {settlement.provider_id}",
        clave_rastreo="",
        reference="",
        beneficiary_account="",
        bank_reference="PP1",
        value_date=arrived,
        booking_date=arrived,
    )
    bank_before = await institution_balance(inst.id, T.BANK)
    summary = await run(runtime, inst, write(tmp_path / "bank.xml", "camt053:08", [deposit]))
    assert (summary.matched, summary.exceptions, summary.suggested) == (1, 0, 0)
    assert await clearing(inst.id, ProviderName.PAYPAL) == 0
    assert await institution_balance(inst.id, T.PROVIDER_FEES_EXPENSE) == settlement.fee_centavos
    assert await institution_balance(inst.id, T.VAT_CREDITABLE) == settlement.fee_vat_centavos
    bank_after = await institution_balance(inst.id, T.BANK)
    assert bank_after - bank_before == settlement.net_centavos
    assert await books_total() == 0
    ids = await Payment.filter(loan_id=loan.id).values_list("id", flat=True)
    facts = await bank_facts_for_payments(list(ids))
    assert set(facts) == set(ids)
    assert {(f.settled_on, f.via_payout) for f in facts.values()} == {
        (arrived, settlement.provider_id)
    }


async def test_staff_match_a_suggestion_by_hand_and_mark_a_deposit_as_not_a_loan_payment(
    db, runtime, tmp_path
):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    staff = await factories.user(runtime, inst, email="caja@example.mx", role=Role.STAFF)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    await store_credentials(runtime, inst.id, "stp", DEFAULT_STP_CREDENTIALS)
    box = sandboxes(runtime, {"stp": DEFAULT_STP_CREDENTIALS})
    announced = await create_payment(
        runtime,
        box.gateways,
        ana,
        PaymentRequest(
            loan_id=loan.id,
            amount="845.00",
            method=PaymentMethodType.SPEI,
            provider=ProviderName.STP,
            idempotency_key="spei-hand",
        ),
    )
    today = announced.created_at.astimezone(MEXICO_CITY).date()  # the day it was announced
    # The amount and the day agree, nothing else does: a suggestion, not a match.
    same_amount = movement(
        "845.00",
        concept="TRASPASO",
        counterparty_name="",
        reference="",
        clave_rastreo="",
        beneficiary_account="",
        bank_reference="H1",
        value_date=today,
        booking_date=today,
    )
    cash = movement(
        "5000.00",
        concept="APORTACION DE CAPITAL",
        counterparty_name="SOCIO FUNDADOR",
        reference="",
        clave_rastreo="",
        beneficiary_account="",
        bank_reference="H2",
        value_date=today,
        booking_date=today,
    )
    summary = await run(runtime, inst, write(tmp_path / "s.xml", "camt053:02", [same_amount, cash]))
    assert (summary.matched, summary.suggested, summary.exceptions) == (0, 1, 1)
    assert await institution_balance(inst.id, T.SUSPENSE) == -5845_00
    by_line = {
        (await StatementLine.get(id=e.line_id)).bank_reference: e
        for e in await open_exceptions(inst.id)
    }
    assert set(by_line) == {"H1", "H2"}
    suggested = await StatementMatch.get(line_id=by_line["H1"].line_id)
    assert suggested.payment_id == announced.id and suggested.status == "suggested"
    with pytest.raises(ResolutionRefused):  # another amount: applied to the loan instead
        await resolve_exception(
            runtime,
            by_line["H2"].id,
            Resolution.MATCHED_BY_HAND,
            actor_id=staff.id,
            institution_id=inst.id,
            note="no",
            at=AT,
            payment_id=announced.id,
        )
    await resolve_exception(
        runtime,
        by_line["H1"].id,
        Resolution.MATCHED_BY_HAND,
        actor_id=staff.id,
        institution_id=inst.id,
        note="Ana mandó el comprobante",
        at=AT,
        payment_id=announced.id,
    )
    assert (await Payment.get(id=announced.id)).status == S.PAID
    assert await clearing(inst.id, ProviderName.STP) == 0
    assert await institution_balance(inst.id, T.SUSPENSE) == -5000_00
    assert (await StatementMatch.get(id=suggested.id)).status == "booked"
    await resolve_exception(
        runtime,
        by_line["H2"].id,
        Resolution.NOT_A_LOAN_PAYMENT,
        actor_id=staff.id,
        institution_id=inst.id,
        note="aportación de capital del socio",
        at=AT,
    )
    # Closed with its note; the money stays in the suspense account for accounting to move.
    item = await SuspenseItem.get(id=by_line["H2"].suspense_item_id)
    assert item.status == "resolved" and "aportación" in item.resolution
    assert await institution_balance(inst.id, T.SUSPENSE) == -5000_00
    assert await open_exceptions(inst.id) == []
    assert {line.status for line in await StatementLine.filter(institution_id=inst.id)} == {
        LineStatus.RESOLVED
    }
    assert await AuditEvent.filter(action="reconciliation.exception_resolved").count() == 2
    assert await books_total() == 0


async def test_staff_apply_an_exception_to_a_loan_and_suspense_empties(db, runtime, tmp_path):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    staff = await factories.user(runtime, inst, email="caja@example.mx", role=Role.STAFF)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    await run(runtime, inst, write(tmp_path / "s.xml", "camt053:02", [movement("650.00")]))
    (exception,) = await open_exceptions(inst.id)
    with pytest.raises(ResolutionRefused):
        await resolve_exception(
            runtime,
            exception.id,
            Resolution.APPLIED_TO_LOAN,
            actor_id=staff.id,
            institution_id=inst.id,
            note="  ",
            at=AT,
            loan_id=loan.id,
        )
    resolved = await resolve_exception(
        runtime,
        exception.id,
        Resolution.APPLIED_TO_LOAN,
        actor_id=staff.id,
        institution_id=inst.id,
        note="Ana llamó: es su pago",
        at=AT,
        loan_id=loan.id,
    )
    assert resolved.status == ExceptionStatus.RESOLVED
    (payment,) = await Payment.filter(loan_id=loan.id)
    assert (payment.status, payment.amount_centavos) == (S.PAID, 650_00)
    assert await institution_balance(inst.id, T.SUSPENSE) == 0
    assert await clearing(inst.id, ProviderName.BANK) == 0
    assert (await StatementLine.get(id=exception.line_id)).status == LineStatus.RESOLVED
    assert await AuditEvent.filter(action="reconciliation.exception_resolved").exists()
    with pytest.raises(ResolutionRefused, match="ya se resolvió"):
        await resolve_exception(
            runtime,
            exception.id,
            Resolution.RETURNED,
            actor_id=staff.id,
            institution_id=inst.id,
            note="otra vez",
            at=AT,
        )
    assert await books_total() == 0


async def test_a_returned_transfer_leaves_suspense_and_the_bank(db, runtime, tmp_path):
    inst = await factories.institution()
    staff = await factories.user(runtime, inst, email="caja@example.mx", role=Role.STAFF)
    await run(runtime, inst, write(tmp_path / "s.xml", "camt053:02", [movement("90.00")]))
    (exception,) = await open_exceptions(inst.id)
    await resolve_exception(
        runtime,
        exception.id,
        Resolution.RETURNED,
        actor_id=staff.id,
        institution_id=inst.id,
        note="devuelta al ordenante",
        at=AT,
    )
    assert await institution_balance(inst.id, T.SUSPENSE) == 0
    assert await institution_balance(inst.id, T.BANK) == 0
    assert (await SuspenseItem.get(id=exception.suspense_item_id)).status == "resolved"


async def test_an_outgoing_disbursement_matches_by_clave_de_rastreo_without_posting(
    db, runtime, tmp_path
):
    from puente.payments.models import Disbursement

    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    row = await Disbursement.create(
        institution_id=inst.id,
        loan_id=loan.id,
        provider=ProviderName.STP,
        amount_centavos=12000_00,
        clabe_enc="x",
        clabe_last4="1234",
        beneficiary_name="ANA",
        clave_rastreo="PUENTE00001",
        status="settled",
        settled_at=AT,
    )
    line = movement(
        "12000.00",
        direction=Direction.DEBIT,
        clave_rastreo="PUENTE00001",
        bank_reference="D1",
        value_date=AT.date(),
        booking_date=AT.date(),
    )
    summary = await run(runtime, inst, write(tmp_path / "s.xml", "camt053:02", [line]))
    assert summary.matched == 1
    (match,) = await StatementMatch.filter(disbursement_id=row.id)
    assert match.entry_id is None


async def test_reconciliation_history_cannot_be_deleted(db, runtime, tmp_path):
    inst = await factories.institution()
    await run(runtime, inst, write(tmp_path / "s.xml", "camt053:02", [movement("1.00")]))
    with pytest.raises(Exception, match="history"):
        await StatementLine.all().delete()
    assert await StatementLine.all().count() == 1


async def test_abonos_already_paid_are_settled_to_the_bank_in_one_entry_per_batch(
    db, runtime, tmp_path
):
    from puente.payments.lifecycle_service import advance_payment

    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    moves = []
    for i, amount in enumerate(("300.00", "450.50", "120.25")):
        payment = await Payment.create(
            institution_id=inst.id,
            loan_id=loan.id,
            user_id=ana.id,
            provider=ProviderName.STP,
            method=PaymentMethodType.SPEI,
            amount_centavos=int(Decimal(amount) * 100),
            idempotency_key=f"stp-abono-{i}",
            request_fingerprint="x",
            status=S.CREATED,
        )
        await advance_payment(
            payment.id,
            S.PAID,
            source="webhook:stp",
            at=AT,
            provider_reference=f"abono:STPRASTREO{i:04d}",
        )
        moves.append(
            movement(
                amount,
                clave_rastreo=f"STPRASTREO{i:04d}",
                reference="",
                beneficiary_account="",
                bank_reference=f"S{i}",
                value_date=AT.date(),
                booking_date=AT.date(),
            )
        )
    assert await clearing(inst.id, ProviderName.STP) == 870_75
    summary = await run(runtime, inst, write(tmp_path / "stp.xml", "camt053:08", moves))
    assert (summary.matched, summary.exceptions) == (3, 0)
    assert await clearing(inst.id, ProviderName.STP) == 0
    matches = await StatementMatch.all()
    assert {m.key for m in matches} == {"clave_rastreo"}
    assert len({m.entry_id for m in matches}) == 1  # one entry for the batch
    assert await AuditEvent.filter(action="reconciliation.lines_matched").count() == 1
    assert await books_total() == 0


async def test_a_statement_of_more_lines_than_postgresql_takes_parameters_is_split(db):
    # PostgreSQL refuses a query with more than 32,767 parameters: looking up the payments
    # of a 40,000-line statement must be done in slices.
    from puente.reconciliation.enums import Strategy
    from puente.reconciliation.matcher import Proposal
    from puente.reconciliation.service import _split_paid

    proposals = [
        Proposal((i,), (f"payment:{i}",), Strategy.EXACT_KEY, "clave_rastreo", 100, True)
        for i in range(1, 40_001)
    ]
    paid, rest = await _split_paid({}, proposals)
    assert paid == [] and len(rest) == 40_000
