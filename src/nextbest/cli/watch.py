"""Watches what the pipeline emits - decisions and dead letters - and matches each decision to
the event that caused it, for the demo's live summary and for ``nextbest bench``."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer

from nextbest.codec import Codec
from nextbest.streams.deadletter import REASON
from nextbest.streams.settings import DECISION_TYPES, WorkerSettings


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5)
    2.0
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Observed:
    decisions: Counter[str] = field(default_factory=Counter)
    deadletters: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    examples: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=5))
    decision_ids: Counter[str] = field(default_factory=Counter)
    unmatched: int = 0
    time_driven: int = 0

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.decision_ids.values() if n > 1)


class PipelineWatcher:
    """Consumes decision topics and the dead-letter topic from their end (or the beginning)."""

    def __init__(self, settings: WorkerSettings, *, from_beginning: bool = False) -> None:
        self.settings = settings
        self.codec = Codec()
        self.observed = Observed()
        self.sent_at: dict[str, float] = {}
        self.from_beginning = from_beginning
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    def event_sent(self, event_id: str, at: float) -> None:
        self.sent_at[event_id] = at

    async def start(self) -> None:
        topics = [self.settings.decision_topic(t) for t in DECISION_TYPES]
        topics.append(self.settings.deadletter_topic)
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=self.settings.kafka_broker,
            group_id=f"nextbest-watch-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest" if self.from_beginning else "latest",
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
        )
        await self._consumer.start()
        # Make sure partitions are assigned before traffic starts, so nothing is missed.
        while not self._consumer.assignment():
            await asyncio.sleep(0.05)
        for tp in self._consumer.assignment():
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        async for message in consumer:
            received = time.time()
            if message.topic == self.settings.deadletter_topic:
                reason = dict(message.headers or ()).get(REASON, b"unknown").decode()
                self.observed.deadletters[reason] += 1
                continue
            self.on_decision(self.codec.decode_decision(message.value), received)

    def on_decision(self, record: dict[str, Any], received: float) -> None:
        observed = self.observed
        observed.decisions[record["decision_type"]] += 1
        observed.decision_ids[record["decision_id"]] += 1
        observed.examples.append(record)
        if record["decided_at"] != record["causing_event_time"]:
            observed.time_driven += 1  # woken by the clock: no event to measure from
            return
        sent = self.sent_at.get(record["causing_event_id"])
        if sent is None:
            observed.unmatched += 1
        else:
            observed.latencies_ms.append((received - sent) * 1000)
