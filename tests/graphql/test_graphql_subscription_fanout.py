"""Many subscribers of one payment or loan in a process: each event reloads the state once
for all of them (issue 15 #5), and every subscriber still gets it."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from tests.support import factories
from tests.support.http import subscription_context

from puente.accounts.service import AuthService
from puente.enums import PaymentMethodType, PaymentStatus, ProviderName
from puente.graphql import payment_types
from puente.graphql import payments as graphql_payments
from puente.graphql.schema import build_schema
from puente.graphql.types import encode_global_id
from puente.payments.change_notices import notify_transition
from puente.payments.lifecycle_service import advance_payment
from puente.payments.models import Payment

pytestmark = pytest.mark.anyio
SUBSCRIBERS = 25

PAYMENT = "subscription($id: ID!) { paymentStatus(paymentId: $id) { id status } }"
LOAN = "subscription($id: ID!) { loanUpdated(loanId: $id) { id balance { total { amount } } } }"


async def _setup(runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    payment = await Payment.create(
        institution_id=inst.id,
        loan_id=loan.id,
        user_id=ana.id,
        provider=ProviderName.STRIPE,
        method=PaymentMethodType.SPEI,
        amount_centavos=124035,
        status=PaymentStatus.REQUIRES_ACTION,
        idempotency_key="fanout",
        request_fingerprint="x",
        provider_reference="pi_fanout",
    )
    tokens = await AuthService(runtime).login("ana@example.mx", "contrasena-segura-1")
    return loan, payment, tokens.access_token  # type: ignore[union-attr]


async def _open(schema, runtime, token, query, variables) -> tuple[list, list[dict]]:
    streams, firsts = [], []
    for _ in range(SUBSCRIBERS):
        stream = await schema.subscribe(query, variables, subscription_context(runtime, token))
        first = await asyncio.wait_for(anext(stream), 10)
        assert first.errors is None, first.errors
        streams.append(stream)
        firsts.append(first.data)
    return streams, firsts


async def _next_all(streams) -> list[dict]:
    results = await asyncio.wait_for(asyncio.gather(*(anext(s) for s in streams)), 10)
    assert all(result.errors is None for result in results), results[0].errors
    return [result.data for result in results]


async def _close(streams) -> None:
    for stream in streams:
        await stream.aclose()


def _counting(monkeypatch, target, name: str) -> list[int]:
    """Count calls of ``target.name`` (a coroutine function or a query-returning method)."""
    calls: list[int] = []
    real = getattr(target, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, counted)
    return calls


async def test_many_payment_subscribers_share_one_reload_per_event(db, runtime, monkeypatch):
    loan, payment, token = await _setup(runtime)
    schema = build_schema()
    streams, _ = await _open(
        schema, runtime, token, PAYMENT, {"id": encode_global_id("Payment", payment.id)}
    )
    try:
        transition = await advance_payment(
            payment.id, PaymentStatus.PAID, source="test", at=runtime.now()
        )
        reloads = _counting(monkeypatch, Payment, "get")
        await notify_transition(runtime.bus, transition)
        data = await _next_all(streams)
    finally:
        await _close(streams)
    assert [d["paymentStatus"]["status"] for d in data] == ["PAID"] * SUBSCRIBERS
    assert len(reloads) == 1


async def test_many_loan_subscribers_share_one_reload_per_event(db, runtime, monkeypatch):
    loan, payment, token = await _setup(runtime)
    schema = build_schema()
    variables = {"id": encode_global_id("Loan", loan.id)}
    streams, firsts = await _open(schema, runtime, token, LOAN, variables)
    before = {d["loanUpdated"]["balance"]["total"]["amount"] for d in firsts}
    try:
        transition = await advance_payment(
            payment.id, PaymentStatus.PAID, source="test", at=runtime.now()
        )
        reloads = _counting(monkeypatch, graphql_payments, "load_loan_views")
        await notify_transition(runtime.bus, transition)
        data = await _next_all(streams)
    finally:
        await _close(streams)
    totals = {d["loanUpdated"]["balance"]["total"]["amount"] for d in data}
    assert len(data) == SUBSCRIBERS and len(before) == 1 and len(totals) == 1
    assert totals != before  # the payment lowered the balance every subscriber sees
    assert len(reloads) == 1


# -- one execution per event and query; one session check per event (issue 15 #5) ----------

WITH_MESSAGE = (
    "subscription($id: ID!) { paymentStatus(paymentId: $id) { id status failureMessage } }"
)


async def _open_shared(schema, runtime, token, query, variables, count=SUBSCRIBERS):
    """``count`` subscriptions sharing the app's one AuthService, as WebSockets do."""
    auth = AuthService(runtime)
    streams, contexts = [], []
    for _ in range(count):
        context = subscription_context(runtime, token, auth)
        stream = await schema.subscribe(query, variables, context)
        first = await asyncio.wait_for(anext(stream), 10)
        assert first.errors is None, first.errors
        streams.append(stream)
        contexts.append(context)
    return streams, contexts, auth


async def _pay(runtime, payment) -> None:
    transition = await advance_payment(
        payment.id, PaymentStatus.PAID, source="test", at=runtime.now()
    )
    await notify_transition(runtime.bus, transition)


async def test_subscribers_of_one_query_share_one_execution_per_event(db, runtime, monkeypatch):
    loan, payment, token = await _setup(runtime)
    variables = {"id": encode_global_id("Payment", payment.id)}
    streams, _, _ = await _open_shared(build_schema(), runtime, token, WITH_MESSAGE, variables)
    executions = _counting(monkeypatch, payment_types, "failure_message")
    try:
        await _pay(runtime, payment)
        data = await _next_all(streams)
    finally:
        await _close(streams)
    assert data == [data[0]] * SUBSCRIBERS and data[0]["paymentStatus"]["status"] == "PAID"
    assert len(executions) == 1  # the selection ran once for the 25 of them


async def test_without_sharing_every_subscriber_executes_its_own(db, runtime, monkeypatch):
    """The baseline the benchmark compares with, and proof the count above can fail."""
    loan, payment, token = await _setup(runtime)
    variables = {"id": encode_global_id("Payment", payment.id)}
    schema = build_schema(share_subscription_results=False)
    streams, _, _ = await _open_shared(schema, runtime, token, WITH_MESSAGE, variables)
    executions = _counting(monkeypatch, payment_types, "failure_message")
    try:
        await _pay(runtime, payment)
        await _next_all(streams)
    finally:
        await _close(streams)
    assert len(executions) == SUBSCRIBERS


async def test_other_queries_and_other_viewers_are_executed_apart(db, runtime, monkeypatch):
    loan, payment, token = await _setup(runtime)
    variables = {"id": encode_global_id("Payment", payment.id)}
    schema = build_schema()
    plain, _, _ = await _open_shared(schema, runtime, token, WITH_MESSAGE, variables, 3)
    other_query = WITH_MESSAGE.replace("id status failureMessage", "failureMessage status")
    reordered, _, _ = await _open_shared(schema, runtime, token, other_query, variables, 3)
    viewers, contexts, _ = await _open_shared(schema, runtime, token, WITH_MESSAGE, variables, 3)
    for number, context in enumerate(contexts):
        # Resolvers may answer by who asks: another viewer never gets someone else's result.
        monkeypatch.setattr(context, "shared_result_key", lambda n=number: ("viewer", n))
    executions = _counting(monkeypatch, payment_types, "failure_message")
    try:
        await _pay(runtime, payment)
        first = await _next_all(plain)
        second = await _next_all(reordered)
        third = await _next_all(viewers)
    finally:
        await _close(plain + reordered + viewers)
    assert len(executions) == 1 + 1 + 3
    assert list(second[0]["paymentStatus"]) == ["failureMessage", "status"]
    assert third[0] == first[0]


async def test_one_session_check_per_event_for_every_subscriber(db, runtime, monkeypatch):
    loan, payment, token = await _setup(runtime)
    variables = {"id": encode_global_id("Payment", payment.id)}
    streams, _, auth = await _open_shared(build_schema(), runtime, token, PAYMENT, variables)
    batches = _counting(monkeypatch, auth, "still_valid_many")
    singles = _counting(monkeypatch, auth, "still_valid")
    try:
        await _pay(runtime, payment)
        await _next_all(streams)
    finally:
        await _close(streams)
    assert len(batches) == 1 and not singles


async def test_a_session_revoked_before_the_event_ends_its_subscriptions_only(db, runtime):
    """Ana on two devices; she logs out of one: its subscriptions end with SESSION_ENDED
    before the event reaches them, the other device's get the event."""
    loan, payment, token = await _setup(runtime)
    other = await AuthService(runtime).login("ana@example.mx", "contrasena-segura-1")
    variables = {"id": encode_global_id("Payment", payment.id)}
    schema = build_schema()
    kept, _, _ = await _open_shared(schema, runtime, token, PAYMENT, variables, 10)
    ended, _, auth = await _open_shared(schema, runtime, other.access_token, PAYMENT, variables, 10)
    try:
        await auth.logout(other.refresh_token)
        await _pay(runtime, payment)
        results = await asyncio.wait_for(asyncio.gather(*(anext(s) for s in kept + ended)), 10)
    finally:
        await _close(kept + ended)
    for result in results[:10]:
        assert result.errors is None and result.data["paymentStatus"]["status"] == "PAID"
    for result in results[10:]:
        assert result.data is None
        assert result.errors[0].extensions["code"] == "SESSION_ENDED"
