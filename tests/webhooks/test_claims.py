"""Many workers drain one webhook queue: each event is processed by exactly one of them."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from tests.support import factories

from puente.enums import ProviderEventStatus, ProviderName
from puente.webhooks.inbox import WebhookInbox
from puente.webhooks.models import ProviderEvent

pytestmark = pytest.mark.anyio


async def test_concurrent_workers_claim_disjoint_events(db, runtime, monkeypatch):
    inst = await factories.institution()
    await ProviderEvent.bulk_create(
        [
            ProviderEvent(
                provider=ProviderName.STRIPE,
                event_id=f"evt_{n}",
                event_type="charge.updated",
                institution_id=inst.id,
                kind="ignored",
                raw_body="{}",
            )
            for n in range(40)
        ]
    )
    processed: Counter[int] = Counter()

    async def count(self, event):
        processed[event.id] += 1
        await asyncio.sleep(0)  # let the other workers interleave
        return ProviderEventStatus.IGNORED

    monkeypatch.setattr(WebhookInbox, "_process", count)
    workers = [WebhookInbox(runtime, gateways=None) for _ in range(4)]  # type: ignore[arg-type]
    rounds = 0
    while await ProviderEvent.filter(status=ProviderEventStatus.RECEIVED).exists():
        await asyncio.gather(*(worker.process_due(limit=7) for worker in workers))
        rounds += 1
        assert rounds < 20
    assert len(processed) == 40
    assert set(processed.values()) == {1}


async def test_a_claimed_event_is_not_taken_again_before_its_lease_lapses(db, runtime, clock):
    from datetime import timedelta

    inst = await factories.institution()
    await ProviderEvent.create(
        provider=ProviderName.STRIPE,
        event_id="evt_lease",
        event_type="charge.updated",
        institution_id=inst.id,
        raw_body="{}",
    )
    first = WebhookInbox(runtime, gateways=None, lease_seconds=30)  # type: ignore[arg-type]
    claimed = await first._claim_due(clock.now, 10)
    assert [event.event_id for event in claimed] == ["evt_lease"]
    # The first worker "died" holding it: nobody else may take it until the lease lapses.
    assert await first._claim_due(clock.now + timedelta(seconds=29), 10) == []
    heir = await first._claim_due(clock.now + timedelta(seconds=31), 10)
    assert [event.event_id for event in heir] == ["evt_lease"]
    assert heir[0].attempts == 2
