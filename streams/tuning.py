"""Latency tuning of Faust's Kafka consumer.

Faust builds its aiokafka consumer with ``fetch_max_wait_ms=1500`` and no setting to change it.
aiokafka sends one fetch at a time per broker, leaving out partitions that still hold buffered
records; data arriving on those partitions waits for the in-flight fetch to return - up to the
full wait when the other partitions are quiet. At our rates that showed as 100-400 ms per hop.
A short wait bounds it, at the price of more (cheap) empty fetches on an idle broker.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

_applied: dict[str, int] = {}


def bound_fetch_wait(max_wait_ms: int) -> None:
    """Make every Faust worker consumer created from now on wait at most ``max_wait_ms``."""
    _applied["fetch_max_wait_ms"] = max_wait_ms
    if getattr(faust_aiokafka.AIOKafkaConsumerThread, "_nextbest_tuned", False):
        return
    original = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        # Read by aiokafka when the consumer starts and builds its fetcher.
        consumer._fetch_max_wait_ms = _applied["fetch_max_wait_ms"]
        return consumer

    target = faust_aiokafka.AIOKafkaConsumerThread
    setattr(target, "_create_worker_consumer", create_worker_consumer)  # noqa: B010
    setattr(target, "_nextbest_tuned", True)  # noqa: B010
