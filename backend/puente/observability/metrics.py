"""Prometheus metrics through the official client, in one registry.

Three kinds of figure:

* counters and histograms this process updates as it works (HTTP requests, ledger postings,
  live subscriptions, provider calls through ``providers.metrics``);
* figures read from the database when Prometheus scrapes (payments by status and provider,
  the webhook queue's depth and age, dead letters, the last run of each job): they are the
  same whichever process answers, which is what an operator wants from a fleet;
* the process collector (CPU, memory, open files).

With ``puente serve --workers N`` set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory so
the per-process counters of every worker are summed on each scrape.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE_LATEST",
    "HTTP_LATENCY",
    "HTTP_REQUESTS",
    "LEDGER_POSTINGS",
    "REGISTRY",
    "SUBSCRIPTIONS",
    "DatabaseSnapshot",
    "render_metrics",
]

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

HTTP_REQUESTS = Counter(
    "puente_http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ("route", "method", "status"),
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "puente_http_request_duration_seconds",
    "Time to answer an HTTP request (to the end of the response body), by route template.",
    ("route", "method"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
LEDGER_POSTINGS = Counter(
    "puente_ledger_postings",
    "Ledger posting lines written, by journal entry kind.",
    ("kind",),
    registry=REGISTRY,
)
SUBSCRIPTIONS = Gauge(
    "puente_event_subscriptions",
    "Live event-bus subscriptions (GraphQL subscriptions and portal live panels).",
    ("bus",),
    registry=REGISTRY,
    multiprocess_mode="livesum",
)


class DatabaseSnapshot:
    """Figures read from the database at scrape time (set by ``refresh`` before rendering)."""

    def __init__(self) -> None:
        self.payments: dict[tuple[str, str], int] = {}
        self.webhook_events: dict[tuple[str, str], int] = {}
        self.webhook_oldest_pending_seconds: float = 0.0
        self.job_last_run: dict[tuple[str, str], float] = {}
        self.job_failures: dict[str, int] = {}

    def collect(self) -> Iterator[Metric]:
        payments = GaugeMetricFamily(
            "puente_payments", "Payments by provider and status.", labels=("provider", "status")
        )
        for (provider, status), count in sorted(self.payments.items()):
            payments.add_metric((provider, status), count)
        yield payments
        events = GaugeMetricFamily(
            "puente_webhook_events",
            "Stored provider events by provider and processing status (received and failed "
            "are the queue; dead needs a person).",
            labels=("provider", "status"),
        )
        for (provider, status), count in sorted(self.webhook_events.items()):
            events.add_metric((provider, status), count)
        yield events
        yield GaugeMetricFamily(
            "puente_webhook_oldest_pending_age_seconds",
            "Age of the oldest stored event not yet processed (0 when the queue is empty).",
            value=self.webhook_oldest_pending_seconds,
        )
        last = GaugeMetricFamily(
            "puente_job_last_run_timestamp_seconds",
            "When each job last finished, by outcome (unix time).",
            labels=("job", "outcome"),
        )
        for (job, outcome), when in sorted(self.job_last_run.items()):
            last.add_metric((job, outcome), when)
        yield last
        failures = GaugeMetricFamily(
            "puente_job_failed_runs",
            "Runs of each job that ended in failure, over the retained history.",
            labels=("job",),
        )
        for job, count in sorted(self.job_failures.items()):
            failures.add_metric((job,), count)
        yield failures


def render_metrics(extra: Iterable[Collector] = ()) -> bytes:
    """The exposition text: this registry (or every worker's, in multiprocess mode) + ``extra``."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Merged(registry, tuple(extra)))
    return generate_latest(scrape)


class _Merged(Collector):
    def __init__(self, registry: CollectorRegistry, extra: tuple[Collector, ...]) -> None:
        self.registry = registry
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()
        for collector in self.extra:
            yield from collector.collect()


def monotonic() -> float:
    """The clock HTTP latency is measured with (a seam for tests)."""
    return time.perf_counter()
