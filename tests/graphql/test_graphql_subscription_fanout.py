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
