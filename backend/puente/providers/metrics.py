"""Per-provider latency and error counts, kept in process and served by ``/metrics``.

``ProviderMetrics`` is a Prometheus collector: the app registers the default one with the
official client (``observability.metrics``), and tests render their own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

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

    def collect(self) -> Iterator[Metric]:
        """The figures as Prometheus metric families (the official client's collector API)."""
        latency = HistogramMetricFamily(
            "puente_provider_request_seconds",
            "Latency of HTTP attempts to a provider.",
            labels=("provider",),
        )
        for provider in sorted(self.latency):
            histogram = self.latency[provider]
            buckets = [
                (str(bound), count)
                for bound, count in zip(histogram.buckets, histogram.counts, strict=True)
            ]
            buckets.append(("+Inf", histogram.count))
            latency.add_metric((provider,), buckets, histogram.total)
        yield latency
        # The flat figures: (name, help, labels, family, values by label tuple).
        flat: tuple[tuple[str, str, tuple[str, str], type[Any], Mapping[Any, int]], ...] = (
            (
                "puente_provider_requests",
                "HTTP attempts to a provider by outcome.",
                ("provider", "outcome"),
                CounterMetricFamily,
                self.requests,
            ),
            (
                "puente_provider_errors",
                "Failed provider attempts by normalised code.",
                ("provider", "code"),
                CounterMetricFamily,
                self.errors,
            ),
            (
                "puente_provider_circuit_open",
                "1 while calls to a provider account are cut off.",
                ("provider", "account"),
                GaugeMetricFamily,
                self.circuit_open,
            ),
        )
        for name, text, labels, family, figures in flat:
            metric = family(name, text, labels=labels)
            for key, value in sorted(figures.items()):
                metric.add_metric(key, value)
            yield metric

    def reset(self) -> None:
        """Forget everything (tests)."""
        self.latency.clear()
        self.requests.clear()
        self.errors.clear()
        self.circuit_open.clear()


DEFAULT_METRICS = ProviderMetrics()


def render_prometheus(metrics: ProviderMetrics = DEFAULT_METRICS) -> list[str]:
    """The metrics as Prometheus text-format lines, rendered by the official client."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    return generate_latest(registry).decode().splitlines()
