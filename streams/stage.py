"""A consumer-group stage: fetch a batch, process it, checkpoint now and then.

A checkpoint takes the delivery futures of everything the stage produced since the last one,
the stage's changed state serialised as it is now (:meth:`Stage.changes`) and the offsets
consumed so far; then, while the stage goes on with the next batches, it waits for those acks,
writes the state, waits for its acks and only then commits the offsets. One checkpoint at a
time, in order. A crash anywhere in between replays from the last commit: nothing is lost, and
what the replay produces again is caught downstream (event ids, decision ids, the sent ledger).

Rebalances go through the same lock as batches: a revoked partition is checkpointed before it
goes, an assigned one is set up (:meth:`Stage.assigned`, e.g. its state restored) before any of
its records are processed, and a batch fetched across a rebalance is dropped (the new
assignment fetches it again from the committed offsets).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.structs import OffsetAndMetadata

from nextbest.streams import kafka
from nextbest.streams.kafka import InFlight, Outbox
from nextbest.streams.settings import WorkerSettings

logger = logging.getLogger(__name__)

Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
StateWrite = tuple[str, int, bytes, bytes | None]
"""A changelog record: topic, partition, key, value (None deletes)."""


def in_time_order(batch: Batch) -> Iterator[tuple[TopicPartition, ConsumerRecord[bytes, bytes]]]:
    """A batch's records of every partition merged by their Kafka timestamps, each partition's
    records still in their own order.

    A fetch returns a run of records per partition; taken partition by partition, the records
    of the second partition come after the first's latest, though they happened alongside
    them. Downstream, a customer partition's clock is the latest event time it has seen, so a
    customer's moment could come (a cart reminder) before the event that cancels it (the
    purchase) had its turn. Merged, the skew is at most what separates two fetches.
    """
    runs = [[(tp, record) for record in records] for tp, records in batch.items()]
    if len(runs) == 1:
        yield from runs[0]
        return
    yield from heapq.merge(*runs, key=lambda item: item[1].timestamp)


SLICE_SECONDS = 0.005
"""Longest stretch of work a stage does before it lets the other stages run (see ``pause``):
the event loop is shared, and an event waiting behind a long batch of another stage waits
for all of it."""


class Stage(ConsumerRebalanceListener, ABC):
    name = "stage"
    idle_ms = 100
    """Longest a fetch waits for records before the stage gets a chance to do timed work."""
    quiet = False
    """Its consumer may wait longer on the broker (see ``kafka.consumer``)."""

    def __init__(self, settings: WorkerSettings, topics: Sequence[str],
                 producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.producer = producer
        self.topics = list(topics)
        self.consumer: AIOKafkaConsumer = kafka.consumer(
            settings, group=settings.group(self.name), quiet=self.quiet)
        self.inflight = InFlight()
        self.outbox = Outbox(producer, self.inflight)
        """What a batch produces; flushed after the batch (and before a checkpoint)."""
        self.positions: dict[TopicPartition, int] = {}
        """Next offset to commit per partition (everything before it is processed)."""
        self.lock = asyncio.Lock()
        self.generation = 0
        self.assignment: set[TopicPartition] = set()
        self._checkpointed = time.monotonic()
        self._stopping = False
        self._broken = False
        self._committing: asyncio.Future[None] | None = None
        self._slice_started = time.perf_counter()

    # --- what a stage does ------------------------------------------------------------------

    @abstractmethod
    async def process(self, batch: Batch) -> None:
        """Handle a batch (no other batch or rebalance runs meanwhile). Produce without waiting
        for acks: add each delivery future to ``self.inflight``."""

    async def idle(self) -> None:
        """Called after every fetch, records or not (timed work such as wall-clock sweeps)."""

    async def changes(self) -> list[StateWrite]:
        """The stage's state changed since the last call, serialised now (written once what
        was produced before is acked). Called under the stage's lock: it may yield to other
        stages, its own state does not change meanwhile."""
        return []

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
                    self._rewind(batch)  # fetched across a rebalance: fetch it again
                    continue
                if batch:
                    self._slice_started = time.perf_counter()
                    try:
                        await self.process(batch)
                        await self.outbox.flush()
                    except BaseException:
                        self._broken = True  # never commit past a batch not wholly processed
                        raise
                    for tp, records in batch.items():
                        if records:
                            self.positions[tp] = records[-1].offset + 1
                await self.idle()
                await self.outbox.flush()
                committing = self._committing
                if committing is not None and committing.done() and committing.exception():
                    self._broken = True
                    raise RuntimeError(f"{self.name}: checkpoint failed") from (
                        committing.exception())
                if time.monotonic() - self._checkpointed >= self.settings.commit_interval_seconds:
                    await self.begin_checkpoint()

    async def pause(self) -> None:
        """Within a long batch: send what it produced so far and let the other stages run,
        once every ``SLICE_SECONDS`` of work (a batch is processed under the lock, so nothing
        else of this stage runs meanwhile)."""
        now = time.perf_counter()
        if now - self._slice_started >= SLICE_SECONDS:
            await self.outbox.flush()
            await asyncio.sleep(0)
            self._slice_started = time.perf_counter()

    def _rewind(self, batch: Batch) -> None:
        """Put the consumer back at the start of a batch left unprocessed. Records fetched
        before a rebalance would be fetched again anyway (a new assignment starts from the
        committed offsets), but records fetched for the new assignment before its callback ran
        would be skipped."""
        assigned = self.consumer.assignment()
        for tp, records in batch.items():
            if records and tp in assigned:
                self.consumer.seek(tp, records[0].offset)

    async def checkpoint(self) -> None:
        """Everything processed so far acked, written and committed when this returns."""
        await self.begin_checkpoint()
        await self.finish_checkpoint()

    async def begin_checkpoint(self) -> None:
        if self._broken:
            return
        await self.finish_checkpoint()  # one at a time, in order
        await self.outbox.flush()
        futures = self.inflight.take()
        writes = await self.changes()
        offsets = {tp: OffsetAndMetadata(offset, "") for tp, offset in self.committable().items()
                   if tp in self.assignment}
        self._committing = asyncio.ensure_future(self._commit(futures, writes, offsets))
        self._checkpointed = time.monotonic()

    async def finish_checkpoint(self) -> None:
        committing, self._committing = self._committing, None
        if committing is not None:
            try:
                await committing
            except BaseException:
                self._broken = True
                raise

    async def _commit(self, futures: list[asyncio.Future[Any]], writes: list[StateWrite],
                      offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        if futures:
            await asyncio.gather(*futures)
        state = InFlight()
        outbox = Outbox(self.producer, state)
        for topic, partition, key, value in writes:
            outbox.add(topic, partition, key, value)
        await outbox.flush()
        await state.settle()
        if offsets:
            await self.consumer.commit(offsets)

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
