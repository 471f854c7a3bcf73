"""OpenTelemetry: with an exporter configured, requests and webhook processing are spans."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.support.http import app_client

from puente.observability.tracing import configure_tracing, shutdown_tracing, span

pytestmark = pytest.mark.anyio


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    configure_tracing(None, exporter=exporter)
    yield exporter
    shutdown_tracing()


async def test_an_http_request_is_a_span_named_by_its_route(db, runtime, spans):
    async with app_client(runtime, run_workers=False) as client:
        response = await client.get("/prestamos/42", headers={"x-request-id": "trace-me-1234"})
    (request_span,) = [s for s in spans.get_finished_spans() if s.name.startswith("GET ")]
    assert request_span.name == "GET /prestamos/{loan_id:int}"
    assert request_span.attributes["http.response.status_code"] == response.status_code
    assert request_span.attributes["puente.request_id"] == "trace-me-1234"


def test_without_configuration_nothing_is_recorded():
    configure_tracing(None)
    with span("work") as current:
        assert not current.is_recording()
