"""A consumer-group stage: fetch a batch, process it, checkpoint now and then.

A checkpoint waits for the broker's acks of everything the stage produced since the last one,
lets the stage write its own state (:meth:`Stage.persist`), and only then commits the offsets
it consumed. A crash anywhere in between replays from the last commit: nothing is lost, and
what the replay produces again is caught downstream (event ids, decision ids, the sent ledger).

Rebalances go through the same lock as batches: a revoked partition is checkpointed before it
goes, an assigned one is set up (:meth:`Stage.assigned`, e.g. its state restored) before any of
its records are processed, and a batch fetched across a rebalance is dropped (the new
assignment fetches it again from the committed offsets).
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.structs import OffsetAndMetadata

from streams import kafka
from streams.kafka import InFlight
from streams.settings import WorkerSettings

logger = logging.getLogger(__name__)

Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


class Stage(ConsumerRebalanceListener, ABC):
    name = "stage"
    idle_ms = 100
    """Longest a fetch waits for records before the stage gets a chance to do timed work."""

    def __init__(self, settings: WorkerSettings, topics: Sequence[str]) -> None:
        self.settings = settings
        self.topics = list(topics)
        self.consumer: AIOKafkaConsumer = kafka.consumer(settings, group=settings.group(self.name))
        self.inflight = InFlight()
        self.positions: dict[TopicPartition, int] = {}
        """Next offset to commit per partition (everything before it is processed)."""
        self.lock = asyncio.Lock()
        self.generation = 0
        self.assignment: set[TopicPartition] = set()
        self._checkpointed = time.monotonic()
        self._stopping = False
        self._broken = False

    # --- what a stage does ------------------------------------------------------------------

    @abstractmethod
    async def process(self, batch: Batch) -> None:
        """Handle a batch (no other batch or rebalance runs meanwhile). Produce without waiting
        for acks: add each delivery future to ``self.inflight``."""

    async def idle(self) -> None:
        """Called after every fetch, records or not (timed work such as wall-clock sweeps)."""

    async def persist(self) -> None:
        """Write the stage's changed state (after every produced message was acked)."""

    def committable(self) -> dict[TopicPartition, int]:
        return dict(self.positions)

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        """Set up newly assigned partitions before their records are processed."""

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        """Let go of partitions (already checkpointed)."""

    # --- the loop ---------------------------------------------------------------------------

    async def start(self) -> None:
        self.consumer.subscribe(self.topics, listener=self)
        await self.consumer.start()

    async def run(self) -> None:
        while not self._stopping:
            generation = self.generation
            batch = await self.consumer.getmany(
                timeout_ms=self.idle_ms, max_records=self.settings.batch_max_records)
            async with self.lock:
                if generation != self.generation or self._stopping:
                    continue  # fetched across a rebalance: the new assignment refetches it
                if batch:
                    try:
                        await self.process(batch)
                    except BaseException:
                        self._broken = True  # never commit past a batch not wholly processed
                        raise
                    for tp, records in batch.items():
                        if records:
                            self.positions[tp] = records[-1].offset + 1
                await self.idle()
                if time.monotonic() - self._checkpointed >= self.settings.commit_interval_seconds:
                    await self.checkpoint()

    async def checkpoint(self) -> None:
        if self._broken:
            return
        await self.inflight.settle()
        await self.persist()
        await self.inflight.settle()
        offsets = {tp: OffsetAndMetadata(offset, "") for tp, offset in self.committable().items()
                   if tp in self.assignment}
        if offsets:
            await self.consumer.commit(offsets)
        self._checkpointed = time.monotonic()

    def request_stop(self) -> None:
        """The loop ends after the batch in hand (call :meth:`stop` once it has)."""
        self._stopping = True

    async def stop(self) -> None:
        """Checkpoint what was processed and leave the group."""
        self._stopping = True
        try:
            async with self.lock:
                await self.checkpoint()
        finally:
            await self.consumer.stop()

    # --- rebalance listener -----------------------------------------------------------------

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.generation += 1
        async with self.lock:
            if revoked and not self._stopping:
                await self.checkpoint()
            await self.revoked(set(revoked))
            for tp in revoked:
                self.positions.pop(tp, None)
            self.assignment -= set(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.generation += 1
        async with self.lock:
            self.assignment |= set(assigned)
            await self.assigned(set(assigned))
            logger.info("%s: assigned %s", self.name,
                        sorted((tp.topic, tp.partition) for tp in assigned))
