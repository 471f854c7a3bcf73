from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from puente.security.audit import GENESIS_HASH, canonical_json, chain_hash, verify_chain

Row = tuple[int, str, str, dict[str, Any]]


def _chain(count: int) -> list[Row]:
    rows: list[Row] = []
    prev = GENESIS_HASH
    for seq in range(1, count + 1):
        entry = {
            "actor": f"user-{seq}",
            "action": "payment.applied",
            "amount": Decimal(f"{seq}00.10"),
            "at": datetime(2025, 3, 1, 12, seq, tzinfo=UTC),
        }
        digest = chain_hash(prev, entry)
        rows.append((seq, prev, digest, entry))
        prev = digest
    return rows


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert (
        canonical_json({"b": 1, "a": {"d": [1, 2], "c": None}})
        == '{"a":{"c":null,"d":[1,2]},"b":1}'
    )


def test_canonical_json_writes_decimals_and_datetimes_as_strings() -> None:
    mexico_city = timezone(timedelta(hours=-6))
    entry = {
        "amount": Decimal("10.10"),
        "at": datetime(2025, 3, 1, 6, 0, tzinfo=mexico_city),
        "day": date(2025, 3, 1),
        "id": UUID(int=1),
    }
    assert json.loads(canonical_json(entry)) == {
        "amount": "10.10",
        "at": "2025-03-01T12:00:00Z",
        "day": "2025-03-01",
        "id": "00000000-0000-0000-0000-000000000001",
    }


def test_hash_survives_a_json_round_trip_through_storage() -> None:
    ((_, prev, digest, entry),) = _chain(1)
    reloaded = json.loads(canonical_json(entry))
    assert chain_hash(prev, reloaded) == digest


def test_canonical_json_keeps_non_ascii_text_stable() -> None:
    assert canonical_json({"nombre": "Peña"}) == '{"nombre":"Peña"}'


@pytest.mark.parametrize(
    "entry",
    [{"x": 1.5}, {"x": datetime(2025, 1, 1)}, {"x": Decimal("NaN")}, {1: "a"}, {"x": object()}],
    ids=["float", "naive-datetime", "nan", "int-key", "object"],
)
def test_ambiguous_values_are_refused(entry: dict[Any, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        canonical_json(entry)


def test_chain_hash_refuses_a_malformed_prev_hash() -> None:
    with pytest.raises(ValueError):
        chain_hash("abc", {})


def test_intact_chain_verifies() -> None:
    report = verify_chain(_chain(5))
    assert (report.ok, report.checked, report.first_bad_seq, report.reason) == (True, 5, None, None)


def test_empty_chain_verifies() -> None:
    assert verify_chain([]).ok is True


def test_modified_entry_is_found() -> None:
    rows = _chain(5)
    seq, prev, digest, entry = rows[2]
    rows[2] = (seq, prev, digest, {**entry, "amount": Decimal("999999.00")})
    report = verify_chain(rows)
    assert (report.ok, report.first_bad_seq, report.checked) == (False, 3, 2)
    assert "modified" in (report.reason or "")


def test_modified_entry_with_recomputed_hash_breaks_the_next_link() -> None:
    rows = _chain(5)
    seq, prev, _, entry = rows[2]
    forged = {**entry, "amount": Decimal("1.00")}
    rows[2] = (seq, prev, chain_hash(prev, forged), forged)
    report = verify_chain(rows)
    assert (report.ok, report.first_bad_seq) == (False, 4)


def test_deleted_entry_is_found_by_the_sequence_gap() -> None:
    rows = _chain(5)
    del rows[1]
    report = verify_chain(rows)
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert "deleted" in (report.reason or "")


def test_deleted_and_renumbered_entry_is_found_by_the_broken_link() -> None:
    rows = _chain(5)
    del rows[1]
    rows = [(index, prev, digest, entry) for index, (_, prev, digest, entry) in enumerate(rows, 1)]
    report = verify_chain(rows)
    assert (report.ok, report.first_bad_seq) == (False, 2)
    assert "prev_hash" in (report.reason or "")


def test_reordered_entries_are_found() -> None:
    rows = _chain(5)
    rows[1], rows[2] = rows[2], rows[1]
    report = verify_chain(rows)
    assert (report.ok, report.first_bad_seq, report.checked) == (False, 3, 1)
    assert "reordered" in (report.reason or "")


def test_entry_moved_backwards_is_found() -> None:
    rows = _chain(5)
    rows.insert(3, rows[1])  # seq 2 appears again after seq 3
    report = verify_chain(rows)
    assert (report.ok, report.first_bad_seq) == (False, 2)
    assert "out of order" in (report.reason or "")


def test_swapped_entry_bodies_are_found() -> None:
    rows = _chain(5)
    (s2, p2, h2, e2), (s3, p3, h3, e3) = rows[1], rows[2]
    rows[1], rows[2] = (s2, p2, h2, e3), (s3, p3, h3, e2)
    assert verify_chain(rows).first_bad_seq == 2


def test_first_entry_must_link_to_genesis() -> None:
    rows = _chain(3)
    report = verify_chain(rows[1:])
    assert (report.ok, report.first_bad_seq) == (False, 2)


def test_verification_can_resume_from_a_checkpoint() -> None:
    rows = _chain(6)
    checkpoint_hash = rows[2][2]
    report = verify_chain(rows[3:], start_prev_hash=checkpoint_hash, start_seq=4)
    assert (report.ok, report.checked) == (True, 3)
    assert verify_chain(rows[4:], start_prev_hash=checkpoint_hash, start_seq=4).ok is False


def test_entry_that_cannot_be_canonicalised_is_reported_not_raised() -> None:
    rows = _chain(2)
    seq, prev, digest, _ = rows[1]
    rows[1] = (seq, prev, digest, {"x": 1.5})
    report = verify_chain(rows)
    assert (report.ok, report.first_bad_seq) == (False, 2)
