"""OpenTelemetry traces, exported over OTLP/HTTP when an endpoint is configured.

Without ``PUENTE_OTLP_ENDPOINT`` every span is the API's no-op span: nothing is recorded and
nothing leaves the process. With it, HTTP requests, provider calls and webhook processing
become spans of one trace, tagged with Puente's request id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from puente.observability.context import current_request_id

__all__ = ["configure_tracing", "span", "shutdown_tracing"]

_provider: TracerProvider | None = None


def configure_tracing(
    endpoint: str | None, *, service_name: str = "puente", exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Start exporting spans to ``endpoint`` (or to ``exporter``, for tests); None: stay off."""
    global _provider
    if exporter is None and not endpoint:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _provider = provider
    return provider


def shutdown_tracing() -> None:
    """Flush and stop the exporter (at process exit, and between tests)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
    _provider = None


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span named ``name`` under the current one (a no-op span when tracing is off)."""
    if _provider is None:
        yield trace.INVALID_SPAN
        return
    tracer = _provider.get_tracer("puente")
    with tracer.start_as_current_span(name) as current:
        request_id = current_request_id()
        if request_id:
            current.set_attribute("puente.request_id", request_id)
        for key, value in attributes.items():
            if value is not None:
                current.set_attribute(key, value)
        yield current
