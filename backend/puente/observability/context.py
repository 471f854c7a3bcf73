"""The request id that follows one piece of work through logs, provider calls and traces.

A request id is born at the edge (an HTTP request, a webhook delivery, a job run) and lives
in a context variable, so every log line written while serving it, and every provider call
it makes, carries it without being passed around by hand.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["REQUEST_ID_HEADER", "bound_request_id", "current_request_id", "new_request_id"]

REQUEST_ID_HEADER = "x-request-id"

# What we accept from a caller's X-Request-Id: short and plain, so it can go into a log
# line or an outgoing header without escaping (anything else is replaced by our own).
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

_request_id: ContextVar[str | None] = ContextVar("puente_request_id", default=None)


def new_request_id(offered: str | None = None) -> str:
    """The caller's id when it is well formed, otherwise a fresh random one."""
    if offered and _ACCEPTABLE.match(offered):
        return offered
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the work being done now, if any."""
    return _request_id.get()


@contextmanager
def bound_request_id(request_id: str | None) -> Iterator[str]:
    """Run a block under ``request_id`` (a fresh one when ``None``)."""
    value = request_id or new_request_id()
    token = _request_id.set(value)
    try:
        yield value
    finally:
        _request_id.reset(token)
