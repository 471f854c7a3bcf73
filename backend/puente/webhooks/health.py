"""How an institution's providers are doing: circuit state, error rate, p95 latency and the
last webhook seen, from what the connectors already record (``providers.circuit``,
``providers.metrics``) and the webhook inbox. Read by GraphQL ``Institution.providerHealth``
and the staff console alike.

The circuit is per provider account (``{provider}:{slug}:{provider}``, the key
``payments.gateways`` gives each connector); the latency and error counters are per provider
for the whole process (the metrics the connectors record carry no account label).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tortoise.functions import Max

from puente.institutions.models import Institution, ProviderAccount
from puente.providers.circuit import DEFAULT_BREAKERS, CircuitBreakers, CircuitState
from puente.providers.metrics import DEFAULT_METRICS, LatencyHistogram, ProviderMetrics
from puente.webhooks.models import ProviderEvent

__all__ = ["ProviderHealth", "p95_seconds", "provider_health"]

# The worst state wins when a provider has several accounts.
_SEVERITY = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    provider: str
    state: CircuitState
    requests: int
    error_rate: Decimal | None  # failed attempts / attempts; None before any attempt
    p95_latency_ms: int | None  # the histogram bucket bound holding the 95th percentile
    last_webhook_at: datetime | None


def p95_seconds(histogram: LatencyHistogram | None) -> float | None:
    """The upper bound of the bucket holding the 95th percentile (None: no samples, or
    beyond the last bucket, which only says "slower than that")."""
    if histogram is None or histogram.count == 0:
        return None
    wanted = 0.95 * histogram.count
    for bound, cumulative in zip(histogram.buckets, histogram.counts, strict=True):
        if cumulative >= wanted:
            return bound
    return None


def _state(breakers: CircuitBreakers, provider: str, slug: str) -> CircuitState:
    states = [
        state
        for key, state in breakers.states().items()
        if key == f"{provider}:{slug}:{provider}" or key.startswith(f"{provider}:{slug}:")
    ]
    return max(states, key=_SEVERITY.__getitem__, default=CircuitState.CLOSED)


async def provider_health(
    institution: Institution,
    *,
    breakers: CircuitBreakers = DEFAULT_BREAKERS,
    metrics: ProviderMetrics = DEFAULT_METRICS,
) -> list[ProviderHealth]:
    """One row per provider the institution has an account at, was called, or heard from."""
    stored = await ProviderAccount.filter(
        institution_id=institution.id, is_active=True
    ).values_list("provider", flat=True)
    webhooks = {
        str(row["provider"]): row["last"]
        for row in await ProviderEvent.filter(institution_id=institution.id)
        .annotate(last=Max("received_at"))
        .group_by("provider")
        .values("provider", "last")
    }
    called = {
        key.split(":", 1)[0]
        for key in breakers.states()
        if key.split(":")[1:2] == [institution.slug]
    }
    providers = sorted({str(p) for p in stored} | set(webhooks) | called)
    rows = []
    for provider in providers:
        attempts = sum(n for (p, _), n in metrics.requests.items() if p == provider)
        failed = sum(
            n for (p, outcome), n in metrics.requests.items() if p == provider and outcome != "ok"
        )
        p95 = p95_seconds(metrics.latency.get(provider))
        rows.append(
            ProviderHealth(
                provider=provider,
                state=_state(breakers, provider, institution.slug),
                requests=attempts,
                error_rate=(Decimal(failed) / attempts).quantize(Decimal("0.0001"))
                if attempts
                else None,
                p95_latency_ms=round(p95 * 1000) if p95 is not None else None,
                last_webhook_at=webhooks.get(provider),
            )
        )
    return rows
