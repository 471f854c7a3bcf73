"""Pay, refund, accrue, webhooks and polling in any order, against the real services.

A hypothesis state machine drives the payment services on a real (SQLite) database with
the Stripe sandbox behind them: card and SPEI payments, the payer paying a SPEI reference,
webhook deliveries processed (duplicated or not), the poller, partial and full staff
refunds and the daily job. After every step the books must hold:

* debits = credits;
* each provider charge applied at most once (one PAYMENT entry per payment, and only for a
  payment the provider says succeeded);
* every confirmed centavo in a loan or in suspense: the provider's clearing account holds
  exactly what was confirmed and not refunded, and each payment entry credits only loan
  accounts, IVA moves and suspense;
* refunded ≤ paid, per payment.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from tests.conftest import Clock, make_settings
from tests.support import factories
from tests.support.books import books_total
from tests.support.gateways import STRIPE, sandboxes
from tests.support.http import app_client
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE

from puente.db import tortoise_config
from puente.enums import JournalKind, PaymentMethodType, ProviderName, Role
from puente.enums import LedgerAccountType as T
from puente.enums import PaymentStatus as S
from puente.ledger.entries import AccountRef
from puente.ledger.models import JournalEntry, Posting
from puente.ledger.posting import account_balance
from puente.loans.jobs import run_daily
from puente.payments.checkout import PaymentRefused, PaymentRequest, create_payment
from puente.payments.gateways import store_credentials
from puente.payments.models import Payment
from puente.payments.polling import poll_pending_payments
from puente.payments.refund_service import refund_payment
from puente.providers.circuit import DEFAULT_BREAKERS
from puente.runtime import Runtime
from puente.security.passwords import FAST_TEST_POLICY

RECEIVED = (S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED)
# Accounts a payment's money may land in: the loan's, the IVA moves, suspense.
LANDING = {
    T.LOAN_PRINCIPAL,
    T.LOAN_INTEREST,
    T.LOAN_INTEREST_VAT,
    T.LOAN_LATE_INTEREST,
    T.LOAN_LATE_INTEREST_VAT,
    T.LOAN_FEES,
    T.LOAN_FEE_VAT,
    T.LOAN_ADVANCE,
    T.VAT_UNCOLLECTED,
    T.VAT_PAYABLE,
    T.SUSPENSE,
}


class PaymentFunnel(RuleBasedStateMachine):
    template: Path
    workdir: Path
    payments = Bundle("payments")

    def _run(self, coro):
        return self.loop.run_until_complete(coro)

    @initialize()
    def open_books(self) -> None:
        DEFAULT_BREAKERS.clear()
        self.loop = asyncio.new_event_loop()
        PaymentFunnel.runs = getattr(PaymentFunnel, "runs", 0) + 1
        path = self.workdir / f"machine-{PaymentFunnel.runs}.sqlite3"
        shutil.copyfile(self.template, path)
        url = f"sqlite://{path}"
        self.clock = Clock(datetime(2026, 11, 27, 18, 0, tzinfo=UTC))
        self.runtime = Runtime.from_settings(
            make_settings(url), password_policy=FAST_TEST_POLICY, clock=self.clock
        )
        self.day = date(2026, 11, 27)
        self._run(self._setup(url))

    async def _setup(self, url: str) -> None:
        EXECUTOR_CACHE.clear()
        await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
        inst = await factories.institution()
        self.ana = await factories.user(self.runtime, inst)
        self.staff = await factories.user(
            self.runtime, inst, email="caja@example.mx", role=Role.STAFF
        )
        self.loan = await factories.active_loan(
            inst, self.ana, principal="12000.00", start=date(2026, 11, 2)
        )
        await store_credentials(self.runtime, inst.id, "stripe", STRIPE)
        self.box = sandboxes(self.runtime)
        self.client = app_client(self.runtime, gateways=self.box.gateways, run_workers=False)
        self.box.inbox.target = self.client._transport
        self.inbox = self.client._transport.app.state.inbox
        self.keys = 0

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self._run(Tortoise.close_connections())
            self.loop.close()

    # -- what people and providers do ----------------------------------------------------

    @rule(
        target=payments,
        cents=st.integers(min_value=10_000, max_value=150_000),
        method=st.sampled_from([PaymentMethodType.CARD, PaymentMethodType.SPEI]),
        again=st.booleans(),
    )
    def borrower_pays(self, cents: int, method: PaymentMethodType, again: bool) -> int:
        self.keys += 1
        request = PaymentRequest(
            loan_id=self.loan.id,
            amount=Decimal(cents) / 100,
            method=method,
            provider=ProviderName.STRIPE,
            idempotency_key=f"k-{self.keys}",
            card_token="tok_visa" if method is PaymentMethodType.CARD else None,
        )

        async def pay() -> int:
            try:
                payment = await create_payment(self.runtime, self.box.gateways, self.ana, request)
                if again:  # the borrower taps twice
                    twice = await create_payment(self.runtime, self.box.gateways, self.ana, request)
                    assert twice.id == payment.id
            except PaymentRefused:
                return 0  # e.g. more than is owed: refused, nothing changed
            return payment.id

        return self._run(pay())

    @rule(payment_id=payments)
    def payer_pays_the_reference(self, payment_id: int) -> None:
        async def transfer() -> None:
            payment = await Payment.filter(id=payment_id).first()
            if payment is None or S(payment.status) is not S.REQUIRES_ACTION:
                return
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.box.app), base_url="http://sandbox.test"
            ) as sandbox:
                await sandbox.post(f"/stripe/_references/{payment.provider_reference}/pay")

        self._run(transfer())

    @rule(duplicate=st.booleans())
    def webhooks_arrive(self, duplicate: bool) -> None:
        self.box.simulator("stripe").faults.duplicate_webhooks = duplicate
        self._run(self.inbox.process_due())

    @rule()
    def poller_runs(self) -> None:
        self.clock.now = datetime.now(UTC) + timedelta(minutes=11)
        self._run(poll_pending_payments(self.runtime, self.box.gateways))

    @rule(payment_id=payments, share=st.sampled_from([None, 0.25, 0.5, 1.0]))
    def staff_refunds(self, payment_id: int, share: float | None) -> None:
        async def refund() -> None:
            payment = await Payment.filter(id=payment_id).first()
            if payment is None:
                return
            left = payment.amount_centavos - payment.refunded_centavos
            amount = None if share is None else Decimal(max(1, int(left * share))) / 100
            try:
                await refund_payment(
                    self.runtime, self.box.gateways, self.staff, payment_id, amount
                )
            except PaymentRefused:
                pass  # not refundable (yet, or any more): refused, nothing changed

        self._run(refund())

    @rule(days=st.integers(min_value=1, max_value=40))
    def days_pass_and_the_daily_job_runs(self, days: int) -> None:
        self.day += timedelta(days=days)
        self._run(run_daily(self.day))

    # -- what must always hold -------------------------------------------------------------

    @invariant()
    def books_hold(self) -> None:
        if hasattr(self, "loop"):
            self._run(self._check())

    async def _check(self) -> None:
        assert await books_total() == 0  # debits = credits
        payments = await Payment.all()
        # (An advance applied when an installment falls due is a PAYMENT entry of no payment.)
        entries = await JournalEntry.filter(
            kind=JournalKind.PAYMENT, payment_id__isnull=False
        ).values_list("payment_id", flat=True)
        assert len(entries) == len(set(entries))  # each charge applied at most once
        received = {p.id for p in payments if S(p.status) in RECEIVED}
        assert set(entries) == received
        intents = self.box.simulator("stripe").store.all("payment_intents")
        succeeded = {pi["id"] for pi in intents if pi["status"] == "succeeded"}
        for payment in payments:
            assert 0 <= payment.refunded_centavos <= payment.amount_centavos
            if payment.id in received:
                assert payment.provider_reference in succeeded
        confirmed = sum(
            p.amount_centavos - p.refunded_centavos for p in payments if p.id in received
        )
        cash = AccountRef(self.loan.institution_id, T.CASH_CLEARING, provider=ProviderName.STRIPE)
        assert await account_balance(cash) == confirmed
        credited = await Posting.filter(
            entry__kind=JournalKind.PAYMENT, amount_centavos__lt=0
        ).values_list("account__type", flat=True)
        assert set(credited) <= LANDING


def test_pay_refund_accrue_webhook_and_poll_in_any_order_keep_the_books(
    sqlite_template: Path, tmp_path: Path
) -> None:
    PaymentFunnel.template = sqlite_template
    PaymentFunnel.workdir = tmp_path
    run_state_machine_as_test(
        PaymentFunnel,
        settings=settings(
            max_examples=20,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.fixture(autouse=True)
def closed_circuits():
    DEFAULT_BREAKERS.clear()
    yield
    DEFAULT_BREAKERS.clear()
