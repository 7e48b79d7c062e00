"""Publishes the simulated shop's traffic to Kafka at a steady rate (``nextbest simulate``)."""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from nextbest.codec import Codec
from nextbest.simulation import MalformedMessage, Shop, SimEvent
from nextbest.streams.settings import WorkerSettings

logger = logging.getLogger(__name__)


@dataclass
class PublishStats:
    sent: int = 0
    malformed: int = 0
    by_family: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.sent / elapsed if elapsed > 0 else 0.0


class TrafficPublisher:
    """Encodes messages (Avro, or JSON for a share) and sends them at ``rate`` per second."""

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        codec: Codec | None = None,
        json_share: float = 0.2,
        on_sent: Callable[[str, SimEvent, float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.codec = codec or Codec()
        self.json_share = json_share
        self.on_sent = on_sent
        self.stats = PublishStats()
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> TrafficPublisher:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_broker, linger_ms=0, acks=1
        )
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._producer is not None:
            await self._producer.stop()

    def encode(self, message: SimEvent) -> bytes:
        # Deterministic share of JSON producers: the event id decides, not a random draw.
        event_id = str(message.event.get("event_id", "")).encode()
        as_json = zlib.crc32(event_id) % 1000 < self.json_share * 1000
        if as_json:
            return self.codec.encode_json(message.family, message.event)
        return self.codec.encode(message.family, message.event)

    async def send(self, message: SimEvent | MalformedMessage) -> None:
        producer = self._producer
        if producer is None:
            raise RuntimeError("use TrafficPublisher as an async context manager")
        topic = self.settings.input_topic(message.family)
        if isinstance(message, MalformedMessage):
            await producer.send(topic, key=message.key, value=message.value)
            self.stats.malformed += 1
        else:
            sent_at = time.time()
            await producer.send(topic, key=message.key.encode(), value=self.encode(message))
            if self.on_sent is not None:
                self.on_sent(topic, message, sent_at)
        self.stats.sent += 1
        self.stats.by_family[message.family] = self.stats.by_family.get(message.family, 0) + 1

    async def publish(
        self,
        messages: Iterator[SimEvent | MalformedMessage],
        *,
        rate: float,
        duration: float | None = None,
        limit: int | None = None,
        stop: asyncio.Event | None = None,
    ) -> PublishStats:
        """Send at ``rate`` messages/s (paced in small batches) until duration, limit or stop."""
        started = time.monotonic()
        batch = max(1, int(rate / 100))
        for sent, message in enumerate(messages):
            if limit is not None and sent >= limit:
                break
            if stop is not None and stop.is_set():
                break
            elapsed = time.monotonic() - started
            if duration is not None and elapsed >= duration:
                break
            await self.send(message)
            if sent % batch == batch - 1:
                ahead = (sent + 1) / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        if self._producer is not None:
            await self._producer.flush()
        return self.stats


async def simulate(
    settings: WorkerSettings,
    *,
    rate: float,
    duration: float | None,
    seed: int,
    customers: int,
    malformed_share: float,
    start_time_ms: int | None = None,
) -> PublishStats:
    shop = Shop(
        seed=seed,
        customers=customers,
        malformed_share=malformed_share,
        start_time_ms=start_time_ms if start_time_ms is not None else int(time.time() * 1000),
    )
    async with TrafficPublisher(settings) as publisher:
        for item in shop.catalog():
            await publisher.send(item)
        return await publisher.publish(shop.events(), rate=rate, duration=duration)
