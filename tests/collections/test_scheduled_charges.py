"""Saved cards, mandates and scheduled charges against the in-process sandboxes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from tests.support import factories
from tests.support.gateways import STRIPE, sandboxes

from puente.audit.models import AuditEvent
from puente.collections import cards, charges
from puente.collections.errors import CollectionRefused
from puente.collections.jobs import run_collections_once
from puente.collections.mandates import revoke_mandate, sign_mandate
from puente.collections.models import AttemptStatus, ChargeAttempt, Mandate, MandateStatus
from puente.enums import PaymentStatus as S
from puente.enums import ProviderName
from puente.payments import submission
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment, PaymentMethod
from puente.providers.circuit import DEFAULT_BREAKERS

pytestmark = pytest.mark.anyio

DUE = date(2026, 12, 2)  # the first due date of a loan started on 2026-11-02


@pytest.fixture(autouse=True)
def closed_circuits():
    DEFAULT_BREAKERS.clear()
    yield
    DEFAULT_BREAKERS.clear()


async def setup(runtime, token="tok_visa", **product):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2), **product)
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    box = sandboxes(runtime)
    card = await cards.save_card(box.gateways, ana, ProviderName.STRIPE, token)
    await sign_mandate(runtime, ana, loan.id, card.id, origin="127.0.0.1 pytest")
    return ana, loan, box, card


def intents(box, status="succeeded"):
    found = box.simulator("stripe").store.all("payment_intents")
    return [pi for pi in found if pi["status"] == status]


async def run(runtime, box, day):
    return await run_collections_once(runtime, box.gateways, day, clock=runtime.now)


async def test_saved_card_keeps_only_tokens_and_is_deleted_at_the_provider(runtime, db):
    ana, loan, box, card = await setup(runtime)
    assert card.provider_token.startswith("pm_") and card.provider_customer_id.startswith("cus_")
    assert (card.card_brand, card.card_last4, card.is_default) == ("visa", "4242", True)
    stored = box.simulator("stripe").store.get("payment_methods", card.provider_token)
    assert stored["customer"] == card.provider_customer_id
    await cards.delete_card(box.gateways, ana, card.id)
    assert stored["customer"] is None  # detached at Stripe
    assert not await PaymentMethod.filter(id=card.id, is_active=True).exists()
    mandate = await Mandate.get(loan_id=loan.id)
    assert mandate.status is MandateStatus.NEEDS_METHOD
    with pytest.raises(CollectionRefused):
        await cards.delete_card(box.gateways, ana, card.id)


async def test_due_date_charges_once_through_the_funnel(runtime, db):
    ana, loan, box, card = await setup(runtime)
    assert (await run(runtime, box, date(2026, 12, 1))).charged == 0  # not due yet
    report = await run(runtime, box, DUE)
    assert (report.planned, report.paid) == (1, 1)
    again = await run(runtime, box, DUE)
    assert (again.planned, again.charged) == (0, 0)
    assert len(intents(box)) == 1
    payment = await Payment.get(loan_id=loan.id)
    assert payment.status == S.PAID and payment.payment_method_id == card.id
    attempt = await ChargeAttempt.get(loan_id=loan.id)
    assert attempt.status is AttemptStatus.PAID and attempt.payment_id == payment.id
    assert payment.amount_centavos == attempt.amount_centavos > 0


async def test_insufficient_funds_is_retried_on_the_next_payday(runtime, db):
    ana, loan, box, card = await setup(runtime, token="tok_chargeDeclinedInsufficientFunds")
    report = await run(runtime, box, DUE)
    assert report.declined == 1
    first, retry = await ChargeAttempt.filter(loan_id=loan.id).order_by("attempt")
    assert first.status is AttemptStatus.DECLINED and first.decline_code == "insufficient_funds"
    assert (retry.attempt, retry.scheduled_for) == (2, date(2026, 12, 15))
    assert (await run(runtime, box, date(2026, 12, 14))).charged == 0
    assert (await run(runtime, box, date(2026, 12, 15))).declined == 1
    assert await ChargeAttempt.filter(loan_id=loan.id).count() == 3
    notices = await AuditEvent.filter(action="collections.notice").count()
    assert notices >= 3  # mandate confirmed and two declines


@pytest.mark.parametrize("token", ["tok_chargeDeclinedExpiredCard", "tok_chargeDeclinedStolenCard"])
async def test_expired_or_stolen_card_stops_and_asks_for_another(runtime, db, token):
    ana, loan, box, card = await setup(runtime, token=token)
    await run(runtime, box, DUE)
    attempts = await ChargeAttempt.filter(loan_id=loan.id)
    assert len(attempts) == 1 and attempts[0].action == "needs_method"
    assert (await Mandate.get(loan_id=loan.id)).status is MandateStatus.NEEDS_METHOD
    assert (await run(runtime, box, date(2026, 12, 15))).charged == 0
    # Another card and a new signature: the installment is tried again, as attempt 2.
    other = await cards.save_card(box.gateways, ana, ProviderName.STRIPE, "tok_mastercard")
    await sign_mandate(runtime, ana, loan.id, other.id, origin="127.0.0.1 pytest")
    assert (await run(runtime, box, date(2026, 12, 16))).paid == 1
    paid = await ChargeAttempt.get(loan_id=loan.id, status=AttemptStatus.PAID)
    assert paid.attempt == 2


async def test_processing_error_is_retried_soon(runtime, db):
    ana, loan, box, card = await setup(
        runtime,
        token="tok_chargeDeclinedProcessingError",
        settings={"domiciliacion": {"soon_days": 2}},
    )
    await run(runtime, box, DUE)
    retry = await ChargeAttempt.get(loan_id=loan.id, attempt=2)
    assert retry.scheduled_for == date(2026, 12, 4)


async def test_revoked_mandate_is_never_charged(runtime, db):
    ana, loan, box, card = await setup(runtime, token="tok_chargeDeclinedInsufficientFunds")
    await run(runtime, box, DUE)
    assert await revoke_mandate(runtime, ana, loan.id, origin="graphql")
    retry = await ChargeAttempt.get(loan_id=loan.id, attempt=2)
    assert retry.status is AttemptStatus.CANCELED
    assert (await run(runtime, box, date(2026, 12, 15))).charged == 0
    assert len(box.simulator("stripe").store.all("payment_intents")) == 1


class Killed(BaseException):
    """The process dies: nothing after this point runs."""


async def test_job_killed_after_the_provider_answered_resumes_without_charging_twice(
    runtime, db, monkeypatch
):
    ana, loan, box, card = await setup(runtime)
    real = submission.apply_provider_payment

    async def killed(*args, **kwargs):
        raise Killed  # the provider charged; the commit of its answer never happens

    monkeypatch.setattr(submission, "apply_provider_payment", killed)
    with pytest.raises(Killed):
        await run(runtime, box, DUE)
    assert len(intents(box)) == 1
    payment = await Payment.get(loan_id=loan.id)
    assert payment.status == S.CREATED and payment.provider_reference is None
    monkeypatch.setattr(submission, "apply_provider_payment", real)
    # The lease of the killed run has not lapsed: a rerun must wait for it (or take it over).
    runtime.clock.now = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
    report = await run(runtime, box, DUE)
    assert report is not None and report.paid == 1
    assert len(intents(box)) == 1  # one charge at the provider
    payments = await Payment.filter(loan_id=loan.id)
    assert [p.status for p in payments] == [S.PAID]
    assert await ChargeAttempt.filter(loan_id=loan.id).count() == 1


async def test_amount_never_exceeds_the_payoff(runtime, db):
    ana, loan, box, card = await setup(runtime)
    amount = await charges.amount_due(loan, date(2028, 1, 1))  # every installment overdue
    from puente.loans.payable import payable_amount

    assert amount == (await payable_amount(loan, date(2028, 1, 1))).maximum


CARD_PROVIDERS = {
    # provider: (approved token, insufficient-funds token, stolen/expired token)
    "conekta": ("tok_test_visa_4242", "tok_test_insufficient_funds", "tok_test_expired_card"),
    "openpay": (
        "tok_test_4111111111111111",
        "tok_test_4444444444444448",
        "tok_test_4000000000000119",  # reported stolen
    ),
    "mercadopago": ("test_visa_APRO", "test_visa_FUND", "test_visa_EXPI"),
}
# The providers' own decline codes, as each simulator answers them.
REAL_CODES = {
    "conekta": (
        "conekta.errors.processing.bank.insufficient_funds",
        "conekta.errors.processing.bank.expired_card",
    ),
    "openpay": ("3003", "3004"),
    "mercadopago": ("cc_rejected_insufficient_amount", "cc_rejected_bad_filled_date"),
}


async def provider_setup(runtime, provider: str, token: str, n: int):
    from puente.sandbox_hook import demo_credentials

    inst = await factories.institution(f"financiera-{n}")
    ana = await factories.user(runtime, inst, email=f"ana{n}@example.mx")
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    credentials = {provider: demo_credentials()[provider]}
    await store_credentials(runtime, inst.id, provider, credentials[provider])
    box = sandboxes(runtime, credentials)
    card = await cards.save_card(box.gateways, ana, ProviderName(provider), token)
    await sign_mandate(runtime, ana, loan.id, card.id, origin="127.0.0.1 pytest")
    return ana, loan, box, card


@pytest.mark.parametrize("provider", sorted(CARD_PROVIDERS))
async def test_every_card_provider_charges_and_reads_its_own_declines(runtime, db, provider):
    approved, short, refused = CARD_PROVIDERS[provider]
    _, loan, box, _ = await provider_setup(runtime, provider, approved, 1)
    assert (await run(runtime, box, DUE)).paid == 1
    assert (await Payment.get(loan_id=loan.id)).status == S.PAID

    _, poor, box, _ = await provider_setup(runtime, provider, short, 2)
    await run(runtime, box, DUE)
    first = await ChargeAttempt.get(loan_id=poor.id, attempt=1)
    assert first.action == "retry_payday"
    assert first.decline_code == REAL_CODES[provider][0]
    assert await ChargeAttempt.filter(loan_id=poor.id, attempt=2).exists()

    _, lost, box, _ = await provider_setup(runtime, provider, refused, 3)
    await run(runtime, box, DUE)
    stopped = await ChargeAttempt.get(loan_id=lost.id, attempt=1)
    assert stopped.action == "needs_method"
    assert stopped.decline_code == REAL_CODES[provider][1]


async def test_one_replica_runs_the_day_while_another_holds_its_lease(runtime, db):
    from datetime import timedelta

    from puente.collections.jobs import COLLECTIONS_JOB
    from puente.scheduling.leases import acquire_lease

    ana, loan, box, card = await setup(runtime)
    other = await acquire_lease(
        COLLECTIONS_JOB, DUE.isoformat(), runtime.now(), ttl=timedelta(minutes=10), holder="b:1"
    )
    assert other is not None
    assert await run(runtime, box, DUE) is None  # replica b holds the day: nothing charged
    assert intents(box) == []
    await other.finish(runtime.now(), succeeded=True)
    assert (await run(runtime, box, DUE)).paid == 1


async def test_shards_split_the_book_and_charge_each_loan_once(runtime, db):
    import asyncio

    from puente.collections.charges import Shard
    from puente.collections.jobs import lease_key

    inst = await factories.institution()
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    box = sandboxes(runtime)
    loans = []
    for k in range(5):
        who = await factories.user(runtime, inst, email=f"b{k}@example.mx")
        loan = await factories.active_loan(inst, who, start=date(2026, 11, 2))
        card = await cards.save_card(box.gateways, who, ProviderName.STRIPE, "tok_visa")
        await sign_mandate(runtime, who, loan.id, card.id, origin="127.0.0.1 pytest")
        loans.append(loan)
    first, second = Shard.parse("1/2"), Shard.parse("2/2")
    assert lease_key(DUE, second) == f"{DUE.isoformat()}#2/2" != lease_key(DUE)
    reports = await asyncio.gather(
        *(
            run_collections_once(runtime, box.gateways, DUE, clock=runtime.now, shard=s)
            for s in (first, second)
        )
    )
    # Each shard planned and charged exactly its own loans (loan id modulo 2), both ran.
    for shard, report in zip((first, second), reports, strict=True):
        mine = [loan for loan in loans if loan.id % 2 == shard.index]
        assert report is not None and (report.planned, report.paid) == (len(mine), len(mine))
    assert len(intents(box)) == len(loans)
    for loan in loans:
        assert await Payment.filter(loan_id=loan.id, status=S.PAID).count() == 1
    # The whole book again (one process) finds nothing left to charge.
    again = await run(runtime, box, DUE)
    assert (again.planned, again.charged) == (0, 0)
    assert len(intents(box)) == len(loans)
    with pytest.raises(ValueError):
        Shard.parse("3/2")
