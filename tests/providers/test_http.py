"""The shared HTTP layer: retries, Retry-After, timeouts, circuit breaker, metrics, redaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import anyio
import httpx
import pytest
from tests.support.metrics import sample_value

from puente.providers.circuit import CircuitBreakers, CircuitPolicy, CircuitState
from puente.providers.errors import (
    CircuitOpen,
    InvalidRequest,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    error_for_status,
)
from puente.providers.http import ProviderHTTP, Redactor, RetryPolicy, TimeoutPolicy
from puente.providers.http import parse_retry_after as retry_after_of
from puente.providers.metrics import ProviderMetrics, render_prometheus

pytestmark = pytest.mark.anyio
SECRET = "sk_live_supersecretvalue123"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def parse(response: httpx.Response) -> ProviderError:
    return error_for_status(response.status_code, provider="acme", message=response.text)


def make(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    retry: RetryPolicy = RetryPolicy(),
    circuit: CircuitPolicy = CircuitPolicy(failure_threshold=3, reset_after=10),
    timeout: TimeoutPolicy = TimeoutPolicy(),
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[ProviderHTTP, list[float], ProviderMetrics]:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    metrics = ProviderMetrics()
    http = ProviderHTTP(
        provider="acme",
        account="acct1",
        base_url="https://api.acme.test",
        error_parser=parse,
        transport=transport or httpx.MockTransport(handler),
        headers={"Authorization": f"Bearer {SECRET}"},
        retry=retry,
        circuit=circuit,
        timeout=timeout,
        secrets=[SECRET],
        metrics=metrics,
        breakers=CircuitBreakers(),
        sleep=sleep,
        random=lambda: 1.0,
        clock=clock or Clock(),
    )
    return http, sleeps, metrics


def sequence(*responses: httpx.Response) -> tuple[Callable[[httpx.Request], httpx.Response], list]:
    calls: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler, calls


async def test_post_with_idempotency_key_is_retried_with_the_same_key() -> None:
    handler, calls = sequence(httpx.Response(503), httpx.Response(500), httpx.Response(200))
    http, sleeps, _ = make(handler)
    response = await http.request("POST", "/charges", form=[("a", "1")], idempotency_key="k-1")
    assert response.status_code == 200
    assert [c.headers["Idempotency-Key"] for c in calls] == ["k-1", "k-1", "k-1"]
    assert sleeps == [0.5, 1.0]  # base 0.5 doubling; random()=1.0 means no jitter reduction


async def test_post_without_key_is_never_retried() -> None:
    handler, calls = sequence(httpx.Response(503), httpx.Response(200))
    http, sleeps, _ = make(handler)
    with pytest.raises(ProviderUnavailable):
        await http.request("POST", "/charges", form=[("a", "1")])
    assert len(calls) == 1 and sleeps == []


async def test_get_is_retried_without_a_key() -> None:
    handler, calls = sequence(httpx.Response(502), httpx.Response(200))
    http, _, _ = make(handler)
    assert (await http.request("GET", "/charges/1")).status_code == 200
    assert len(calls) == 2


async def test_client_errors_are_not_retried() -> None:
    handler, calls = sequence(httpx.Response(400, text="bad"))
    http, _, _ = make(handler)
    with pytest.raises(InvalidRequest):
        await http.request("GET", "/x")
    assert len(calls) == 1


async def test_jitter_spreads_the_backoff() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=4.0, jitter=0.5)
    assert policy.backoff(1, 0.0) == 0.5
    assert policy.backoff(1, 1.0) == 1.0
    assert policy.backoff(3, 1.0) == 4.0
    assert policy.backoff(10, 1.0) == 4.0  # capped


async def test_retry_after_seconds_is_honoured() -> None:
    handler, _ = sequence(httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200))
    http, sleeps, _ = make(handler)
    await http.request("GET", "/x")
    assert sleeps == [3.0]


async def test_retry_after_http_date_is_honoured() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    assert 18 <= (retry_after_of(when) or 0) <= 20
    assert retry_after_of("garbage") is None
    assert retry_after_of(None) is None


async def test_retry_after_beyond_the_limit_goes_back_to_the_caller() -> None:
    handler, calls = sequence(httpx.Response(429, headers={"Retry-After": "120"}))
    http, sleeps, _ = make(handler)
    with pytest.raises(RateLimited) as caught:
        await http.request("GET", "/x")
    assert caught.value.retry_after == 120.0
    assert caught.value.retryable is True
    assert len(calls) == 1 and sleeps == []


async def test_attempt_deadline_becomes_a_timeout_and_is_retried() -> None:
    attempts = 0

    async def app(scope, receive, send) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            await anyio.sleep(5)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    http, _, metrics = make(
        lambda r: httpx.Response(500),
        timeout=TimeoutPolicy(total=0.05),
        transport=httpx.ASGITransport(app=app),
    )
    assert (await http.request("GET", "/slow")).status_code == 200
    assert attempts == 2
    assert metrics.error_count("acme", "provider_unavailable") == 1


async def test_httpx_timeouts_become_provider_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    http, _, _ = make(handler, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(ProviderTimeout):
        await http.request("GET", "/x")


async def test_circuit_opens_fails_fast_half_opens_and_closes() -> None:
    clock = Clock()
    outage = True
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503 if outage else 200)

    http, _, metrics = make(handler, retry=RetryPolicy(max_attempts=1), clock=clock)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await http.request("GET", "/x")
    assert http.breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpen) as caught:
        await http.request("GET", "/x")
    assert calls == 3 and caught.value.retry_after == 10
    clock.now = 10.0
    assert http.breaker.state is CircuitState.HALF_OPEN
    with pytest.raises(ProviderUnavailable):  # the probe fails: open again
        await http.request("GET", "/x")
    assert http.breaker.state is CircuitState.OPEN
    clock.now = 20.0
    outage = False
    assert (await http.request("GET", "/x")).status_code == 200
    assert http.breaker.state is CircuitState.CLOSED
    text = render_prometheus(metrics)
    assert sample_value(text, "puente_provider_circuit_open", provider="acme", account="acct1") == 0
    assert (
        sample_value(text, "puente_provider_errors_total", provider="acme", code="circuit_open")
        == 1
    )


async def test_half_open_lets_only_one_probe_through() -> None:
    clock = Clock()
    http, _, _ = make(lambda r: httpx.Response(503), retry=RetryPolicy(max_attempts=1), clock=clock)
    breaker = http.breaker
    for _ in range(3):
        breaker.record_failure()
    clock.now = 11
    breaker.before_call()
    with pytest.raises(CircuitOpen):
        breaker.before_call()


async def test_breakers_are_shared_per_account() -> None:
    breakers = CircuitBreakers()
    policy = CircuitPolicy()
    assert breakers.get("stripe:a", policy) is breakers.get("stripe:a", policy)
    assert breakers.get("stripe:a", policy) is not breakers.get("stripe:b", policy)


async def test_client_errors_close_the_circuit() -> None:
    handler, _ = sequence(httpx.Response(503), httpx.Response(503), httpx.Response(402))
    http, _, _ = make(handler, retry=RetryPolicy(max_attempts=1))
    for _ in range(3):
        with pytest.raises(ProviderError):
            await http.request("GET", "/x")
    assert http.breaker.state is CircuitState.CLOSED
    assert http.breaker.consecutive_failures == 0


async def test_metrics_render_as_prometheus_text() -> None:
    handler, _ = sequence(httpx.Response(200), httpx.Response(404))
    http, _, metrics = make(handler)
    await http.request("GET", "/x")
    with pytest.raises(InvalidRequest):
        await http.request("GET", "/y")
    lines = render_prometheus(metrics)
    assert "# TYPE puente_provider_request_seconds histogram" in lines
    assert sample_value(lines, "puente_provider_request_seconds_count", provider="acme") == 2
    assert (
        sample_value(lines, "puente_provider_request_seconds_bucket", provider="acme", le="+Inf")
        == 2
    )
    assert sample_value(lines, "puente_provider_requests_total", provider="acme", outcome="ok") == 1
    assert (
        sample_value(lines, "puente_provider_errors_total", provider="acme", code="invalid_request")
        == 1
    )


async def test_transport_errors_are_redacted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"could not send Authorization: Bearer {SECRET}")

    http, _, _ = make(handler, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(ProviderUnavailable) as caught:
        await http.request("GET", "/x")
    assert SECRET not in str(caught.value)
    assert "****e123" in str(caught.value)


def test_redactor_masks_known_secrets_and_key_shapes() -> None:
    redact = Redactor(["my-bank-password-1"])
    text = redact("pw my-bank-password-1 and sk_test_abcdefghijkl and whsec_zzzzzzzzzz")
    assert "my-bank-password-1" not in text
    assert "abcdefghijkl" not in text and "zzzzzzzzzz" not in text
    assert redact.scrub({"a": ["my-bank-password-1"]}) == {"a": ["****rd-1"]}
