"""Reading a service's /metrics the way Prometheus does."""

import requests
from prometheus_client.parser import text_string_to_metric_families


def scrape(base_url: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of every sample /metrics exposes."""
    text = requests.get(f"{base_url}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    """One sample's value, 0 when the series does not exist yet."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
