"""Provider health for the console: per provider account, what the connectors recorded.

Circuit breakers and latency/error counters live in this process (``providers/circuit.py``,
``providers/metrics.py``): with several server processes each shows its own view, the same
one its ``/metrics`` serves. The last webhook seen comes from the database, so it is shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.functions import Max

from puente.institutions.models import Institution
from puente.payments.gateways import GatewayDirectory
from puente.payments.models import Payment
from puente.payments.offer import payment_options
from puente.providers.circuit import DEFAULT_BREAKERS, CircuitBreakers, CircuitState
from puente.providers.metrics import DEFAULT_METRICS, LatencyHistogram, ProviderMetrics
from puente.webhooks.models import ProviderEvent

__all__ = ["ProviderHealth", "p95_seconds", "provider_health"]


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    provider: str
    account: str  # the account key the connector's breaker uses ("" without credentials)
    circuit: CircuitState | None  # None: no account configured
    requests: int
    errors: int
    p95_seconds: float | None
    last_webhook_at: datetime | None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


def p95_seconds(histogram: LatencyHistogram | None) -> float | None:
    """The upper bound of the bucket holding the 95th percentile (Prometheus' reading of a
    histogram); past the last bucket, the last bound. None without observations."""
    if histogram is None or histogram.count == 0:
        return None
    wanted = 0.95 * histogram.count
    for bound, cumulative in zip(histogram.buckets, histogram.counts, strict=True):
        if cumulative >= wanted:
            return bound
    return histogram.buckets[-1]


async def provider_health(
    institution: Institution,
    gateways: GatewayDirectory,
    *,
    metrics: ProviderMetrics = DEFAULT_METRICS,
    breakers: CircuitBreakers = DEFAULT_BREAKERS,
) -> list[ProviderHealth]:
    """One row per provider the institution offers, has used or hears webhooks from.

    Latency and error counts are per provider (the connectors count them so); the circuit
    is the institution's own account's breaker.
    """
    seen = await (
        ProviderEvent.filter(institution_id=institution.id)
        .group_by("provider")
        .annotate(last=Max("received_at"))
        .values("provider", "last")
    )
    last_webhook = {str(row["provider"]): row["last"] for row in seen}
    used = (
        await Payment.filter(institution_id=institution.id)
        .distinct()
        .values_list("provider", flat=True)
    )
    offered = {option.provider.value for option in payment_options(institution.settings)}
    providers = set(last_webhook) | {str(p) for p in used} | offered
    states = breakers.states()
    rows = []
    for provider in sorted(providers):
        requests = sum(n for (p, _), n in metrics.requests.items() if p == provider)
        account = await _account_key(institution, gateways, provider)
        key = f"{provider}:{account}"
        rows.append(
            ProviderHealth(
                provider=provider,
                account=account,
                circuit=states.get(key, CircuitState.CLOSED) if account else None,
                requests=requests,
                errors=metrics.error_count(provider),
                p95_seconds=p95_seconds(metrics.latency.get(provider)),
                last_webhook_at=last_webhook.get(provider),
            )
        )
    return rows


async def _account_key(institution: Institution, gateways: GatewayDirectory, provider: str) -> str:
    """The institution's account key for ``provider`` (its breaker's name), "" without one."""
    try:
        connector = await gateways.connector(institution, provider)
    except Exception:  # noqa: BLE001 - no credentials or an unknown provider: nothing to show
        return ""
    return str(connector.http.account)
