"""What a running worker says about itself: its Prometheus ``/metrics`` and its ``/models``
statistics, read over HTTP (for the demo's live view)."""

from __future__ import annotations

import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class MetricSamples:
    """The samples of one scrape: name -> [(labels, value)]."""

    samples: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)

    def total(self, name: str) -> float:
        """The sum of a sample name over all its labels (0 when absent).

        >>> parse_metrics('nextbest_events_in_total{family="review"} 2.0\\n'
        ...               'nextbest_events_in_total{family="purchase"} 3.0\\n'
        ...               ).total("nextbest_events_in_total")
        5.0
        """
        return sum(value for _, value in self.samples.get(name, ()))

    def by(self, name: str, *labels: str) -> dict[tuple[str, ...], float]:
        """A sample name summed by some of its labels.

        >>> parse_metrics('x_total{family="a",reason="r"} 1.0\\nx_total{family="b",reason="r"} 2.0'
        ...               ).by("x_total", "reason")
        {('r',): 3.0}
        """
        summed: dict[tuple[str, ...], float] = defaultdict(float)
        for found, value in self.samples.get(name, ()):
            summed[tuple(found.get(label, "") for label in labels)] += value
        return dict(summed)


def parse_metrics(text: str) -> MetricSamples:
    samples: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name].append((dict(sample.labels), float(sample.value)))
    return MetricSamples(dict(samples))


@dataclass(frozen=True)
class WorkerReading:
    """One look at a worker: when (monotonic seconds), its metrics, its models' statistics
    (None when ``/models`` did not answer in time)."""

    at: float
    metrics: MetricSamples
    models: dict[str, Any] | None


def read_worker(url: str, *, timeout: float = 2.0) -> WorkerReading | None:
    """Scrape ``url``'s /metrics and /models; None when the worker does not answer /metrics."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=timeout) as response:
            metrics = parse_metrics(response.read().decode())
    except OSError:
        return None
    at = time.monotonic()
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=timeout) as response:
            models = orjson.loads(response.read())
    except (OSError, orjson.JSONDecodeError):
        models = None
    return WorkerReading(at, metrics, models)
