"""Per-provider latency and error counts, kept in process for a ``/metrics`` endpoint."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_METRICS",
    "LatencyHistogram",
    "ProviderMetrics",
    "render_prometheus",
]

# Seconds. Provider calls live between tens of milliseconds (Stripe) and several seconds
# (bank SOAP/REST gateways), so the buckets span both.
DEFAULT_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(slots=True)
class LatencyHistogram:
    """Cumulative-bucket histogram in the Prometheus sense."""

    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * len(self.buckets)

    def observe(self, seconds: float) -> None:
        """Record one duration."""
        self.total += seconds
        self.count += 1
        for index, bound in enumerate(self.buckets):
            if seconds <= bound:
                self.counts[index] += 1


class ProviderMetrics:
    """Counts attempts, errors and circuit state per provider; render with ``render_prometheus``."""

    def __init__(self, buckets: tuple[float, ...] = DEFAULT_BUCKETS) -> None:
        self.buckets = buckets
        self.latency: dict[str, LatencyHistogram] = {}
        self.requests: dict[tuple[str, str], int] = defaultdict(int)
        self.errors: dict[tuple[str, str], int] = defaultdict(int)
        self.circuit_open: dict[tuple[str, str], int] = {}

    def observe(self, provider: str, seconds: float, outcome: str) -> None:
        """Record one HTTP attempt: its latency and outcome (``ok`` or a normalised error code)."""
        histogram = self.latency.get(provider)
        if histogram is None:
            histogram = self.latency[provider] = LatencyHistogram(self.buckets)
        histogram.observe(seconds)
        self.requests[(provider, outcome)] += 1

    def count_error(self, provider: str, code: str) -> None:
        """Count one failed attempt (retried or final) under its normalised code."""
        self.errors[(provider, code)] += 1

    def set_circuit(self, provider: str, account: str, is_open: bool) -> None:
        """Remember whether a provider account's circuit is open (1) or not (0)."""
        self.circuit_open[(provider, account)] = int(is_open)

    def error_count(self, provider: str, code: str | None = None) -> int:
        """Errors counted for a provider, optionally for one code."""
        return sum(n for (p, c), n in self.errors.items() if p == provider and code in (None, c))

    def reset(self) -> None:
        """Forget everything (tests)."""
        self.latency.clear()
        self.requests.clear()
        self.errors.clear()
        self.circuit_open.clear()


DEFAULT_METRICS = ProviderMetrics()


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def render_prometheus(metrics: ProviderMetrics = DEFAULT_METRICS) -> list[str]:
    """The metrics as Prometheus text-format lines (join with ``\\n`` and end with one)."""
    lines = [
        "# HELP puente_provider_request_seconds Latency of HTTP attempts to a provider.",
        "# TYPE puente_provider_request_seconds histogram",
    ]
    for provider in sorted(metrics.latency):
        histogram = metrics.latency[provider]
        for bound, count in zip(histogram.buckets, histogram.counts, strict=True):
            labels = _labels(provider=provider, le=_number(bound))
            lines.append(f"puente_provider_request_seconds_bucket{labels} {count}")
        labels = _labels(provider=provider, le="+Inf")
        lines.append(f"puente_provider_request_seconds_bucket{labels} {histogram.count}")
        plain = _labels(provider=provider)
        lines.append(f"puente_provider_request_seconds_sum{plain} {histogram.total:.6f}")
        lines.append(f"puente_provider_request_seconds_count{plain} {histogram.count}")
    lines += [
        "# HELP puente_provider_requests_total HTTP attempts to a provider by outcome.",
        "# TYPE puente_provider_requests_total counter",
    ]
    for (provider, outcome), count in sorted(metrics.requests.items()):
        labels = _labels(provider=provider, outcome=outcome)
        lines.append(f"puente_provider_requests_total{labels} {count}")
    lines += [
        "# HELP puente_provider_errors_total Failed provider attempts by normalised code.",
        "# TYPE puente_provider_errors_total counter",
    ]
    for (provider, code), count in sorted(metrics.errors.items()):
        lines.append(f"puente_provider_errors_total{_labels(provider=provider, code=code)} {count}")
    lines += [
        "# HELP puente_provider_circuit_open 1 while calls to a provider account are cut off.",
        "# TYPE puente_provider_circuit_open gauge",
    ]
    for (provider, account), value in sorted(metrics.circuit_open.items()):
        labels = _labels(provider=provider, account=account)
        lines.append(f"puente_provider_circuit_open{labels} {value}")
    return lines
