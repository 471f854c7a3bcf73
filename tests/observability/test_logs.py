"""Structured logs: JSON lines, the request id on each, secrets masked."""

from __future__ import annotations

import io
import json
import logging

import pytest

from puente.observability.context import bound_request_id, current_request_id, new_request_id
from puente.observability.logs import configure_logging, redact


@pytest.fixture
def json_logs():
    """Configure structured logging into a buffer; restore the root logger afterwards."""
    root = logging.getLogger()
    before = list(root.handlers), root.level
    configure_logging(fmt="json", level="debug")
    ours = [h for h in root.handlers if h.get_name() == "puente-structured"]
    buffer = io.StringIO()
    for handler in ours:
        handler.setStream(buffer)
    yield buffer
    for handler in ours:
        root.removeHandler(handler)
    root.handlers[:] = before[0]
    root.setLevel(before[1])


def _lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("card 4242424242424242 declined", "4242424242424242"),
        ("abono a 646180157000000004 recibido", "646180157000000004"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJhbG"),
        ("stripe key sk_test_51HxYzAbCdEf", "sk_test_51HxYzAbCdEf"),
        ("token tok_chargeDeclined used", "tok_chargeDeclined"),
        ('mutation { login(email: "a@b.mx", password: "hunter2-secreta") }', "hunter2-secreta"),
        ("password=hunter2&user=ana", "hunter2"),
    ],
)
def test_redact_masks_secrets(text, leaked):
    assert leaked not in redact(text)


def test_redact_keeps_ordinary_numbers_and_the_clabe_tail():
    assert redact("loan 123456 paid 1500.00") == "loan 123456 paid 1500.00"
    assert redact("CLABE 646180157000000004").endswith("0004")


def test_log_lines_are_json_with_the_request_id_and_no_secret(json_logs):
    log = logging.getLogger("puente.test")
    with bound_request_id("req-abcdef123") as request_id:
        log.warning("charging token %s for loan %s", "tok_visa", 7)
        assert current_request_id() == request_id
    log.info("outside any request")
    first, second = _lines(json_logs)
    assert first["request_id"] == "req-abcdef123"
    assert first["level"] == "warning" and first["logger"] == "puente.test"
    assert "tok_visa" not in first["event"] and "loan 7" in first["event"]
    assert "request_id" not in second


def test_exceptions_are_logged_redacted(json_logs):
    try:
        raise ValueError("bad card 4000000000000002")
    except ValueError:
        logging.getLogger("puente.test").exception("failed")
    (line,) = _lines(json_logs)
    assert "4000000000000002" not in json.dumps(line)
    assert "ValueError" in line["exception"]


def test_a_callers_request_id_is_kept_only_when_well_formed():
    assert new_request_id("abc-123-DEF-456") == "abc-123-DEF-456"
    for offered in (None, "", "short", "x" * 65, "has space in it", "new\nline-injected"):
        minted = new_request_id(offered)
        assert minted != offered and len(minted) == 32
