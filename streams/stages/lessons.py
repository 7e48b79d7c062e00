"""Shared learning: every worker's models learn what every other worker's events taught.

The customer stage steps the events of the partitions it owns; what each taught the models (a
lesson: see :class:`nextbest.models.suite.ModelSuite`) is learnt there at once and published to
``nextbest.model-lessons``, in the same record batches as the decisions it made. Every worker
reads every partition of that topic (no consumer group) and learns the lessons of the others;
it does not read the partitions it steps itself (their lessons are its own: ``own`` and
``release`` follow the customer stage's assignment). So the models of each worker learn from
every customer, adding a worker changes what they learn only in the order lessons interleave,
and a worker that takes partitions over finds its models already know those customers: pending
churn snapshots included, so no false "lapsed" labels.

Where a worker's models stand on the topic (``ModelSuite.lesson_offsets``) is part of their
checkpoint: a worker that restores a checkpoint - its own or another's, the newest wins - reads
on from there before it steps anything. Learning is at least once: lessons published after a
checkpoint by the worker that wrote it are learnt again by a worker restoring it, as are the
lessons of events replayed after a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from nextbest.streams import kafka

if TYPE_CHECKING:
    from nextbest.streams.pipeline import Pipeline

logger = logging.getLogger(__name__)


class LessonReplica:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._client: AIOKafkaConsumer | None = None
        self.learnt = 0
        self.owned: set[int] = set()
        """Customer partitions this worker steps: their lessons are its own, not read back."""

    async def start(self) -> None:
        """Catch up from where the restored models stand (the whole topic without a
        checkpoint) to the topic's end, before the worker steps anything."""
        settings = self.pipeline.settings
        client = self._client = kafka.consumer(settings, group=None, quiet=True)
        await client.start()
        tps = await kafka.topic_partitions(client, settings.lesson_topic)
        client.assign(tps)
        await self._catch_up(client, tps)
        logger.info("lesson replica caught up: %d lessons of other workers learnt", self.learnt)

    async def own(self, partitions: Iterable[int]) -> None:
        """This worker now steps these customer partitions, and writes their lessons: learn
        what is left on them (the previous owner's, flushed before it let them go), then stop
        reading them - what comes there now is this worker's own, learnt already."""
        assert self._client is not None
        settings = self.pipeline.settings
        tps = [TopicPartition(settings.lesson_topic, p) for p in sorted(set(partitions))
               if p not in self.owned]
        if not tps:
            return
        self._client.pause(*tps)  # the loop gets nothing more of them: caught up here
        catch_up = kafka.consumer(settings, group=None)
        await catch_up.start()
        try:
            catch_up.assign(tps)
            await self._catch_up(catch_up, tps)
        finally:
            await catch_up.stop()
        self.owned.update(tp.partition for tp in tps)

    async def release(self, partitions: Iterable[int]) -> None:
        """Another worker steps these partitions now: read on from their end (this worker's
        own lessons there, flushed by the checkpoint that let them go, are learnt already)."""
        assert self._client is not None
        topic = self.pipeline.settings.lesson_topic
        tps = [TopicPartition(topic, p) for p in sorted(set(partitions)) if p in self.owned]
        if not tps:
            return
        await self.mark_owned_ends()
        for tp in tps:
            self._client.seek(tp, self.pipeline.engine.models.lesson_offsets[tp.partition])
        self._client.resume(*tps)
        self.owned.difference_update(tp.partition for tp in tps)

    async def mark_owned_ends(self) -> None:
        """Before a model checkpoint: the models stand at the end of the partitions this
        worker writes (what is still in flight there is learnt again by whoever restores it)."""
        if not self.owned or self._client is None:
            return
        topic, models = self.pipeline.settings.lesson_topic, self.pipeline.engine.models
        tps = [TopicPartition(topic, p) for p in self.owned]
        for tp, end in (await self._client.end_offsets(tps)).items():
            models.lesson_offsets[tp.partition] = end

    async def _catch_up(self, client: AIOKafkaConsumer, tps: list[TopicPartition]) -> None:
        """Learn ``tps`` (assigned to ``client``) from where the models stand to their end."""
        models = self.pipeline.engine.models
        starts = dict(await client.beginning_offsets(tps))
        for tp in tps:
            at = models.lesson_offsets.get(tp.partition, starts[tp])
            if at < starts[tp]:
                logger.warning("lessons of %s[%d] before offset %d have expired: the models "
                               "missed %d of them", tp.topic, tp.partition, starts[tp],
                               starts[tp] - at)
                at = starts[tp]
            client.seek(tp, at)
        ends = dict(await client.end_offsets(tps))
        remaining = {tp for tp in tps if await client.position(tp) < ends[tp]}
        while remaining:
            for records in (await client.getmany(*remaining, timeout_ms=1000)).values():
                self.apply(records)
            remaining = {tp for tp in remaining if await client.position(tp) < ends[tp]}

    def apply(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        models, me = self.pipeline.engine.models, self.pipeline.instance
        for record in records:
            models.lesson_offsets[record.partition] = record.offset + 1
            if record.value is None:
                continue
            try:
                lesson = orjson.loads(record.value)
                if lesson.pop("w", None) == me:
                    continue  # learnt when it was stepped here
                models.learn(lesson)
                self.learnt += 1
            except Exception:
                logger.exception("lesson %s[%d]@%d not learnt", record.topic, record.partition,
                                 record.offset)

    async def run(self) -> None:
        assert self._client is not None
        while True:
            for records in (await self._client.getmany(timeout_ms=1000)).values():
                self.apply(records)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.stop()
