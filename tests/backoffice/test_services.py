"""The console's services: feed, notices, queues, replay, health, search, actions, stats."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from tests.support import factories

from puente.accounts.models import User
from puente.accounts.users import create_borrower_profile
from puente.audit.models import AuditEvent
from puente.backoffice import actions
from puente.backoffice.feed import FeedFilter, parse_feed_filter, recent_feed
from puente.backoffice.queues import delinquent_loans, expiring_references, replay_webhook
from puente.backoffice.roles import ConsoleRefused
from puente.backoffice.search import search_borrowers
from puente.backoffice.stats import collections_by_day, delinquency_over_time
from puente.enums import LoanStatus, PaymentMethodType, ProviderName, Role
from puente.enums import PaymentStatus as S
from puente.enums import ProviderEventStatus as E
from puente.loans.engine import DelinquencyBucket
from puente.loans.lifecycle import mark_defaulted, write_off_loan
from puente.payments.change_notices import institution_channel
from puente.payments.gateways import GatewayDirectory
from puente.payments.outcomes import advance_and_notify
from puente.payments.settled_elsewhere import record_settled_payment
from puente.providers.circuit import CircuitBreakers, CircuitPolicy, CircuitState
from puente.providers.metrics import LatencyHistogram, ProviderMetrics
from puente.providers.values import EventKind
from puente.webhooks.health import p95_seconds, provider_health
from puente.webhooks.inbox import WebhookInbox
from puente.webhooks.models import ProviderEvent

pytestmark = pytest.mark.anyio


async def world(runtime, start: date = date(2026, 11, 2)):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=start)
    caja = await factories.user(runtime, inst, email="caja@example.mx", role=Role.STAFF)
    admin = await factories.user(runtime, inst, email="admin@example.mx", role=Role.ADMIN)
    return inst, ana, loan, caja, admin


async def test_a_committed_payment_change_is_announced_on_the_institution_channel(db, runtime):
    inst, _, loan, _, _ = await world(runtime)
    payment = await factories.payment(loan, key="k1", provider_reference="ref-1")
    async with runtime.bus.subscribe(institution_channel(inst.id)) as notices:
        await advance_and_notify(runtime, payment.id, S.PAID, source="test", at=runtime.now())
        message = await asyncio.wait_for(anext(notices), 2)
    assert message == {
        "kind": "payment.paid",
        "payment": payment.id,
        "loan": loan.id,
        "subject": None,
        "at": runtime.now().isoformat(),
    }


async def test_the_feed_filters_by_kind_method_and_provider(db, runtime):
    inst, _, loan, _, _ = await world(runtime)
    await factories.payment(loan, key="spei", method=PaymentMethodType.SPEI)
    await factories.payment(loan, key="card", method=PaymentMethodType.CARD)
    await ProviderEvent.create(
        provider="conekta",
        event_id="e1",
        event_type="order.paid",
        institution_id=inst.id,
        raw_body="{}",
        status=E.PROCESSED,
    )
    everything = await recent_feed(inst.id, FeedFilter())
    cards = await recent_feed(inst.id, parse_feed_filter({"metodo": "card"})[0])
    hooks = await recent_feed(inst.id, parse_feed_filter({"tipo": "webhook"})[0])
    conekta = await recent_feed(inst.id, parse_feed_filter({"proveedor": "conekta"})[0])
    assert sorted(i.kind for i in everything) == ["pago", "pago", "webhook"]
    assert [i.method for i in cards] == ["card"]
    assert [i.detail for i in hooks] == ["order.paid"]
    assert [i.kind for i in conekta] == ["webhook"]
    assert parse_feed_filter({"metodo": "cheque"}) == (
        FeedFilter(),
        "Método de pago desconocido; se muestran todos.",
    )


async def test_references_about_to_expire_are_listed_soonest_first(db, runtime):
    _, _, loan, _, _ = await world(runtime)
    now = runtime.now()
    late = await factories.payment(loan, key="a", expires_at=now + timedelta(hours=30))
    soon = await factories.payment(loan, key="b", expires_at=now + timedelta(hours=2))
    await factories.payment(loan, key="c", expires_at=now + timedelta(days=5))  # not yet
    await factories.payment(loan, key="d", expires_at=now - timedelta(hours=1))  # lapsed
    await factories.payment(
        loan, key="e", method=PaymentMethodType.CARD, expires_at=now + timedelta(hours=1)
    )  # not a reference
    found = await expiring_references(loan.institution_id, now)
    assert [p.id for p in found] == [soon.id, late.id]


async def test_replaying_a_dead_event_processes_it_through_the_inbox_once(db, runtime):
    inst, _, loan, caja, _ = await world(runtime)
    payment = await factories.payment(loan, key="k1", provider_reference="pi_dead")
    event = await ProviderEvent.create(
        provider="stripe",
        event_id="evt_dead",
        event_type="payment_intent.succeeded",
        institution_id=inst.id,
        kind=EventKind.PAYMENT_SUCCEEDED.value,
        provider_payment_id="pi_dead",
        amount_centavos=payment.amount_centavos,
        body_authenticated=True,
        raw_body="{}",
        status=E.DEAD,
        attempts=8,
        last_error="PaymentNotYetKnown",
    )
    inbox = WebhookInbox(runtime, GatewayDirectory(runtime))
    async with runtime.bus.subscribe(institution_channel(inst.id)) as notices:
        replayed = await replay_webhook(runtime, inbox, caja, event.id)
        heard = [await asyncio.wait_for(anext(notices), 2) for _ in range(2)]
    assert replayed.status is E.PROCESSED
    assert [m["kind"] for m in heard] == [
        "payment.paid",
        "webhook.processed",
    ]  # payment, then event
    await payment.refresh_from_db()
    assert payment.status is S.PAID
    assert await AuditEvent.filter(action="webhook.replayed", actor_id=caja.id).count() == 1
    with pytest.raises(ConsoleRefused, match="fallidos"):
        await replay_webhook(runtime, inbox, caja, event.id)  # processed: nothing to replay


async def test_delinquent_loans_are_grouped_by_bucket(db, runtime):
    inst, ana, _, _, _ = await world(runtime)
    # Started in June, nothing paid: by 27 Nov the first installment is months late.
    late = await factories.active_loan(inst, ana, start=date(2026, 6, 15))
    grouped = await delinquent_loans(inst.id, runtime.today())
    assert [v.loan.id for v in grouped[DelinquencyBucket.DPD_90_PLUS]] == [late.id]
    assert sum(len(v) for v in grouped.values()) == 1


async def test_search_finds_a_borrower_by_curp_rfc_email_name_and_reference(db, runtime):
    inst, ana, loan, _, _ = await world(runtime)
    await create_borrower_profile(runtime, ana, curp="PEMJ900515MJCRRN09", rfc="GOME800101ABA")
    await factories.payment(loan, key="k", provider_reference="pi_123")
    other = await factories.institution("otra")
    await factories.user(runtime, other, email="ana2@example.mx")  # another institution's Ana
    for text, how in [
        ("pemj900515mjcrrn09", "CURP"),
        ("GOME800101ABA", "RFC"),
        ("ana@example", "correo"),
        ("prueba", "nombre"),
        ("pi_123", "referencia de pago"),
    ]:
        (match,) = await search_borrowers(runtime, inst.id, text)
        assert (match.user.id, match.found_by, [x.id for x in match.loans]) == (
            ana.id,
            how,
            [loan.id],
        )
    assert await search_borrowers(runtime, inst.id, "PEMJ900515HJCRRN01") == []
    assert await search_borrowers(runtime, inst.id, " ") == []


def test_p95_is_the_bound_of_the_bucket_holding_it():
    histogram = LatencyHistogram((0.1, 0.5, 1.0))
    for seconds in [0.05] * 90 + [0.4] * 6 + [0.9] * 4:
        histogram.observe(seconds)
    assert p95_seconds(histogram) == 0.5
    assert p95_seconds(LatencyHistogram((0.1,))) is None


async def test_provider_health_shows_the_institutions_breaker_errors_and_last_webhook(db, runtime):
    inst = await factories.institution()
    inst.settings = {"payment_providers": {"card": ["stripe"]}}
    await inst.save()
    from tests.support.gateways import STRIPE

    from puente.payments.gateways import store_credentials

    await store_credentials(runtime, inst.id, "stripe", STRIPE)
    gateways = GatewayDirectory(runtime)
    account = (await gateways.connector(inst, "stripe")).http.account
    breakers, metrics = CircuitBreakers(), ProviderMetrics()
    breaker = breakers.get(f"stripe:{account}", CircuitPolicy(failure_threshold=1))
    breaker.record_failure()
    metrics.observe("stripe", 0.2, "ok")
    metrics.observe("stripe", 3.0, "TIMEOUT")
    metrics.count_error("stripe", "TIMEOUT")
    await ProviderEvent.create(
        provider="stripe",
        event_id="e",
        event_type="t",
        institution_id=inst.id,
        raw_body="{}",
        status=E.PROCESSED,
    )
    rows = await provider_health(inst, metrics=metrics, breakers=breakers)
    (row,) = [r for r in rows if r.provider == "stripe"]
    assert (row.provider, row.state) == ("stripe", CircuitState.OPEN)
    assert (row.requests, row.error_rate, row.p95_latency_ms) == (2, Decimal("0.5"), 5000)
    assert row.last_webhook_at is not None


async def test_actions_refuse_the_wrong_role_in_the_service_too(db, runtime):
    _, _, loan, caja, admin = await world(runtime)
    await mark_defaulted(loan, on=runtime.today())
    with pytest.raises(ConsoleRefused, match="rol"):
        await actions.write_off(runtime, caja, loan.id, "incobrable")
    with pytest.raises(ConsoleRefused, match="rol"):
        await actions.restructure(runtime, caja, loan.id, "6", "acuerdo")
    preview = await actions.preview_write_off(runtime, admin, loan.id, "incobrable")
    assert preview.amount and preview.amount > 0
    await actions.write_off(runtime, admin, loan.id, "incobrable")
    await loan.refresh_from_db()
    assert loan.status is LoanStatus.WRITTEN_OFF


async def test_restructure_by_an_admin_adds_a_contract_version(db, runtime):
    _, _, loan, _, admin = await world(runtime)
    with pytest.raises(ConsoleRefused, match="1 a 120"):
        await actions.preview_restructure(runtime, admin, loan.id, "0", "acuerdo")
    preview = await actions.preview_restructure(runtime, admin, loan.id, "18", "acuerdo")
    assert ("Pagos nuevos", "18") in preview.lines
    assert await actions.restructure(runtime, admin, loan.id, "18", "acuerdo") == 2
    await loan.refresh_from_db()
    assert loan.status is LoanStatus.RESTRUCTURED


async def test_cash_above_the_payoff_is_refused_and_records_nothing(db, runtime):
    _, _, loan, caja, _ = await world(runtime)
    with pytest.raises(ConsoleRefused) as refused:
        await actions.record_cash_payment(runtime, caja, loan.id, "999999", "k")
    assert refused.value.code == "AMOUNT_ABOVE_PAYOFF"
    other = await factories.institution("otra")
    foreign = await factories.user(runtime, other, email="x@example.mx", role=Role.STAFF)
    with pytest.raises(ConsoleRefused, match="no existe"):
        await actions.record_cash_payment(runtime, foreign, loan.id, "100", "k")


async def test_collections_per_day_split_by_method_and_provider(db, runtime):
    _, _, loan, _, _ = await world(runtime)
    today = runtime.today()
    for key, provider, method, amount, days_ago in [
        ("a", ProviderName.STRIPE, PaymentMethodType.CARD, "100.00", 0),
        ("b", ProviderName.STP, PaymentMethodType.SPEI, "50.00", 0),
        ("c", ProviderName.STRIPE, PaymentMethodType.CARD, "25.00", 2),
        ("d", ProviderName.STRIPE, PaymentMethodType.CARD, "9.00", 30),  # out of the window
    ]:
        await record_settled_payment(
            loan,
            Decimal(amount),
            provider=provider,
            method=method,
            idempotency_key=key,
            received_at=runtime.now() - timedelta(days=days_ago),
        )
    by_method, by_provider = await collections_by_day(loan.institution_id, today, count=3)
    assert by_method.days == (today - timedelta(days=2), today - timedelta(days=1), today)
    assert by_method.series == {
        "card": (Decimal("25.00"), Decimal(0), Decimal("100.00")),
        "spei": (Decimal(0), Decimal(0), Decimal("50.00")),
    }
    assert by_provider.series["stp"] == (Decimal(0), Decimal(0), Decimal("50.00"))


async def test_delinquency_over_time_is_rebuilt_from_what_was_paid_by_each_day(db, runtime):
    inst, ana, _, _, _ = await world(runtime)
    loan = await factories.active_loan(inst, ana, start=date(2026, 8, 20))
    # Nothing paid: late since the first due date (20 Sep); by 27 Nov it is 60-89 days late.
    series = await delinquency_over_time(inst.id, runtime.today(), weeks=11)
    assert series.days[0] == date(2026, 9, 18) and series.days[-1] == date(2026, 11, 27)

    def on(index: int) -> dict[str, Decimal]:
        return {name: values[index] for name, values in series.series.items() if values[index]}

    assert on(0) == {}  # 18 Sep: not due yet
    assert on(1) == {"DPD_1_29": 1}  # 25 Sep: 5 days late
    assert on(-1) == {"DPD_60_89": 1}  # 27 Nov: 68 days late
    # Paying everything due (dated 1 Oct) takes it out of the buckets from that week on.
    await record_settled_payment(
        loan,
        Decimal("1500.00"),
        provider=ProviderName.STP,
        method=PaymentMethodType.SPEI,
        idempotency_key="catch-up",
        received_at=datetime(2026, 10, 1, 18, tzinfo=UTC),
    )
    again = await delinquency_over_time(inst.id, runtime.today(), weeks=11)
    assert again.series["DPD_1_29"][1] == 1 and again.series["DPD_1_29"][2] == 0


async def test_the_demo_gives_every_console_queue_something_once(db, runtime):
    from puente.backoffice.demo import load_console_demo
    from puente.backoffice.queues import load_queues
    from puente.demo import load_demo_data
    from puente.institutions.models import Institution

    assert await load_demo_data(runtime) is True
    lender = await Institution.get(slug="financiera-demo")
    assert await load_console_demo(runtime, lender.id, runtime.today()) is False  # already there
    counts = (await load_queues(runtime, lender.id)).counts
    assert counts == {"expiring": 1, "webhooks": 1, "suspense": 1, "exceptions": 1, "delinquent": 1}
    caja = await User.get(email="caja@demo.puente.mx")
    (event,) = (await load_queues(runtime, lender.id)).webhooks
    inbox = WebhookInbox(runtime, GatewayDirectory(runtime))
    assert (await replay_webhook(runtime, inbox, caja, event.id)).status is E.PROCESSED


async def test_an_admin_approves_and_disburses_and_the_console_hears_the_payout(db, runtime):
    from tests.support.gateways import sandboxes

    from puente.loans.origination import originate_loan
    from puente.payments.gateways import store_credentials
    from puente.payments.models import Disbursement
    from puente_sandbox.stp_keys import DEFAULT_STP_CREDENTIALS

    stp = {**DEFAULT_STP_CREDENTIALS, "webhook_allowlist": "127.0.0.1/32"}
    inst, ana, _, caja, admin = await world(runtime)
    application = await originate_loan(
        product=await factories.product(inst),
        borrower_id=ana.id,
        principal=Decimal("8000.00"),
        term_count=6,
        start_date=date(2026, 11, 27),
    )
    await store_credentials(runtime, inst.id, "stp", stp)
    box = sandboxes(runtime, {"stp": stp})
    clabe = "012180001234567899"
    with pytest.raises(ConsoleRefused, match="rol"):
        await actions.preview_disbursement(caja, application.id, clabe, "Ana Prueba")
    with pytest.raises(ConsoleRefused) as bad:
        await actions.preview_disbursement(admin, application.id, "012180001234567890", "Ana")
    assert bad.value.code == "INVALID_CLABE"
    preview = await actions.preview_disbursement(admin, application.id, clabe, "Ana Prueba")
    assert preview.amount == Decimal("8000.00")  # the product charges no opening fee
    async with runtime.bus.subscribe(institution_channel(inst.id)) as notices:
        sent = await actions.approve_and_disburse(
            runtime, box.gateways, admin, application.id, clabe, "Ana Prueba"
        )
        heard = await asyncio.wait_for(anext(notices), 2)
    assert heard["kind"] == "disbursement.requested" and heard["loan"] == application.id
    assert await Disbursement.filter(loan_id=application.id).count() == 1
    assert sent.amount_centavos == 800000
    requested = AuditEvent.filter(action="loan.disbursement_requested", actor_id=admin.id)
    assert await requested.count() == 1


async def test_a_suspense_item_is_closed_with_a_note_once_and_only_in_its_institution(db, runtime):
    from puente.backoffice.queues import resolve_suspense
    from puente.enums import SuspenseStatus
    from puente.ledger.models import SuspenseItem

    inst, _, loan, caja, _ = await world(runtime)
    await mark_defaulted(loan, on=runtime.today())
    paid = await factories.payment(loan, key="k", provider_reference="pi_x")
    # A payment to a loan that takes none any more is held in suspense by the funnel.
    await write_off_loan(loan, on=runtime.today())
    await advance_and_notify(runtime, paid.id, S.PAID, source="test", at=runtime.now())
    (item,) = await SuspenseItem.filter(institution_id=inst.id)
    other = await factories.institution("otra")
    foreign = await factories.user(runtime, other, email="x@otra.mx", role=Role.STAFF)
    with pytest.raises(ConsoleRefused, match="no existe"):
        await resolve_suspense(runtime, foreign, item.id, "devuelto")
    with pytest.raises(ConsoleRefused, match="Escribe"):
        await resolve_suspense(runtime, caja, item.id, "  ")
    closed = await resolve_suspense(runtime, caja, item.id, "Reembolsado al cliente")
    assert closed.status is SuspenseStatus.RESOLVED and closed.resolved_by_id == caja.id
    with pytest.raises(ConsoleRefused, match="ya se resolvió"):
        await resolve_suspense(runtime, caja, item.id, "otra vez")


async def test_a_suspense_item_of_an_exception_is_resolved_through_the_exception(db, runtime):
    from puente.backoffice.queues import load_queues, resolve_suspense
    from puente.demo import load_demo_data
    from puente.institutions.models import Institution

    await load_demo_data(runtime)
    lender = await Institution.get(slug="financiera-demo")
    queues = await load_queues(runtime, lender.id)
    (item,) = queues.suspense
    assert queues.from_exceptions == {item.id}
    caja = await User.get(email="caja@demo.puente.mx")
    with pytest.raises(ConsoleRefused, match="excepción"):
        await resolve_suspense(runtime, caja, item.id, "nota")
