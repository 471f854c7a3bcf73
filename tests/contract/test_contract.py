"""The behaviour every gateway connector must show against its simulator."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from tests.support.metrics import sample_value

from puente.money import to_centavos
from puente.providers.base import (
    AuthenticationError,
    ChargeRequest,
    CircuitOpen,
    CustomerInfo,
    EventKind,
    ExpiredCard,
    InsufficientFunds,
    InvalidRequest,
    InvalidSignature,
    MalformedWebhook,
    NotSupported,
    PaymentDeclined,
    PaymentMethod,
    PaymentStatus,
    ProviderUnavailable,
    ReferenceRequest,
    RefundStatus,
    StaleSignature,
)
from puente.providers.circuit import CircuitPolicy, CircuitState
from puente.providers.http import TimeoutPolicy
from puente.providers.metrics import render_prometheus
from puente.reconciliation.settlements import payout_breakdowns

if TYPE_CHECKING:
    from tests.contract.conftest import Harness

pytestmark = pytest.mark.anyio
HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)


def _charge(harness: Harness, key: str, token: str | None = None, amount: str = "150.00"):
    return ChargeRequest(
        amount=Decimal(amount),
        token=token or harness.case.success_token,
        idempotency_key=key,
        description="Colegiatura septiembre",
        metadata={"installment": "inst_1"},
        device_session_id="contract0device0session0id000001",  # Openpay's antifraud
    )


async def test_card_charge_succeeds_and_is_announced_by_webhook(harness: Harness) -> None:
    async with harness.connector() as connector:
        payment = await connector.charge(_charge(harness, "pay-1"))
        assert payment.status is PaymentStatus.SUCCEEDED
        assert payment.amount == Decimal("150.00")
        assert payment.method is PaymentMethod.CARD
        assert payment.currency == "MXN"
        again = await connector.get_payment(payment.provider_id)
        assert again.status is PaymentStatus.SUCCEEDED
        events = await harness.events(connector)
    succeeded = [e for e in events if e.kind is EventKind.PAYMENT_SUCCEEDED]
    assert [e.provider_payment_id for e in succeeded] == [payment.provider_id]
    assert succeeded[0].amount == Decimal("150.00")


async def test_generic_decline_keeps_provider_code_and_the_failed_payment(
    harness: Harness,
) -> None:
    async with harness.connector() as connector:
        with pytest.raises(PaymentDeclined) as caught:
            await connector.charge(_charge(harness, "pay-2", harness.case.declined_token))
        error = caught.value
        assert type(error) is PaymentDeclined
        assert error.code.value == "card_declined"
        assert error.provider_code and error.provider_message
        assert error.retryable is False
        assert error.payment is not None and error.payment.status is PaymentStatus.FAILED
        stored = await connector.get_payment(error.payment.provider_id)
        assert stored.status is PaymentStatus.FAILED
        assert stored.failure_code == "card_declined"
        kinds = [e.kind for e in await harness.events(connector)]
    assert EventKind.PAYMENT_FAILED in kinds


@pytest.mark.parametrize(
    ("token_field", "error_class", "code"),
    [
        ("insufficient_funds_token", InsufficientFunds, "insufficient_funds"),
        ("expired_card_token", ExpiredCard, "expired_card"),
    ],
)
async def test_specific_declines_are_normalised(
    harness: Harness, token_field: str, error_class: type, code: str
) -> None:
    async with harness.connector() as connector:
        with pytest.raises(error_class) as caught:
            await connector.charge(_charge(harness, "pay-3", getattr(harness.case, token_field)))
    assert caught.value.code.value == code


async def test_full_and_partial_refunds(harness: Harness) -> None:
    async with harness.connector() as connector:
        first = await connector.charge(_charge(harness, "pay-4"))
        partial = await connector.refund(first.provider_id, Decimal("40.00"), idempotency_key="r-1")
        assert partial.amount == Decimal("40.00")
        assert partial.status is RefundStatus.SUCCEEDED
        after = await connector.get_payment(first.provider_id)
        assert after.status is PaymentStatus.PARTIALLY_REFUNDED
        assert after.amount_refunded == Decimal("40.00")
        rest = await connector.refund(first.provider_id, idempotency_key="r-2")
        assert rest.amount == Decimal("110.00")
        final = await connector.get_payment(first.provider_id)
        assert final.status is PaymentStatus.REFUNDED
        with pytest.raises(InvalidRequest):
            await connector.refund(first.provider_id, Decimal("1.00"), idempotency_key="r-3")
        kinds = [e.kind for e in await harness.events(connector)]
    assert kinds.count(EventKind.PAYMENT_REFUNDED) == 2


async def test_refund_more_than_paid_is_refused(harness: Harness) -> None:
    async with harness.connector() as connector:
        payment = await connector.charge(_charge(harness, "pay-5"))
        with pytest.raises(InvalidRequest):
            await connector.refund(payment.provider_id, Decimal("150.01"), idempotency_key="r-9")


async def test_transactions_and_settlements_are_listed(harness: Harness) -> None:
    async with harness.connector() as connector:
        one = await connector.charge(_charge(harness, "pay-6", amount="100.00"))
        await connector.charge(_charge(harness, "pay-7", amount="250.00"))
        await connector.refund(one.provider_id, Decimal("30.00"), idempotency_key="r-6")
        lines = await connector.list_transactions(HOUR_AGO)
        assert [line.amount for line in lines] == [
            Decimal("100.00"),
            Decimal("250.00"),
            Decimal("-30.00"),
        ]
        assert all(line.net == line.amount - line.fee for line in lines)
        assert lines[0].fee > 0
        assert await connector.list_settlements(HOUR_AGO) == []
        harness.simulator.settle()
        settlements = await connector.list_settlements(HOUR_AGO)
        assert len(settlements) == 1
        assert settlements[0].amount == sum(line.net for line in lines)
        future = await connector.list_transactions(datetime.now(UTC) + timedelta(hours=1))
        assert future == []


async def test_listing_pages_through_everything(harness: Harness) -> None:
    async with harness.connector() as connector:
        for n in range(5):
            await connector.charge(_charge(harness, f"bulk-{n}"))
        connector.page_size = 2  # five lines come back in three pages
        lines = await connector.list_transactions(HOUR_AGO)
    assert len(lines) == 5
    assert lines == sorted(lines, key=lambda line: line.created_at)


async def test_webhook_signatures_valid_invalid_and_stale(harness: Harness) -> None:
    async with harness.connector() as connector:
        await connector.charge(_charge(harness, "pay-8"))
        delivery = harness.inbox.received[-1]
        body, headers = delivery.content, dict(delivery.headers)
        event = await connector.verify_webhook(body, headers)
        assert event.provider == harness.case.name and event.event_id
        other = harness.simulator.sign_webhook(body, int(time.time()))
        forged = {k: v.replace(v[-6:], "000000") for k, v in other.items()}
        with pytest.raises(InvalidSignature):
            await connector.verify_webhook(body, forged)
        tamper = harness.case.tamper  # None: the provider vouches for the sender, not the body
        if tamper is not None:
            with pytest.raises(InvalidSignature):
                await connector.verify_webhook(tamper(body), headers)
            later = datetime.now(UTC) + timedelta(seconds=connector.config.webhook_tolerance + 60)
            with pytest.raises(StaleSignature):
                await connector.verify_webhook(body, headers, now=later)
        with pytest.raises(MalformedWebhook):
            await connector.verify_webhook(body, {"content-type": "application/json"})


async def test_unknown_webhook_type_is_acknowledged_not_fatal(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    now = int(time.time())
    body = harness.case.unknown_event(now)
    headers = harness.simulator.sign_webhook(body, now)
    async with harness.connector() as connector:
        with caplog.at_level("INFO", logger="puente.providers"):
            event = await connector.verify_webhook(body, headers)
    assert event.kind is EventKind.UNKNOWN
    assert "unknown type" in caplog.text


async def test_5xx_then_success_with_same_key_charges_once(harness: Harness) -> None:
    harness.simulator.faults.fail_next = 2
    async with harness.connector() as connector:
        payment = await connector.charge(_charge(harness, "pay-9"))
        assert payment.status is PaymentStatus.SUCCEEDED
        assert len(harness.sleeps) == 2  # two backoffs, then the third attempt went through
        assert len(await connector.list_transactions(HOUR_AGO)) == 1


async def test_lost_response_is_replayed_not_charged_twice(harness: Harness) -> None:
    harness.simulator.faults.lose_next = 1  # the provider charged, the answer was lost
    async with harness.connector() as connector:
        payment = await connector.charge(_charge(harness, "pay-10"))
        again = await connector.charge(_charge(harness, "pay-10"))  # the service retries later
        assert again.provider_id == payment.provider_id
        assert len(await connector.list_transactions(HOUR_AGO)) == 1


async def test_outage_longer_than_retries_surfaces_then_same_key_charges_once(
    harness: Harness,
) -> None:
    harness.simulator.faults.fail_next = 3
    async with harness.connector(circuit=CircuitPolicy(failure_threshold=10)) as connector:
        with pytest.raises(ProviderUnavailable) as caught:
            await connector.charge(_charge(harness, "pay-11"))
        assert caught.value.retryable is True
        payment = await connector.charge(_charge(harness, "pay-11"))
        assert payment.status is PaymentStatus.SUCCEEDED
        assert len(await connector.list_transactions(HOUR_AGO)) == 1


async def test_timeout_is_retried(harness: Harness) -> None:
    harness.simulator.faults.update({"timeout_next": 1, "hang_seconds": 5.0})
    async with harness.connector(timeout=TimeoutPolicy(total=0.05)) as connector:
        payment = await connector.charge(_charge(harness, "pay-12"))
    assert payment.status is PaymentStatus.SUCCEEDED
    assert harness.metrics.error_count(harness.case.name, "provider_unavailable") == 1


async def test_circuit_opens_on_outage_and_half_opens_to_probe(harness: Harness) -> None:
    faults = harness.simulator.faults
    faults.error_rate = 1.0
    async with harness.connector() as connector:
        with pytest.raises(ProviderUnavailable):
            await connector.charge(_charge(harness, "pay-13"))
        assert connector.http.breaker.state is CircuitState.OPEN
        seen = faults.api_requests
        with pytest.raises(CircuitOpen) as caught:
            await connector.charge(_charge(harness, "pay-13"))
        assert faults.api_requests == seen  # short-circuited: the provider was not called
        assert caught.value.code.value == "provider_unavailable"
        harness.clock.advance(31)
        faults.reset()
        payment = await connector.charge(_charge(harness, "pay-13"))
        assert payment.status is PaymentStatus.SUCCEEDED
        assert connector.http.breaker.state is CircuitState.CLOSED
    text = render_prometheus(harness.metrics)
    errors = sample_value(
        text, "puente_provider_errors_total", provider=harness.case.name, code="circuit_open"
    )
    assert errors == 1


async def test_declines_do_not_open_the_circuit(harness: Harness) -> None:
    async with harness.connector() as connector:
        for n in range(5):
            with pytest.raises(PaymentDeclined):
                await connector.charge(_charge(harness, f"d-{n}", harness.case.declined_token))
        assert connector.http.breaker.state is CircuitState.CLOSED


async def test_bad_credentials_are_an_authentication_error(harness: Harness) -> None:
    wrong = harness.case.wrong_credentials
    async with harness.connector(wrong) as connector:
        with pytest.raises(AuthenticationError) as caught:
            await connector.charge(_charge(harness, "pay-14"))
    error = caught.value
    for secret in wrong.values():
        assert secret not in str(error)
        assert secret not in repr(error)
        assert secret not in repr(error.raw)


async def test_spei_reference_paid_from_the_sandbox_or_refused(harness: Harness) -> None:
    async with harness.connector() as connector:
        payer = CustomerInfo(name="Ana López", email="ana@example.mx", external_id="stu_1")
        request = ReferenceRequest(
            amount=Decimal("1200.00"), idempotency_key="spei-1", customer=payer
        )
        if PaymentMethod.SPEI not in connector.methods:
            # A gateway without SPEI (PayPal) must say so, not half-create a reference.
            with pytest.raises(NotSupported):
                await connector.create_spei_reference(request)
            assert harness.simulator.pending_references() == []
            return
        payment = await connector.create_spei_reference(request)
        assert payment.status is PaymentStatus.REQUIRES_ACTION
        assert payment.method is PaymentMethod.SPEI
        action = payment.next_action
        assert action is not None and action.clabe and len(action.clabe) == 18
        assert action.reference
        pending = [r.id for r in harness.simulator.pending_references()]
        assert payment.provider_id in pending
        response = await harness.admin("POST", f"/_references/{payment.provider_id}/pay")
        assert response.status_code == 200
        paid = await connector.get_payment(payment.provider_id)
        assert paid.status is PaymentStatus.SUCCEEDED
        kinds = {(e.kind, e.provider_payment_id) for e in await harness.events(connector)}
    assert (EventKind.PAYMENT_SUCCEEDED, payment.provider_id) in kinds


async def test_cash_reference_paid_expired_or_refused(harness: Harness) -> None:
    async with harness.connector() as connector:
        payer = CustomerInfo(name="Luis Pérez", email="luis@example.mx")
        first = ReferenceRequest(amount=Decimal("500.00"), idempotency_key="cash-1", customer=payer)
        if PaymentMethod.CASH not in connector.methods:
            # A gateway without cash vouchers (PayPal) must say so, not half-create one.
            with pytest.raises(NotSupported):
                await connector.create_cash_reference(first)
            assert harness.simulator.pending_references() == []
            return
        paid_ref = await connector.create_cash_reference(first)
        assert paid_ref.status is PaymentStatus.REQUIRES_ACTION
        assert paid_ref.next_action and paid_ref.next_action.reference
        assert paid_ref.next_action.expires_at and paid_ref.next_action.voucher_url
        lapsed = await connector.create_cash_reference(
            ReferenceRequest(amount=Decimal("500.00"), idempotency_key="cash-2", customer=payer)
        )
        await harness.admin("POST", f"/_references/{paid_ref.provider_id}/pay")
        await harness.admin("POST", f"/_references/{lapsed.provider_id}/expire")
        assert (await connector.get_payment(paid_ref.provider_id)).status is PaymentStatus.SUCCEEDED
        assert (await connector.get_payment(lapsed.provider_id)).status is PaymentStatus.EXPIRED
        kinds = {(e.kind, e.provider_payment_id) for e in await harness.events(connector)}
    assert (EventKind.PAYMENT_EXPIRED, lapsed.provider_id) in kinds


async def test_saved_card_is_charged_again(harness: Harness) -> None:
    async with harness.connector() as connector:
        customer = await connector.create_customer(
            CustomerInfo(name="Eva", email="eva@example.mx"), idempotency_key="cus-1"
        )
        method = await connector.save_payment_method(
            customer.provider_id, harness.case.success_token, idempotency_key="pm-1"
        )
        assert method.customer_id == customer.provider_id and method.last4
        payment = await connector.charge(
            ChargeRequest(
                amount=Decimal("99.00"),
                payment_method_id=method.provider_id,
                customer_id=customer.provider_id,
                idempotency_key="pay-15",
            )
        )
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.customer_id == customer.provider_id


async def test_duplicate_and_out_of_order_deliveries_keep_their_event_ids(
    harness: Harness,
) -> None:
    harness.simulator.faults.update({"duplicate_webhooks": True, "out_of_order_webhooks": True})
    async with harness.connector() as connector:
        await connector.charge(_charge(harness, "pay-16"))
        events = await harness.events(connector)
    ids = [e.event_id for e in events]
    assert len(ids) == 2 * len(set(ids))  # every event twice: dedupe on event_id
    times = [e.occurred_at for e in events]
    assert times == sorted(times, reverse=True) or len(set(times)) == 1
    first_success = next(i for i, e in enumerate(events) if e.kind is EventKind.PAYMENT_SUCCEEDED)
    assert first_success == 0  # the last thing that happened arrived first


async def test_unknown_payment_id_is_not_found(harness: Harness) -> None:
    async with harness.connector() as connector:
        with pytest.raises(InvalidRequest) as caught:
            await connector.get_payment("does_not_exist_123")
    assert caught.value.http_status == 404


async def test_a_payout_breaks_down_into_charges_refunds_fees_and_iva(harness: Harness) -> None:
    # What reconciliation books for a payout: Dr bank (net), Dr fees, Dr IVA acreditable,
    # Cr clearing (gross); the charges it carried name the payments Puente knows.
    async with harness.connector() as connector:
        one = await connector.charge(_charge(harness, "pay-8", amount="100.00"))
        two = await connector.charge(_charge(harness, "pay-9", amount="250.00"))
        await connector.refund(one.provider_id, Decimal("30.00"), idempotency_key="r-8")
        harness.simulator.settle()
        ((payout, parts),) = await payout_breakdowns(connector, HOUR_AGO)
        lines = await connector.list_transactions(HOUR_AGO)
    assert parts.gross == 320_00  # 100 + 250 charged, 30 refunded
    assert parts.net == to_centavos(payout.amount)
    assert parts.gross - parts.fee - parts.fee_vat == parts.net
    assert parts.fee > 0 and parts.fee_vat > 0
    assert parts.fee + parts.fee_vat == to_centavos(sum(line.fee for line in lines))
    assert sorted(parts.payment_references) == sorted([one.provider_id, two.provider_id])
