"""Structured logs: one JSON object a line, a request id on each, nothing secret in any.

Every module keeps logging through the standard ``logging`` module (``logging.getLogger``);
``configure_logging`` routes all of it (uvicorn's too) through structlog's processors, so a
log line from a provider call made while serving a webhook carries that webhook's request
id. Redaction runs last, over the whole rendered event, as a second line of defence behind
the rule that code never logs a secret in the first place.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from puente.observability.context import current_request_id

__all__ = ["configure_logging", "redact"]

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# Provider secrets and single-use card tokens (Stripe sk_/rk_/whsec_/tok_/pm_, Conekta key_ and
# tok_test_…, PayPal access tokens A21AA…), which grant money movement if they leak.
_PROVIDER_SECRET = re.compile(
    r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9]+|\bwhsec_[A-Za-z0-9]+|\btok_[A-Za-z0-9_]+"
    r"|\bpm_[A-Za-z0-9]{6,}|\bkey_[A-Za-z0-9]{8,}|\bA21AA[A-Za-z0-9_-]{20,}"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_SECRET_FIELD = re.compile(
    r"(?i)([\"']?(?:password|passwd|contrase(?:ñ|n)a|secret|token|otp|cvv|cvc|authorization"
    r"|private_key|api_key)[\"']?\s*[:=]\s*[\"']?)([^\"'\s,;&}]+)"
)
_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]{13,19}(?![0-9])")


_HANDLER_NAME = "puente-structured"


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask_digits(match: re.Match[str]) -> str:
    digits = match.group(0)
    if len(digits) == 18:  # a CLABE: keep the last four, as the portal shows it
        return "CLABE…" + digits[-4:]
    if _luhn_valid(digits):
        return "[PAN]"
    return digits


def redact(text: str) -> str:
    """``text`` with card numbers, CLABEs, tokens, keys and password values masked."""
    text = _JWT.sub("[JWT]", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} [REDACTED]", text)
    text = _PROVIDER_SECRET.sub("[SECRET]", text)
    text = _SECRET_FIELD.sub(lambda m: f"{m.group(1)}[REDACTED]", text)
    return _DIGIT_RUN.sub(_mask_digits, text)


def _add_request_id(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    request_id = current_request_id()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def _redact_event(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if isinstance(value, str):
            event[key] = redact(value)
        elif value is not None and not isinstance(value, int | float | bool):
            event[key] = redact(str(value))
    return event


def configure_logging(*, fmt: str = "json", level: str = "info") -> None:
    """Route every stdlib logger through structlog; ``fmt`` is ``json`` or ``console``."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_request_id,
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact_event,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:  # configured twice: replace ours, keep others
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn installs its own handlers unless told otherwise (log_config=None); make sure
    # its loggers reach ours either way.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
