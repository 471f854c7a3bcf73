"""The one HTTP layer every connector talks through: timeouts, retries, breaker, metrics.

A connector builds one ``ProviderHTTP`` and calls ``request``. It gets back a 2xx
``httpx.Response`` or a normalised ``ProviderError`` (see ``errors.py``). In between:

* each attempt has httpx's per-phase timeouts plus a total deadline (``TimeoutPolicy``);
* a failed attempt is retried with exponential backoff and jitter (``RetryPolicy``) only when
  repeating it cannot move money twice: safe methods, or requests that carry an idempotency
  key (or that the connector marks ``idempotent=True``);
* ``Retry-After`` (seconds or HTTP date) is honoured, and a wait longer than
  ``RetryPolicy.max_retry_after`` is handed back to the caller as ``error.retry_after``;
* every attempt passes the provider account's circuit breaker (``circuit.py``) and is counted
  in ``metrics.py``;
* credential values never reach a log line or an error message (``Redactor``).

The transport is the test seam: pass ``httpx.MockTransport`` or ``httpx.ASGITransport``.
"""

from __future__ import annotations

import logging
import random as _random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx

from puente.observability.tracing import span
from puente.providers.circuit import (
    DEFAULT_BREAKERS,
    CircuitBreakers,
    CircuitPolicy,
    CircuitState,
)
from puente.providers.errors import (
    CircuitOpen,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    error_for_status,
)
from puente.providers.metrics import DEFAULT_METRICS, ProviderMetrics

__all__ = [
    "SAFE_METHODS",
    "ErrorParser",
    "ProviderHTTP",
    "Redactor",
    "RetryPolicy",
    "TimeoutPolicy",
    "encode_form_body",
    "parse_retry_after",
]

logger = logging.getLogger("puente.providers")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

ErrorParser = Callable[[httpx.Response], ProviderError]
RetryHint = Callable[[httpx.Response], "bool | None"]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class TimeoutPolicy:
    """Seconds per phase (as httpx) plus ``total``: the deadline for one whole attempt."""

    connect: float = 5.0
    read: float = 20.0
    write: float = 10.0
    pool: float = 5.0
    total: float = 30.0

    def to_httpx(self) -> httpx.Timeout:
        """The httpx equivalent of the per-phase part."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry a failed attempt."""

    max_attempts: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 5.0
    # Fraction of each delay that is random, so many clients do not retry in lockstep.
    jitter: float = 0.5
    retry_statuses: frozenset[int] = frozenset({408, 425, 429, 500, 502, 503, 504})
    max_retry_after: float = 30.0

    def backoff(self, attempt: int, rand: float) -> float:
        """Delay before attempt ``attempt + 1``: base·2^(attempt-1), capped, with jitter."""
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return delay * (1 - self.jitter) + delay * self.jitter * rand


_GENERIC_SECRETS = re.compile(
    r"\b((?:sk|rk|pk)_(?:live|test)_|whsec_|key_|Bearer\s+)([A-Za-z0-9._\-]{6,})"
)


class Redactor:
    """Replaces credential values (and anything that looks like a key) with a mask."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    @staticmethod
    def mask(secret: str) -> str:
        """``****abcd``: enough for an operator to tell keys apart, useless to an attacker."""
        return "****" + secret[-4:] if len(secret) >= 12 else "****"

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, self.mask(secret))
        return _GENERIC_SECRETS.sub(lambda m: m.group(1) + self.mask(m.group(2)), text)

    def scrub(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def encode_form_body(pairs: Sequence[tuple[str, str]]) -> bytes:
    """``application/x-www-form-urlencoded`` with literal brackets, as Stripe's SDK sends."""
    return urlencode(pairs).replace("%5B", "[").replace("%5D", "]").encode()


@dataclass(slots=True)
class _Attempt:
    response: httpx.Response | None = None
    error: ProviderError | None = None
    outage: bool = False


class ProviderHTTP:
    """An ``httpx.AsyncClient`` wrapped in Puente's resilience rules for one provider account."""

    def __init__(
        self,
        *,
        provider: str,
        account: str,
        base_url: str,
        error_parser: ErrorParser,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        timeout: TimeoutPolicy = TimeoutPolicy(),
        retry: RetryPolicy = RetryPolicy(),
        circuit: CircuitPolicy = CircuitPolicy(),
        idempotency_header: str | None = "Idempotency-Key",
        retry_hint: RetryHint | None = None,
        secrets: Iterable[str] = (),
        metrics: ProviderMetrics | None = None,
        breakers: CircuitBreakers | None = None,
        sleep: Sleep | None = None,
        random: Callable[[], float] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.provider = provider
        self.account = account
        self.timeout = timeout
        self.retry = retry
        self.redact = Redactor(secrets)
        self.metrics = metrics if metrics is not None else DEFAULT_METRICS
        breakers = breakers if breakers is not None else DEFAULT_BREAKERS
        self.breaker = breakers.get(f"{provider}:{account}", circuit, clock or time.monotonic)
        self._parse_error = error_parser
        self._retry_hint = retry_hint
        self._idempotency_header = idempotency_header
        self._sleep: Sleep = sleep or anyio.sleep
        self._random = random or _random.random
        self._client = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            headers=dict(headers or {}),
            auth=auth,
            timeout=timeout.to_httpx(),
        )

    def __repr__(self) -> str:
        return f"<ProviderHTTP {self.provider}:{self.account} {self._client.base_url}>"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | Mapping[str, str] | None = None,
        form: Sequence[tuple[str, str]] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send with retries; return a 2xx response or raise a normalised ``ProviderError``."""
        method = method.upper()
        request_headers = dict(headers or {})
        content: bytes | None = None
        if form is not None:
            content = encode_form_body(form)
            request_headers["Content-Type"] = "application/x-www-form-urlencoded"
        if idempotency_key and self._idempotency_header:
            request_headers[self._idempotency_header] = idempotency_key
        may_retry = (
            idempotent
            if idempotent is not None
            else method in SAFE_METHODS or bool(idempotency_key)
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                self.breaker.before_call(self.provider)
            except CircuitOpen:
                self.metrics.count_error(self.provider, "circuit_open")
                self._note_circuit()
                raise
            result = await self._attempt(method, path, params, content, json, request_headers)
            if result.response is not None:
                return result.response
            error = result.error
            assert error is not None
            delay = self._retry_delay(error, attempt, may_retry)
            log = logger.warning if delay is not None else logger.info
            log(
                "%s %s %s failed (attempt %d/%d): %s%s",
                self.provider,
                method,
                self.redact(path),
                attempt,
                self.retry.max_attempts,
                error.code.value,
                f"; retrying in {delay:.2f}s" if delay is not None else "",
            )
            if delay is None:
                raise error
            await self._sleep(delay)

    def _retry_delay(self, error: ProviderError, attempt: int, may_retry: bool) -> float | None:
        if not (may_retry and error.retryable and attempt < self.retry.max_attempts):
            return None
        if error.retry_after is not None:
            if error.retry_after > self.retry.max_retry_after:
                return None  # the caller schedules a later try; we do not hold a request open
            return error.retry_after
        return self.retry.backoff(attempt, self._random())

    async def _attempt(
        self,
        method: str,
        path: str,
        params: Any,
        content: bytes | None,
        json: Any,
        headers: Mapping[str, str],
    ) -> _Attempt:
        started = time.perf_counter()
        result = _Attempt()
        finished = False
        try:
            with (
                span(f"{self.provider} {method}", **{"puente.provider": self.provider}),
                anyio.fail_after(self.timeout.total),
            ):
                response = await self._client.request(
                    method, path, params=params, content=content, json=json, headers=headers
                )
            result = self._judge(response)
            finished = True
        except (TimeoutError, httpx.TimeoutException):
            result = _Attempt(
                error=ProviderTimeout(
                    f"no answer within {self.timeout.total:g}s", provider=self.provider
                ),
                outage=True,
            )
            finished = True
        except httpx.TransportError as exc:
            message = self.redact(f"{type(exc).__name__}: {exc}")
            result = _Attempt(
                error=ProviderUnavailable(message, provider=self.provider), outage=True
            )
            finished = True
        except ProviderError as exc:  # raised inside an auth flow (e.g. OAuth2 token fetch)
            exc.provider = exc.provider or self.provider
            exc.provider_message = self.redact(exc.provider_message)
            result = _Attempt(error=exc, outage=isinstance(exc, ProviderUnavailable))
            finished = True
        finally:
            if not finished:
                self.breaker.record_neutral()
        elapsed = time.perf_counter() - started
        if result.outage:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
        self._note_circuit()
        outcome = "ok" if result.error is None else result.error.code.value
        self.metrics.observe(self.provider, elapsed, outcome)
        if result.error is not None:
            self.metrics.count_error(self.provider, result.error.code.value)
        logger.debug(
            "%s %s %s -> %s in %.0fms",
            self.provider,
            method,
            self.redact(path),
            result.response.status_code if result.response is not None else outcome,
            elapsed * 1000,
        )
        return result

    def _judge(self, response: httpx.Response) -> _Attempt:
        if response.is_success:
            return _Attempt(response=response)
        status = response.status_code
        try:
            error = self._parse_error(response)
        except Exception as exc:  # a broken error body must not become a crash
            logger.debug("%s error body unreadable: %s", self.provider, type(exc).__name__)
            error = error_for_status(
                status, provider=self.provider, message=f"HTTP {status} with an unreadable body"
            )
        error.provider = error.provider or self.provider
        error.http_status = error.http_status or status
        error.provider_message = self.redact(error.provider_message)
        error.args = (error.provider_message,)
        error.raw = self.redact.scrub(error.raw)
        hint = self._retry_hint(response) if self._retry_hint else None
        error.retryable = hint if hint is not None else status in self.retry.retry_statuses
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None:
            error.retry_after = retry_after
        return _Attempt(error=error, outage=status >= 500)

    def _note_circuit(self) -> None:
        self.metrics.set_circuit(
            self.provider, self.account, self.breaker.state is CircuitState.OPEN
        )
