"""Reading Prometheus exposition text in tests, the way a scraper does."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["sample_value"]


def sample_value(text: str | Iterable[str], name: str, **labels: str) -> float | None:
    """The value of sample ``name`` with exactly ``labels``, or None when it is absent."""
    if not isinstance(text, str):
        text = "\n".join(text) + "\n"
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None
