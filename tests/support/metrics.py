"""Reading a Prometheus scrape in tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(exposition: bytes | str) -> Samples:
    """Every sample of a scrape by (name, labels)."""
    text = exposition.decode() if isinstance(exposition, bytes) else exposition
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    """One sample's value; KeyError when the scrape does not have it."""
    return found[(name, frozenset(labels.items()))]
