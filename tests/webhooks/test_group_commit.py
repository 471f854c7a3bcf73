"""Group commit: deliveries that arrive together are stored in one statement, each answered
only once its row is stored, duplicates still stored once, a bad row failing only itself."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import pytest
from tests.payments.test_webhooks import intent_event, setup, signed
from tests.support import factories
from tortoise.exceptions import IntegrityError

from puente.enums import ProviderEventStatus
from puente.webhooks.models import ProviderEvent
from puente.webhooks.writer import InboxWriter, ReceivedEvent

pytestmark = pytest.mark.anyio


def received(institution_id: int, event_id: str, **changes: object) -> ReceivedEvent:
    values: dict[str, object] = {
        "provider": "stripe",
        "event_id": event_id,
        "event_type": "charge.updated",
        "institution_id": institution_id,
        "kind": "ignored",
        "provider_payment_id": None,
        "puente_payment_id": None,
        "amount_centavos": None,
        "occurred_at": None,
        "raw_body": "{}",
        "headers": {"content-type": "application/json"},
        "body_authenticated": True,
        "status": ProviderEventStatus.RECEIVED,
        "processed_at": None,
        "received_at": datetime(2026, 11, 27, 18, tzinfo=UTC),
        "request_id": "req-1",
    }
    values.update(changes)
    return ReceivedEvent(**values)  # type: ignore[arg-type]


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of rows in each INSERT the writer runs."""
    sizes: list[int] = []
    insert = InboxWriter._insert

    async def counted(self: InboxWriter, rows: list) -> set:
        sizes.append(len(rows))
        return await insert(self, rows)

    monkeypatch.setattr(InboxWriter, "_insert", counted)
    return sizes


async def test_concurrent_webhooks_are_all_stored_and_acknowledged_in_fewer_commits(
    db, runtime, statements
):
    ana, loan, box, client = await setup(runtime)
    deliveries = [signed(runtime, intent_event(f"evt_gc_{n}", f"pi_gc_{n}")) for n in range(24)]
    async with client:
        answers = await asyncio.gather(
            *(client.post("/webhooks/stripe", content=raw, headers=h) for raw, h in deliveries)
        )
    assert [a.status_code for a in answers] == [200] * 24
    assert not any(a.json().get("duplicate") for a in answers)
    stored = await ProviderEvent.filter(event_id__startswith="evt_gc_").values_list(
        "event_id", flat=True
    )
    assert sorted(stored) == sorted(f"evt_gc_{n}" for n in range(24))
    assert sum(statements) == 24 and len(statements) < 24  # some rows shared a commit
    row = await ProviderEvent.get(event_id="evt_gc_3")
    assert row.kind == "payment.succeeded" and row.provider_payment_id == "pi_gc_3"
    assert row.status is ProviderEventStatus.RECEIVED and row.body_authenticated
    assert "stripe-signature" not in row.headers and row.received_at.tzinfo is not None


async def test_the_same_event_delivered_concurrently_is_stored_once(db, runtime, statements):
    ana, loan, box, client = await setup(runtime)
    raw, headers = signed(runtime, intent_event("evt_gc_twice", "pi_gc_twice"))
    others = [signed(runtime, intent_event(f"evt_gc_o{n}", f"pi_gc_o{n}")) for n in range(3)]
    async with client:
        answers = await asyncio.gather(
            *(client.post("/webhooks/stripe", content=raw, headers=headers) for _ in range(5)),
            *(client.post("/webhooks/stripe", content=r, headers=h) for r, h in others),
        )
    assert [a.status_code for a in answers] == [200] * 8
    copies = [a.json() for a in answers[:5]]
    assert sum(not c.get("duplicate") for c in copies) == 1  # one stored it, four were told
    assert sum(bool(c.get("duplicate")) for c in copies) == 4
    assert await ProviderEvent.filter(event_id="evt_gc_twice").count() == 1
    assert await ProviderEvent.filter(event_id__startswith="evt_gc_o").count() == 3


async def test_duplicates_within_one_batch_are_written_once(db, runtime, statements):
    inst = await factories.institution()
    writer = InboxWriter()
    event = received(inst.id, "evt_batch_dup")
    outcomes = await asyncio.gather(
        writer.store(event), writer.store(event), writer.store(received(inst.id, "evt_other"))
    )
    assert outcomes == [True, False, True]
    assert statements == [2]  # one statement, the copy left out of it
    assert await ProviderEvent.filter(event_id="evt_batch_dup").count() == 1
    assert await writer.store(event) is False  # and a later copy is a duplicate too


async def test_two_writers_storing_the_same_event_store_it_once(db, runtime):
    """Two server processes each have their own writer: the unique index decides."""
    inst = await factories.institution()
    event = received(inst.id, "evt_two_processes")
    outcomes = await asyncio.gather(InboxWriter().store(event), InboxWriter().store(event))
    assert sorted(outcomes) == [False, True]
    assert await ProviderEvent.filter(event_id="evt_two_processes").count() == 1


async def test_a_row_that_cannot_be_stored_fails_only_its_own_request(db, runtime, statements):
    inst = await factories.institution()
    writer = InboxWriter()
    good = [received(inst.id, f"evt_good_{n}") for n in range(4)]
    orphan = received(inst.id + 999, "evt_orphan")  # no such institution: the FK refuses it
    outcomes = await asyncio.gather(
        *(writer.store(e) for e in good[:2]),
        writer.store(orphan),
        *(writer.store(e) for e in good[2:]),
        return_exceptions=True,
    )
    assert outcomes[:2] == [True, True] and outcomes[3:] == [True, True]
    assert isinstance(outcomes[2], IntegrityError)
    assert statements[0] == 5  # the batch failed as a whole, then each row alone
    assert sorted(statements[1:]) == [1] * 5
    stored = await ProviderEvent.all().values_list("event_id", flat=True)
    assert sorted(stored) == [f"evt_good_{n}" for n in range(4)]


async def test_deliveries_arriving_while_a_batch_commits_are_never_left_waiting(db, runtime):
    inst = await factories.institution()
    writer = InboxWriter()

    async def deliver(n: int) -> bool:
        await asyncio.sleep(random.random() / 50)  # arrivals spread over the writes
        return await writer.store(received(inst.id, f"evt_spread_{n}"))

    outcomes = await asyncio.wait_for(asyncio.gather(*(deliver(n) for n in range(60))), 30)
    assert outcomes == [True] * 60
    assert await ProviderEvent.filter(event_id__startswith="evt_spread_").count() == 60
    assert not writer._writers and not writer._pending
