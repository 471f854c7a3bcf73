"""Reading Prometheus exposition text in tests, the way a scraper does."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["SCRAPER_TOKEN", "authorise_scraper", "sample_value", "scrape"]


def sample_value(text: str | Iterable[str], name: str, **labels: str) -> float | None:
    """The value of sample ``name`` with exactly ``labels``, or None when it is absent."""
    if not isinstance(text, str):
        text = "\n".join(text) + "\n"
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


SCRAPER_TOKEN = "test-scraper-token-0123456789"


def authorise_scraper(runtime) -> None:
    """Give the runtime a metrics token (``/metrics`` is closed without one under serve)."""
    runtime.settings = runtime.settings.with_overrides(metrics_token=SCRAPER_TOKEN)


async def scrape(client) -> str:
    """``GET /metrics`` as an authorised Prometheus would."""
    response = await client.get("/metrics", headers={"authorization": f"Bearer {SCRAPER_TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text
