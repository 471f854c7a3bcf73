"""A result many subscribers share is encoded to JSON once; each frame differs only by its
operation id, and reads exactly as strawberry's own encoding (issue 15 #5)."""

from __future__ import annotations

import json

from puente.graphql import shared_results
from puente.graphql.shared_results import SharedData, next_frame


def _strawberry(message: dict) -> str:
    return json.dumps(message, separators=(",", ":"))  # strawberry's encode_json


def test_a_shared_result_is_encoded_once_for_every_frame(monkeypatch):
    data = SharedData({"paymentStatus": {"id": "UGF5bWVudDox", "status": "PAID", "n": "ñ"}})
    encodings: list[int] = []
    real = shared_results.json.dumps

    def counted(value, **options):
        if value is data:
            encodings.append(1)
        return real(value, **options)

    monkeypatch.setattr(shared_results.json, "dumps", counted)
    frames = [
        next_frame({"id": operation, "type": "next", "payload": {"data": data}})
        for operation in ("1", "2", 'tres "3"')
    ]
    assert len(encodings) == 1
    for operation, frame in zip(("1", "2", 'tres "3"'), frames, strict=True):
        message = {"id": operation, "type": "next", "payload": {"data": dict(data)}}
        assert frame == _strawberry(message)
        assert json.loads(frame) == message


def test_other_messages_are_left_to_strawberry():
    shared = SharedData({"x": 1})
    assert next_frame({"id": "1", "type": "next", "payload": {"data": {"x": 1}}}) is None
    assert next_frame({"id": "1", "type": "complete"}) is None
    with_errors = {"id": "1", "type": "next", "payload": {"data": shared, "errors": []}}
    assert next_frame(with_errors) is None
